-- PostgreSQL twin of ../0005_verified_and_pruning.sql: the same tables, columns and indexes (TestSchemasMatch);
-- BIGINT identity ids and TIMESTAMPTZ.
-- Invitations link only to identities whose email the IdP verified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
CREATE INDEX login_attempts_created ON login_attempts (created_at);
CREATE INDEX trigger_deliveries_at ON trigger_deliveries (at);
