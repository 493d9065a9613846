-- A placement whose write failed for a reason that may pass (the remote down,
-- refused credentials) is 'retrying', no longer 'failed': 'failed' is kept for a
-- placement the store refused for its content, which is not retried until its
-- Work is submitted again. 'proposed' and 'rejected' are reserved for
-- pull-request stores, so that the set of states stays stable.
ALTER TABLE placements DROP CONSTRAINT placements_state_check;
ALTER TABLE placements ADD CONSTRAINT placements_state_check
    CHECK (state IN ('pending', 'writing', 'retrying', 'written', 'failed', 'proposed', 'rejected'));
UPDATE placements SET state = 'retrying' WHERE state = 'failed' AND NOT stuck;
