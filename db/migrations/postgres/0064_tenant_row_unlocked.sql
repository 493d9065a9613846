-- The tables a submit writes no longer reference tenants by a foreign key.
--
-- A foreign key's check locks the referenced row FOR KEY SHARE. A row locked
-- by several transactions at once carries a MultiXact of them all, which
-- PostgreSQL creates anew for every transaction that joins: it WAL-logs it and
-- writes it into the row, under an exclusive lock on the row's page. Every
-- submit inserts a Work, its placements, their claims and versions, an audit
-- event and often a job, each checked against one row per team: the team's row
-- was the hottest row of the database, and every concurrent submit of the team
-- took its turn on it. (The team's configuration lock, db.lockTenant, is an
-- advisory lock for the same reason.)
--
-- What the keys guaranteed stays true:
-- - these rows are written only with the id of a team the same transaction
--   authenticated or read;
-- - a team's deletion still removes them all: placements, claims and versions
--   go with their Work (their own keys), and the trigger below deletes the
--   Works, canaries, jobs, audit events and deliveries, as the keys' ON DELETE
--   CASCADE did.
-- The configuration tables (members, tokens, stores, Destinations, secrets,
-- triggers, group roles) keep theirs: they are written rarely.
-- SQLite keeps every key: it has one writer and no row locks to contend on.
DO $$
DECLARE c record;
BEGIN
	FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
		WHERE contype = 'f' AND confrelid = 'tenants'::regclass
			AND conrelid::regclass::text IN ('works', 'placements', 'claims', 'work_versions', 'canaries',
				'jobs', 'audit_events', 'trigger_deliveries')
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
	END LOOP;
END
$$;

CREATE FUNCTION stateward_tenant_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM works WHERE tenant_id = OLD.id; -- placements, their claims and versions with them
	DELETE FROM claims WHERE tenant_id = OLD.id;
	DELETE FROM canaries WHERE tenant_id = OLD.id;
	DELETE FROM jobs WHERE tenant_id = OLD.id;
	DELETE FROM audit_events WHERE tenant_id = OLD.id;
	DELETE FROM trigger_deliveries WHERE tenant_id = OLD.id;
	RETURN OLD;
END
$$;

CREATE TRIGGER tenants_deleted AFTER DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION stateward_tenant_deleted();
