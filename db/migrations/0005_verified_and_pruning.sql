-- Invitations link only to identities whose email the IdP verified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
CREATE INDEX login_attempts_created ON login_attempts (created_at);
CREATE INDEX trigger_deliveries_at ON trigger_deliveries (at);
