-- The Works being deleted, for the Works list's state=deleting and to exclude
-- them from state=written on SQLite without reading every Work's row (the wide
-- rows, their workload groups inline, cost 2 µs each: 20 ms at 10,000 Works).
-- Few Works are being deleted at a time, so the index is small and a submit
-- (deleted = FALSE) does not maintain it.
CREATE INDEX works_deleted ON works (tenant_id, updated_at) WHERE deleted;
