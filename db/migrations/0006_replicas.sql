-- State shared by replicas. A periodic sweep (readiness, re-assert, pruning) runs
-- once per period across replicas: the one that takes the turn records it here.
CREATE TABLE sweeps (
    name   TEXT PRIMARY KEY,
    owner  TEXT NOT NULL,
    ran_at TIMESTAMP NOT NULL
);

-- A webhook trigger's rate limit (GCRA): the theoretical arrival time of the next
-- delivery, in microseconds since the Unix epoch.
ALTER TABLE triggers ADD COLUMN rate_tat INTEGER NOT NULL DEFAULT 0;
