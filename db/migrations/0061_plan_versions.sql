-- A team's plan version changes whenever something planning reads changes: a
-- Destination (any column), a store added, removed or renamed, its path, its
-- readiness, its Secret or its status message. Kept by triggers, so that no
-- code path can change what planning reads without it. PostgreSQL's submits
-- plan with the team they read before at the same version (see
-- migrations/postgres/0061_plan_versions.sql); SQLite keeps it the same way.
CREATE TABLE plan_versions (
    tenant_id INTEGER PRIMARY KEY,
    version   INTEGER NOT NULL
);
INSERT INTO plan_versions (tenant_id, version) SELECT id, 1 FROM tenants;

CREATE TRIGGER destinations_plan_version_insert AFTER INSERT ON destinations BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER destinations_plan_version_delete AFTER DELETE ON destinations BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER destinations_plan_version_update AFTER UPDATE ON destinations
BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER git_stores_plan_version_insert AFTER INSERT ON git_stores BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER git_stores_plan_version_delete AFTER DELETE ON git_stores BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER git_stores_plan_version_update AFTER UPDATE ON git_stores
    WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.name IS NOT NEW.name OR OLD.path IS NOT NEW.path
    OR OLD.ready IS NOT NEW.ready OR OLD.secret_missing IS NOT NEW.secret_missing OR OLD.status_message IS NOT NEW.status_message
BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER bucket_stores_plan_version_insert AFTER INSERT ON bucket_stores BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER bucket_stores_plan_version_delete AFTER DELETE ON bucket_stores BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER bucket_stores_plan_version_update AFTER UPDATE ON bucket_stores
    WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.name IS NOT NEW.name OR OLD.path IS NOT NEW.path
    OR OLD.ready IS NOT NEW.ready OR OLD.secret_missing IS NOT NEW.secret_missing OR OLD.status_message IS NOT NEW.status_message
BEGIN
    INSERT INTO plan_versions (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
    INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
