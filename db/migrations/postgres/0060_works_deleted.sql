-- PostgreSQL twin of ../0060_works_deleted.sql (TestSchemasMatch).
-- The Works being deleted, for the Works list's state=deleting and to exclude
-- them from state=written on SQLite without reading every Work's row. Few Works
-- are being deleted at a time, so the index is small and a submit (deleted =
-- FALSE) does not maintain it.
CREATE INDEX works_deleted ON works (tenant_id, updated_at) WHERE deleted;
