-- Every change to what planning reads waits for the team's submits in flight,
-- whichever replica makes it and whatever its version.
--
-- A submit plans against its team's Destinations and stores under the team's
-- configuration lock, shared; a change to them takes it exclusive, so that no
-- submit plans against a configuration that is being changed and no change's
-- re-plan misses a submit (db.lockTenant). Until 0064 that lock was the team's
-- row (FOR SHARE / FOR NO KEY UPDATE); since, it is an advisory lock. During a
-- rolling upgrade a replica of before 0064 and one of after would then not wait
-- for each other:
-- - a newer replica's change against an older one's submit: the newer change
--   locks the team's row too (db.lockTenant), as the older submit does;
-- - an older replica's change against a newer one's submit: bump_plan_version,
--   which runs on every change to what planning reads (0061), now takes the
--   advisory lock exclusive first. A newer replica's change holds it already
--   (the same transaction takes it again at once); an older one's waits there
--   for the submits in flight, and submits wait for it, before its re-plan.
-- Deleting a team's row (0064's trigger) waits for its submits in flight the
-- same way, and then deletes what they wrote too.
--
-- The key is db.tenantLockClass and the team id's low 31 bits
-- (db.tenantLockID).
CREATE OR REPLACE FUNCTION bump_plan_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        t := OLD.tenant_id;
    ELSE
        t := NEW.tenant_id;
    END IF;
    PERFORM pg_advisory_xact_lock(1400329265, CAST(t & 2147483647 AS INTEGER));
    INSERT INTO plan_versions (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = plan_versions.version + 1;
    IF TG_OP = 'UPDATE' AND OLD.tenant_id <> NEW.tenant_id THEN
        PERFORM pg_advisory_xact_lock(1400329265, CAST(OLD.tenant_id & 2147483647 AS INTEGER));
        INSERT INTO plan_versions (tenant_id, version) VALUES (OLD.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET version = plan_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION stateward_tenant_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(1400329265, CAST(OLD.id & 2147483647 AS INTEGER));
	DELETE FROM works WHERE tenant_id = OLD.id; -- placements, their claims and versions with them
	DELETE FROM claims WHERE tenant_id = OLD.id;
	DELETE FROM canaries WHERE tenant_id = OLD.id;
	DELETE FROM jobs WHERE tenant_id = OLD.id;
	DELETE FROM audit_events WHERE tenant_id = OLD.id;
	DELETE FROM trigger_deliveries WHERE tenant_id = OLD.id;
	RETURN OLD;
END
$$;
