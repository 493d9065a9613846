-- A store's newest job says which replica wrote the store last (the finished
-- job's affinity), so that a job queued after the queue ran dry goes to that
-- replica first, as one queued while the store was being written does.
CREATE INDEX jobs_store_newest ON jobs (tenant_id, store_kind, store_name, id);
