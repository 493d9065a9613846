-- PostgreSQL twin of ../0059_placements_failed.sql (TestSchemasMatch).
-- The Overview counts a team's placements failed since yesterday. Failed ones
-- are few, and SQLite's statistics (sqlite_stat1: rows per key, no histogram)
-- cannot tell that state = 'failed' is rare, so with (tenant_id, state, …) and
-- (tenant_id, updated_at) to choose from it read every placement of the last
-- day. An index of the failed ones alone is the best plan whatever the
-- statistics say.
CREATE INDEX placements_failed ON placements (tenant_id, updated_at) WHERE state = 'failed';
