-- State Stores, Destinations, Secrets and sealed credentials.
CREATE TABLE git_stores (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    branch         TEXT NOT NULL,
    path           TEXT NOT NULL DEFAULT '',
    secret_ref     TEXT NOT NULL DEFAULT '',
    auth_method    TEXT NOT NULL,
    author_name    TEXT NOT NULL,
    author_email   TEXT NOT NULL DEFAULT '',
    insecure       BOOLEAN NOT NULL DEFAULT FALSE,
    ca_bundle      TEXT NOT NULL DEFAULT '',
    ready          BOOLEAN,
    status_message TEXT NOT NULL DEFAULT '',
    last_checked   TIMESTAMP,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE bucket_stores (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    bucket_name    TEXT NOT NULL,
    path           TEXT NOT NULL DEFAULT '',
    insecure       BOOLEAN NOT NULL DEFAULT FALSE,
    region         TEXT NOT NULL DEFAULT '',
    secret_ref     TEXT NOT NULL DEFAULT '',
    auth_method    TEXT NOT NULL,
    ready          BOOLEAN,
    status_message TEXT NOT NULL DEFAULT '',
    last_checked   TIMESTAMP,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE destinations (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    labels         TEXT NOT NULL DEFAULT '{}',
    path           TEXT NOT NULL,
    store_kind     TEXT NOT NULL,
    store_name     TEXT NOT NULL,
    strict_match   BOOLEAN NOT NULL DEFAULT FALSE,
    mode           TEXT NOT NULL,
    filename       TEXT NOT NULL DEFAULT '',
    cleanup        TEXT NOT NULL DEFAULT 'none',
    init_workloads BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX destinations_store ON destinations (tenant_id, store_kind, store_name);

-- Kubernetes Secrets pasted with Kratix YAML: only their names live here; their
-- values are rows of credentials with owner_kind 'secret'.
CREATE TABLE secrets (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, name)
);

-- Every secret value, sealed with AES-256-GCM and bound to tenant, owner and field.
CREATE TABLE credentials (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    owner_kind TEXT NOT NULL,
    owner_id   INTEGER NOT NULL,
    field      TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, owner_kind, owner_id, field)
);
