-- PostgreSQL twin of ../0061_plan_versions.sql (TestSchemasMatch).
-- A team's plan version changes whenever something planning reads changes: a
-- Destination (any column), a store added, removed or renamed, its path, its
-- readiness, its Secret or its status message. A submit reads the version in
-- its first statement and plans with the team it read before at that version,
-- instead of reading every Destination and store again (two round trips, one
-- each, to a database 1 ms away). Kept by triggers, so that no code path can
-- change what planning reads without it; no foreign key, so that deleting a
-- team (whose cascade fires these triggers) is not refused.
CREATE TABLE plan_versions (
    tenant_id BIGINT PRIMARY KEY,
    version   BIGINT NOT NULL
);
INSERT INTO plan_versions (tenant_id, version) SELECT id, 1 FROM tenants;

CREATE FUNCTION bump_plan_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        t := OLD.tenant_id;
    ELSE
        t := NEW.tenant_id;
    END IF;
    INSERT INTO plan_versions (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = plan_versions.version + 1;
    IF TG_OP = 'UPDATE' AND OLD.tenant_id <> NEW.tenant_id THEN
        INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET version = plan_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER destinations_plan_version AFTER INSERT OR UPDATE OR DELETE ON destinations
    FOR EACH ROW EXECUTE FUNCTION bump_plan_version();
CREATE TRIGGER git_stores_plan_version_rows AFTER INSERT OR DELETE ON git_stores
    FOR EACH ROW EXECUTE FUNCTION bump_plan_version();
CREATE TRIGGER git_stores_plan_version AFTER UPDATE ON git_stores
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.name IS DISTINCT FROM NEW.name
        OR OLD.path IS DISTINCT FROM NEW.path OR OLD.ready IS DISTINCT FROM NEW.ready
        OR OLD.secret_missing IS DISTINCT FROM NEW.secret_missing OR OLD.status_message IS DISTINCT FROM NEW.status_message)
    EXECUTE FUNCTION bump_plan_version();
CREATE TRIGGER bucket_stores_plan_version_rows AFTER INSERT OR DELETE ON bucket_stores
    FOR EACH ROW EXECUTE FUNCTION bump_plan_version();
CREATE TRIGGER bucket_stores_plan_version AFTER UPDATE ON bucket_stores
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.name IS DISTINCT FROM NEW.name
        OR OLD.path IS DISTINCT FROM NEW.path OR OLD.ready IS DISTINCT FROM NEW.ready
        OR OLD.secret_missing IS DISTINCT FROM NEW.secret_missing OR OLD.status_message IS DISTINCT FROM NEW.status_message)
    EXECUTE FUNCTION bump_plan_version();
