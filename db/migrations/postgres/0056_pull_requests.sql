-- PostgreSQL twin of ../0056_pull_requests.sql (TestSchemasMatch).
-- Pull-request stores (GitStateStore spec.pullRequest): every write goes through
-- one pull request from a head branch into the store's branch.
--
-- git_stores.pull_request is the spec (JSON, '' for a store that pushes);
-- hook_id names the store in its webhook URL (/hooks/git/<hook_id>). The pr_*
-- columns are the store's pull request as Stateward last saw it: its number and
-- page (0 and '' when none is open), pr_chain the head commits Stateward pushed
-- to it, oldest first (a merge or close says which head it took, and so which
-- placements it carried), pr_reset asks the next write to start the head branch
-- again from the base (after a close), pr_warning stops updates (a commit by
-- someone else on the head branch), pr_error the host's answer to the last call
-- that failed, pr_hook whether the webhook was registered, pr_body_hash what the
-- title and body last said, pr_checked_at the last look at the pull request
-- (one replica polls a store at a time).
ALTER TABLE git_stores ADD COLUMN pull_request TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN hook_id TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE git_stores ADD COLUMN pr_url TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_chain TEXT NOT NULL DEFAULT '[]';
ALTER TABLE git_stores ADD COLUMN pr_reset BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE git_stores ADD COLUMN pr_warning TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_error TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_hook TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_body_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN pr_checked_at TIMESTAMPTZ;
CREATE UNIQUE INDEX git_stores_hook ON git_stores (hook_id) WHERE hook_id <> '';

-- The pull request that carries (carried) a placement: proposed until merged,
-- rejected when closed unmerged.
ALTER TABLE placements ADD COLUMN pr_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE placements ADD COLUMN pr_url TEXT NOT NULL DEFAULT '';

-- A Destination's canary files go through the pull request too: 'proposed'.
-- (As on SQLite, the column is re-added so that both schemas keep one order.)
DROP INDEX canaries_store;
ALTER TABLE canaries DROP CONSTRAINT canaries_state_check;
ALTER TABLE canaries RENAME COLUMN state TO state_before_0056;
ALTER TABLE canaries ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
    CONSTRAINT canaries_state_check CHECK (state IN ('pending', 'writing', 'written', 'failed', 'proposed'));
UPDATE canaries SET state = state_before_0056;
ALTER TABLE canaries DROP COLUMN state_before_0056;
CREATE INDEX canaries_store ON canaries (tenant_id, store_kind, store_name, state);
