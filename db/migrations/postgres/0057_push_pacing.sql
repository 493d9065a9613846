-- PostgreSQL twin of ../0057_push_pacing.sql (TestSchemasMatch).
-- Pushes paced per Git store (spec.pushInterval, a Stateward extension).
--
-- git_stores.push_interval is the spec as written ('' = the default, see
-- tenants.GitStateStore.EffectivePushInterval). next_push_at is the earliest a
-- write of the store may start: set when a job pushed (its finish time plus the
-- interval) or when the host refused a push for rate limiting (the wait it
-- asked for). Every path that queues or re-dues a job of the store makes it due
-- no earlier (db.pushDue); NULL = not paced.
ALTER TABLE git_stores ADD COLUMN push_interval TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN next_push_at TIMESTAMPTZ;
