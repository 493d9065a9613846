-- Webhook triggers, their deliveries (audit) and idempotency keys.
CREATE TABLE triggers (
    id                  INTEGER PRIMARY KEY,
    tenant_id           INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    promise             TEXT NOT NULL DEFAULT '',
    require_signature   BOOLEAN NOT NULL DEFAULT FALSE,
    rate_per_second     REAL NOT NULL DEFAULT 0,
    token_hash          TEXT NOT NULL UNIQUE,
    -- The signing secret and, for 24 h after a rotation, the previous one: sealed,
    -- since verifying an HMAC needs the secret itself.
    secret_sealed       TEXT NOT NULL,
    previous_sealed     TEXT NOT NULL DEFAULT '',
    previous_expires_at TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    last_used_at        TIMESTAMP,
    revoked_at          TIMESTAMP,
    UNIQUE (tenant_id, name)
);

CREATE TABLE trigger_deliveries (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    trigger_id INTEGER NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    at         TIMESTAMP NOT NULL,
    source_ip  TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL,
    work_id    INTEGER,
    error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX trigger_deliveries_trigger ON trigger_deliveries (tenant_id, trigger_id, id);

CREATE TABLE idempotency_keys (
    trigger_id INTEGER NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    status     INTEGER NOT NULL,
    response   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (trigger_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
