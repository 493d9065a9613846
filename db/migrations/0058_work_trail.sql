-- Every commit says who asked for what (issue 25).
--
-- A Work remembers who submitted it last, as the audit log names them
-- (requested_by: a person's email, a token's or a trigger's name; requester_kind
-- person, token or trigger), the person's display name when known, the request's
-- correlation id (its Idempotency-Key, else its X-Request-Id) and its labels
-- (JSON object). The writers put them in commit trailers and object metadata.
ALTER TABLE works ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE works ADD COLUMN requester_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE works ADD COLUMN requester_name TEXT NOT NULL DEFAULT '';
ALTER TABLE works ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE works ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';

-- The versions (commit SHAs, bucket content versions) that carried each
-- generation of a placement, newest last; FinishJob keeps the last 50 per
-- placement.
CREATE TABLE work_versions (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    work_id      INTEGER NOT NULL REFERENCES works (id) ON DELETE CASCADE,
    placement_id INTEGER NOT NULL REFERENCES placements (id) ON DELETE CASCADE,
    generation   INTEGER NOT NULL,
    version      TEXT NOT NULL,
    proposed     BOOLEAN NOT NULL DEFAULT FALSE,
    written_at   TIMESTAMP NOT NULL
);
CREATE INDEX work_versions_work ON work_versions (tenant_id, work_id, id);
CREATE INDEX work_versions_placement ON work_versions (placement_id, id);

-- A Git store's commit message template (spec.commitMessage, '' for the
-- default message) and whether a Work's requester authors the commit
-- (spec.authorFromRequester).
ALTER TABLE git_stores ADD COLUMN commit_message TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN author_from_requester BOOLEAN NOT NULL DEFAULT FALSE;
