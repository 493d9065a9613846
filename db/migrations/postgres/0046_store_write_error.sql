-- A write that failed for a transport or authentication reason marks its store
-- failing at once (write_error, write_failed_at), apart from the readiness check
-- (ready, status_message) that scheduling follows: one network blip must not
-- send new Works to another Destination. The next passing write or check clears it.
ALTER TABLE git_stores ADD COLUMN write_error TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN write_failed_at TIMESTAMPTZ;
ALTER TABLE bucket_stores ADD COLUMN write_error TEXT NOT NULL DEFAULT '';
ALTER TABLE bucket_stores ADD COLUMN write_failed_at TIMESTAMPTZ;
