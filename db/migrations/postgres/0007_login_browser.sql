-- PostgreSQL twin of ../0007_login_browser.sql (TestSchemasMatch).
ALTER TABLE login_attempts ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
