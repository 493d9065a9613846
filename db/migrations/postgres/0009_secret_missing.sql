-- PostgreSQL twin of ../0009_secret_missing.sql (TestSchemasMatch).
ALTER TABLE git_stores ADD COLUMN secret_missing BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE bucket_stores ADD COLUMN secret_missing BOOLEAN NOT NULL DEFAULT FALSE;
