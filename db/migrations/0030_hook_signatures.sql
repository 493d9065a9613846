-- Signed webhook deliveries already accepted, remembered for as long as their
-- signature verifies (±300 s around its t, plus a minute of clock skew between
-- replicas): a repeat of one is refused (409) instead of acting again. digest is
-- the SHA-256 of what was signed, "<t>.<body>".
CREATE TABLE hook_signatures (
    trigger_id INTEGER NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (trigger_id, digest)
);
CREATE INDEX hook_signatures_expires ON hook_signatures (expires_at);
