-- Indexes for the Works list's filters (by Destination, by placement state) and for
-- Works placed nowhere, so that each stays an index lookup at 100,000 placements.
CREATE INDEX placements_destination_work ON placements (tenant_id, destination_name, work_id);
CREATE INDEX placements_state_work ON placements (tenant_id, state, work_id);
CREATE INDEX works_trigger ON works (tenant_id, trigger_id, updated_at);
CREATE INDEX works_waiting ON works (tenant_id, updated_at) WHERE unscheduled <> '[]';
