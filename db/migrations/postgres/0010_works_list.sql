-- PostgreSQL twin of ../0010_works_list.sql (TestSchemasMatch).
CREATE INDEX placements_destination_work ON placements (tenant_id, destination_name, work_id);
CREATE INDEX placements_state_work ON placements (tenant_id, state, work_id);
CREATE INDEX works_trigger ON works (tenant_id, trigger_id, updated_at);
CREATE INDEX works_waiting ON works (tenant_id, updated_at) WHERE unscheduled <> '[]';
