-- PostgreSQL twin of ../0015_git_github_app_signing.sql (TestSchemasMatch).
ALTER TABLE git_stores ADD COLUMN github_api_url TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN signing_fingerprint TEXT NOT NULL DEFAULT '';
