-- Works, their placements on Destinations, canary files, and the durable job queue.
CREATE TABLE works (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    promise         TEXT NOT NULL,
    res_namespace   TEXT NOT NULL DEFAULT '',
    res_name        TEXT NOT NULL DEFAULT '',
    pipeline        TEXT NOT NULL DEFAULT '',
    workload_groups TEXT NOT NULL DEFAULT '[]',
    unscheduled     TEXT NOT NULL DEFAULT '[]',
    trigger_id      INTEGER,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, promise, res_namespace, res_name, pipeline)
);
CREATE INDEX works_updated ON works (tenant_id, updated_at);

-- One workload group of a Work on one Destination. plan is the exact layout
-- (pathing.Plan as JSON, contents included) computed when it was scheduled;
-- written_keys / written_prefix are what the last successful write left in the store.
-- intent 'delete' rows are removed once their files are gone.
CREATE TABLE placements (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    work_id          INTEGER NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    group_index      INTEGER NOT NULL,
    directory        TEXT NOT NULL,
    destination_id   INTEGER NOT NULL,
    destination_name TEXT NOT NULL,
    mode             TEXT NOT NULL,
    store_kind       TEXT NOT NULL,
    store_name       TEXT NOT NULL,
    name             TEXT NOT NULL,
    paths            TEXT NOT NULL DEFAULT '[]',
    plan             TEXT NOT NULL,
    plan_hash        TEXT NOT NULL,
    intent           TEXT NOT NULL DEFAULT 'write' CHECK (intent IN ('write', 'delete')),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'writing', 'written', 'failed')),
    generation       INTEGER NOT NULL DEFAULT 1,
    job_id           INTEGER,
    version          TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    misplaced        BOOLEAN NOT NULL DEFAULT FALSE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    written_keys     TEXT NOT NULL DEFAULT '[]',
    written_prefix   TEXT NOT NULL DEFAULT '',
    updated_at       TIMESTAMP NOT NULL,
    written_at       TIMESTAMP,
    UNIQUE (work_id, group_index, destination_id)
);
CREATE INDEX placements_store ON placements (tenant_id, store_kind, store_name, state);
CREATE INDEX placements_destination ON placements (tenant_id, destination_id);
CREATE INDEX placements_updated ON placements (tenant_id, updated_at);

-- The canary files of a Destination (initWorkloads), written and removed through
-- the same jobs as placements.
CREATE TABLE canaries (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    destination_id   INTEGER NOT NULL,
    destination_name TEXT NOT NULL,
    store_kind       TEXT NOT NULL,
    store_name       TEXT NOT NULL,
    files            TEXT NOT NULL,
    intent           TEXT NOT NULL CHECK (intent IN ('write', 'delete')),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'writing', 'written', 'failed')),
    generation       INTEGER NOT NULL DEFAULT 1,
    job_id           INTEGER,
    error            TEXT NOT NULL DEFAULT '',
    written_keys     TEXT NOT NULL DEFAULT '[]',
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, destination_id)
);
CREATE INDEX canaries_store ON canaries (tenant_id, store_kind, store_name, state);

-- One row per write of one store. At most one job per store is queued (the partial
-- unique index), so a burst of Works coalesces into one write; claiming picks a
-- queued job whose store has no running job, or a running job whose lease expired.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    store_kind   TEXT NOT NULL,
    store_name   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    full_rewrite BOOLEAN NOT NULL DEFAULT FALSE,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after    TIMESTAMP NOT NULL,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    version      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP
);
CREATE UNIQUE INDEX jobs_one_queued ON jobs (tenant_id, store_kind, store_name) WHERE state = 'queued';
CREATE INDEX jobs_claim ON jobs (state, run_after);
CREATE INDEX jobs_store ON jobs (tenant_id, store_kind, store_name, state);
