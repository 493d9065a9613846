-- The keys each live placement (and each Destination's canary files) wants in its
-- store. A submit checks a placement's keys against the other claims of the store
-- (same key, or one a parent directory of the other) and answers 409 on a clash,
-- so a conflict is never found at write time. Writers read the claims to never
-- delete a key another placement wants. Owned directories (nestedByMetadata,
-- legacy) are claimed by their path without the trailing "/"; aggregatedYAML
-- targets are shared by the placements of one Destination.
CREATE TABLE claims (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    store_kind   TEXT NOT NULL,
    store_name   TEXT NOT NULL,
    key          TEXT NOT NULL,
    placement_id INTEGER REFERENCES placements (id) ON DELETE CASCADE,
    canary_id    INTEGER REFERENCES canaries (id) ON DELETE CASCADE,
    shared       BOOLEAN NOT NULL DEFAULT FALSE,
    dir          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX claims_key ON claims (tenant_id, store_kind, store_name, key);
CREATE INDEX claims_placement ON claims (placement_id);
CREATE INDEX claims_canary ON claims (canary_id);

INSERT INTO claims (tenant_id, store_kind, store_name, key, placement_id, shared)
SELECT p.tenant_id, p.store_kind, p.store_name, j.value, p.id, p.mode = 'aggregatedYAML'
FROM placements p, json_each(p.paths) j WHERE p.intent = 'write';

INSERT INTO claims (tenant_id, store_kind, store_name, key, placement_id, dir)
SELECT p.tenant_id, p.store_kind, p.store_name, rtrim(json_extract(p.plan, '$.ownedPrefix'), '/'), p.id, TRUE
FROM placements p WHERE p.intent = 'write' AND COALESCE(json_extract(p.plan, '$.ownedPrefix'), '') <> '';

INSERT INTO claims (tenant_id, store_kind, store_name, key, canary_id, shared)
SELECT c.tenant_id, c.store_kind, c.store_name, json_extract(j.value, '$.path'), c.id, FALSE
FROM canaries c, json_each(c.files) j WHERE c.intent = 'write';

-- A job's claim carries a random lease token, so two workers of one process can
-- never both hold it.
ALTER TABLE jobs ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';

-- A placement whose write can never succeed as submitted (an invalid tree, content
-- the remote refuses) is stuck: it keeps its error and is not retried until the
-- Work is submitted again or deleted, so it never holds back the rest of its store.
ALTER TABLE placements ADD COLUMN stuck BOOLEAN NOT NULL DEFAULT FALSE;

-- A push that was started and whose outcome is unknown (the worker died, or the
-- connection broke while the remote received it) may still land later: the next
-- write of that store moves the branch even if it changes nothing (a fence), so
-- the late push fails its compare-and-swap.
ALTER TABLE git_stores ADD COLUMN push_in_doubt BOOLEAN NOT NULL DEFAULT FALSE;

-- A Destination's dashboard page lists its placements by name and its latest
-- writes, one index range each, however many placements it holds.
CREATE INDEX placements_destination_name ON placements (tenant_id, destination_name, name);
CREATE INDEX placements_destination_updated ON placements (tenant_id, destination_name, updated_at);
