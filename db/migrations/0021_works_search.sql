-- The Works list in its order (tenant, most recently updated first), with the
-- lower-cased text its substring search matches (promise, namespace and name
-- joined by '/'): a search reads this narrow index, not the wide works rows, and
-- stops at the first page's last match. It replaces works_updated (its prefix), so
-- a submit still maintains one index in this order. db.searchText spells the
-- expression exactly as here, or the index is not used (TestWorksSearchUsesIndex).
DROP INDEX works_updated;
CREATE INDEX works_search ON works (tenant_id, updated_at, id, lower(promise || '/' || res_namespace || '/' || res_name));
-- Created again after works_search: without statistics SQLite breaks a tie
-- between two indexes on tenant_id by taking the one created last, and counting
-- the Works placed nowhere must read this partial index, not every Work
-- (TestWorksWaitingUsesPartialIndex).
DROP INDEX works_waiting;
CREATE INDEX works_waiting ON works (tenant_id, updated_at) WHERE unscheduled <> '[]';
