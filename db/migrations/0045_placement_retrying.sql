-- A placement whose write failed for a reason that may pass (the remote down,
-- refused credentials) is 'retrying', no longer 'failed': 'failed' is kept for a
-- placement the store refused for its content, which is not retried until its
-- Work is submitted again. 'proposed' and 'rejected' are reserved for
-- pull-request stores, so that the set of states stays stable.
--
-- SQLite cannot change a CHECK constraint in place: the column is renamed,
-- re-added with the new constraint, filled, and the old one dropped (with the two
-- indexes on it, recreated after).
DROP INDEX placements_store;
DROP INDEX placements_state_work;
ALTER TABLE placements RENAME COLUMN state TO state_before_0045;
ALTER TABLE placements ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'writing', 'retrying', 'written', 'failed', 'proposed', 'rejected'));
UPDATE placements SET state = CASE WHEN state_before_0045 = 'failed' AND NOT stuck THEN 'retrying' ELSE state_before_0045 END;
ALTER TABLE placements DROP COLUMN state_before_0045;
CREATE INDEX placements_store ON placements (tenant_id, store_kind, store_name, state);
CREATE INDEX placements_state_work ON placements (tenant_id, state, work_id);
