-- PostgreSQL twin of ../0006_secret_endpoints.sql (TestSchemasMatch).
ALTER TABLE secrets ADD COLUMN endpoints TEXT NOT NULL DEFAULT '';
