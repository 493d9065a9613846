-- PostgreSQL twin of ../0021_works_search.sql (TestSchemasMatch).
DROP INDEX works_updated;
CREATE INDEX works_search ON works (tenant_id, updated_at, id, lower(promise || '/' || res_namespace || '/' || res_name));
DROP INDEX works_waiting;
CREATE INDEX works_waiting ON works (tenant_id, updated_at) WHERE unscheduled <> '[]';
