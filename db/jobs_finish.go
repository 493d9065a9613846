package db

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// FinishJob records what a claimed job achieved, in one transaction. Each placement
// outcome marks its placement written (with the version and the keys now in the
// store), removes it (a finished deletion), or marks it failed (refused for its
// content, for good) or retrying with the error — but only if the placement was
// not submitted again meanwhile (its generation is unchanged); newer content stays
// pending. A job whose write failed (res.Err) is queued again after a capped
// exponential backoff with jitter: an accepted write is never dropped, and its
// placements show retrying with the store's message until it succeeds. A write
// that could not reach the store (res.StoreErr) shows the store failing at once;
// one that reached it (res.StoreOK) clears that. A write the host refused for rate
// limiting (res.RetryAfter) is queued again after the wait the host asked for
// instead, and no write of the store starts before then; a job that pushed
// (res.Changed) paces the store's next push (see jobs_pace.go). If pending
// placements remain for the store, a job is queued for them.
// ErrLeaseLost when owner no longer holds the job (another worker took it over).
// The errors, worded by the store, are kept as tenants.RemoteText.
func (d *DB) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	res = remoteTexts(res)
	res.Placements = unsettled(job, res)
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		// The team's configuration lock, shared (as a submit's), before any
		// row: a re-plan locks the placements it changes and the store's
		// queued job in an order of its own, and so does a store's edit its
		// row, the opposite of this finish's; each waited for a row the other
		// held until PostgreSQL broke the deadlock after a second. Sent with
		// the next statement (pipeline.go).
		if err := d.lockTenant(ctx, tx, job.TenantID, false); err != nil {
			return err
		}
		// With the clock ClaimJob compares affinity with, read before anything
		// here locks the store's queued job: every statement below that does
		// is held back to go out with the COMMIT.
		leaseNow, err := d.checkOwnerNow(ctx, tx, job)
		if err != nil {
			return err
		}
		var written []tenants.PlacementOutcome
		for _, o := range res.Placements {
			switch {
			case o.Proposed && o.Error == "":
				if err := d.proposePlacement(ctx, tx, job, o, res.Head); err != nil {
					return err
				}
			case o.Error == "" && !o.Delete:
				written = append(written, o)
			default:
				if err := d.finishPlacement(ctx, tx, job.TenantID, o); err != nil {
					return err
				}
			}
		}
		if err := d.markWritten(ctx, tx, job.TenantID, written, res.Version); err != nil {
			return err
		}
		// What follows reads nothing back: held back (pipeline.go), it goes
		// out with the COMMIT.
		if err := d.recordVersions(deferred(ctx), tx, job, res); err != nil {
			return err
		}
		if err := d.finishHead(ctx, tx, job, res); err != nil {
			return err
		}
		for _, o := range res.Canaries {
			if err := d.finishCanary(ctx, tx, job.TenantID, o); err != nil {
				return err
			}
		}
		if err := d.resetWriting(deferred(ctx), tx, job, ""); err != nil {
			return err
		}
		if err := d.recordWriteHealth(deferred(ctx), tx, job, res); err != nil {
			return err
		}
		if res.Err != "" {
			if res.RetryAfter > 0 { // the host asked to wait: as long as it said, for every path
				until := d.now().Add(res.RetryAfter)
				if err := d.paceRateLimited(ctx, tx, job, until); err != nil {
					return err
				}
				return d.requeue(ctx, tx, job, until, res.Err)
			}
			return d.requeue(ctx, tx, job, d.now().Add(backoff(job.Attempts+1)), res.Err)
		}
		if res.Changed { // it pushed: the store's next push waits out its interval
			if err := d.paceAfterPush(deferred(ctx), tx, job); err != nil {
				return err
			}
		}
		// Only a push that landed (the branch moved) settles an earlier push still
		// in doubt: a job that changed nothing, or had nothing to write, does not.
		if job.Store.Kind == tenants.KindGit && res.Changed {
			if _, err := tx.ExecContext(deferred(ctx), `UPDATE git_stores SET push_in_doubt = FALSE WHERE tenant_id = ? AND name = ?`,
				job.TenantID, job.Store.Name); err != nil {
				return err
			}
		}
		// The store is this replica's for a moment (JobAffinity): its cache
		// holds the tip it just pushed, where another replica would fetch it
		// first, and the Works arriving meanwhile join this replica's next job
		// instead of a job of their own on another replica (three replicas made
		// three times the commits). The queued job, if any, says so, and so does
		// this one, for a job queued later (enqueue).
		affinityUntil := leaseNow.Add(JobAffinity)
		now := d.now()
		if _, err := tx.ExecContext(deferred(ctx), `UPDATE jobs SET state = 'succeeded', version = ?, last_error = '', lease_owner = '',
			lease_token = '', lease_until = NULL, updated_at = ?, finished_at = ?, affinity = ?, affinity_until = ? WHERE id = ?`,
			res.Version, now, now, job.Owner, affinityUntil, job.ID); err != nil {
			return err
		}
		if err := d.pruneJobs(deferred(ctx), tx, job); err != nil {
			return err
		}
		if err := d.enqueueIfPending(deferred(ctx), tx, job); err != nil {
			return err
		}
		_, err = tx.ExecContext(deferred(ctx), `UPDATE jobs SET affinity = ?, affinity_until = ? WHERE tenant_id = ? AND store_kind = ?
			AND store_name = ? AND state = 'queued'`, job.Owner, affinityUntil, job.TenantID, job.Store.Kind, job.Store.Name)
		return err
	})
}

// unsettled is res's placement outcomes but those that change nothing: a
// placement the job read Settled, written again at its generation with the
// same keys and prefix, either at the version its row names (res.Version) or
// by a write that changed nothing in the store (!res.Changed). Its row already
// says what the finish would write (markWritten), and its version is recorded
// (recordVersions); only the store's own job changes those, and a submit
// meanwhile (a new generation) leaves them as they are too. A re-assert of a
// store of 5,000 placements that found nothing to change otherwise held the
// SQLite write lock for 90 - 130 ms to change nothing, while every submit
// waited.
//
// A write that changed nothing leaves each placement at the version that wrote
// it, which still holds it (nothing drifted), and at the time it was written:
// the store's tip moves with every other Work written there, and a re-assert
// after any of them, at a million placements, rewrote every row to name the new
// tip (190 CPU-seconds where one after none took 81) and said each was written
// at the re-assert. res.Placements is res's own copy (remoteTexts): filtered in
// place.
func unsettled(job *tenants.Job, res tenants.JobResult) []tenants.PlacementOutcome {
	read := make(map[int64]*tenants.PlacementWrite)
	for i, w := range job.Writes {
		if w.Settled && (w.Version == res.Version || !res.Changed && res.Err == "") {
			read[w.ID] = &job.Writes[i]
		}
	}
	if len(read) == 0 {
		return res.Placements
	}
	return slices.DeleteFunc(res.Placements, func(o tenants.PlacementOutcome) bool {
		w := read[o.ID]
		return w != nil && o.Error == "" && !o.Delete && !o.Proposed && o.Generation == w.Generation &&
			o.Prefix == w.WrittenPrefix && slices.Equal(o.Keys, w.WrittenKeys)
	})
}

// remoteTexts is res with its errors made tenants.RemoteText (res's slices are
// copied, not changed).
func remoteTexts(res tenants.JobResult) tenants.JobResult {
	res.Err, res.StoreErr = tenants.RemoteText(res.Err), tenants.RemoteText(res.StoreErr)
	res.Placements = slices.Clone(res.Placements)
	for i := range res.Placements {
		res.Placements[i].Error = tenants.RemoteText(res.Placements[i].Error)
	}
	res.Canaries = slices.Clone(res.Canaries)
	for i := range res.Canaries {
		res.Canaries[i].Error = tenants.RemoteText(res.Canaries[i].Error)
	}
	return res
}

// JobAffinity is how long after its last write a store's next job waits for the
// replica that wrote it before any replica may take it. Long enough that a store
// stays with one replica while that replica's jobs take turns under load
// (Yielding): at one second, three replicas handed stores to each other and
// fetched what the other had pushed 4-9 times per 2,000 Works; at three, never,
// with a quarter fewer commits.
const JobAffinity = 3 * time.Second

// checkOwner answers ErrLeaseLost unless this claim (its lease token) still holds
// the job.
func (d *DB) checkOwner(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	_, err := d.checkOwnerNow(ctx, tx, job)
	return err
}

// checkOwnerNow is checkOwner that also returns leaseNow's clock, read in the
// same statement when the database keeps it.
func (d *DB) checkOwnerNow(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) (time.Time, error) {
	var r struct {
		Token string     `db:"lease_token"`
		Now   *time.Time `db:"now"`
	}
	clock := ""
	if d.dbClock {
		clock = ", statement_timestamp() AS now"
	}
	err := tx.GetContext(ctx, &r, `SELECT lease_token`+clock+` FROM jobs WHERE id = ? AND state = 'running'`+d.dialect.rowLock, job.ID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (r.Token == "" || r.Token != job.Token) {
		return time.Time{}, ErrLeaseLost
	}
	if err != nil {
		return time.Time{}, err
	}
	if r.Now == nil {
		return d.now(), nil
	}
	return r.Now.UTC().Truncate(d.dialect.precision), nil
}

// finishPlacement records the outcome of a placement that failed or was
// removed (markWritten records the written ones). What the store now holds for
// the placement (written_keys, written_prefix) is recorded whatever its generation:
// a write whose placement was submitted again meanwhile still put its files there,
// and the next write must know them to remove what is no longer wanted. Its state
// changes only when the generation is the one written.
func (d *DB) finishPlacement(ctx context.Context, tx *sqlx.Tx, tenantID int64, o tenants.PlacementOutcome) error {
	now := d.now()
	switch {
	case o.Error != "":
		if err := d.rememberKeys(ctx, tx, tenantID, o.ID, o.MayHold); err != nil {
			return err
		}
		// Refused for its content: failed until submitted again; anything else
		// may pass, and is retried.
		state := tenants.StateRetrying
		if o.Stuck {
			state = tenants.StateFailed
		}
		_, err := tx.ExecContext(deferred(ctx), `UPDATE placements SET state = ?, error = ?, stuck = ?, attempts = attempts + 1, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, state, o.Error, o.Stuck, now, tenantID, o.ID, o.Generation)
		return err
	case o.Delete:
		// Removed if its generation is the one written; otherwise (submitted
		// again meanwhile) the row stays, and the store holds none of its keys
		// now. Two statements that read nothing back, so that a finish of
		// thousands of placements is held back and sent as one pipeline
		// (pipeline.go), not a round trip each.
		if _, err := tx.ExecContext(deferred(ctx), `DELETE FROM placements WHERE tenant_id = ? AND id = ? AND generation = ?`,
			tenantID, o.ID, o.Generation); err != nil {
			return err
		}
		_, err := tx.ExecContext(deferred(ctx), `UPDATE placements SET written_keys = '[]', written_prefix = '' WHERE tenant_id = ? AND id = ?`,
			tenantID, o.ID)
		return err
	}
	return nil
}

// markWritten records the placements a job wrote: what the store now holds
// for each (written_keys, written_prefix) whatever its generation, and written
// with the version for those whose generation is the one written. Five hundred
// placements a statement, held back (pipeline.go): a job of 3,000 placements is
// six statements, not 3,000 updates of one row each.
func (d *DB) markWritten(ctx context.Context, tx *sqlx.Tx, tenantID int64, written []tenants.PlacementOutcome, version string) error {
	now := d.now()
	for chunk := range slices.Chunk(written, 500) {
		var q strings.Builder
		q.WriteString(`WITH v (id, gen, keys, prefix) AS (VALUES `)
		args := make([]any, 0, 4*len(chunk)+4)
		for i, o := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT))")
			args = append(args, o.ID, o.Generation, nonNilKeys(o.Keys), o.Prefix)
		}
		q.WriteString(`) UPDATE placements SET written_keys = v.keys, written_prefix = v.prefix,
			state = CASE WHEN placements.generation = v.gen THEN 'written' ELSE placements.state END,
			version = CASE WHEN placements.generation = v.gen THEN ? ELSE placements.version END,
			error = CASE WHEN placements.generation = v.gen THEN '' ELSE placements.error END,
			attempts = CASE WHEN placements.generation = v.gen THEN 0 ELSE placements.attempts END,
			written_at = CASE WHEN placements.generation = v.gen THEN ? ELSE placements.written_at END,
			updated_at = CASE WHEN placements.generation = v.gen THEN ? ELSE placements.updated_at END
			FROM v WHERE placements.tenant_id = ? AND placements.id = v.id
			AND NOT (placements.written_keys = v.keys AND placements.written_prefix = v.prefix AND placements.generation = v.gen
				AND placements.state = 'written' AND placements.version = ? AND placements.error = '' AND placements.attempts = 0)`)
		// (A placement already written with this version and these keys — a
		// full rewrite that found nothing to change — keeps its row as it is.)
		args = append(args, version, now, now, tenantID, version)
		if _, err := tx.ExecContext(deferred(ctx), q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func nonNilKeys(keys []string) string { return toJSON(nonNil(keys)) }

// rememberKeys adds keys to what the store may hold for a placement.
func (d *DB) rememberKeys(ctx context.Context, tx *sqlx.Tx, tenantID, id int64, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	var cur string
	err := tx.GetContext(ctx, &cur, `SELECT written_keys FROM placements WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	all := append(jsonStrings(cur), keys...)
	slices.Sort(all)
	_, err = tx.ExecContext(ctx, `UPDATE placements SET written_keys = ? WHERE tenant_id = ? AND id = ?`,
		toJSON(slices.Compact(all)), tenantID, id)
	return err
}

func (d *DB) finishCanary(ctx context.Context, tx *sqlx.Tx, tenantID int64, o tenants.CanaryOutcome) error {
	now := d.now()
	var err error
	switch {
	case o.Proposed && o.Error == "":
		_, err = tx.ExecContext(ctx, `UPDATE canaries SET state = 'proposed', error = '', written_keys = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, toJSON(nonNil(o.Keys)), now, tenantID, o.ID, o.Generation)
	case o.Error != "":
		_, err = tx.ExecContext(ctx, `UPDATE canaries SET state = 'failed', error = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, o.Error, now, tenantID, o.ID, o.Generation)
	case o.Delete: // as finishPlacement's: held back, nothing read
		if _, err = tx.ExecContext(deferred(ctx), `DELETE FROM canaries WHERE tenant_id = ? AND id = ? AND generation = ?`,
			tenantID, o.ID, o.Generation); err == nil {
			_, err = tx.ExecContext(deferred(ctx), `UPDATE canaries SET written_keys = '[]' WHERE tenant_id = ? AND id = ?`, tenantID, o.ID)
		}
	default:
		_, err = tx.ExecContext(deferred(ctx), `UPDATE canaries SET written_keys = ?,
			state = CASE WHEN generation = ? THEN 'written' ELSE state END,
			error = CASE WHEN generation = ? THEN '' ELSE error END,
			updated_at = CASE WHEN generation = ? THEN ? ELSE updated_at END
			WHERE tenant_id = ? AND id = ?`, nonNilKeys(o.Keys), o.Generation, o.Generation, o.Generation, now, tenantID, o.ID)
	}
	return err
}

// enqueueIfPending queues a job when placements or canaries of the job's store are
// still pending (submitted while it ran, or left unreported). One upsert that
// answers nothing, held back (pipeline.go) on the ctx FinishJob gives it: the
// store's queued job, which every submit to the store locks, is locked only
// while the server runs the finish's last statements, not across a round trip
// to read the pending count first (submits 1 ms away waited for that). A queued
// job already due, or backing off, is left as it is, as enqueue leaves it.
func (d *DB) enqueueIfPending(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	q, args := d.enqueueIfSQL(job.TenantID, storeKey{job.Store.Kind, job.Store.Name}, false, d.now(),
		`EXISTS (SELECT 1 FROM placements WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'pending')
			OR EXISTS (SELECT 1 FROM canaries WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'pending')`,
		[]any{job.TenantID, job.Store.Kind, job.Store.Name, job.TenantID, job.Store.Kind, job.Store.Name}, enqueueChangesWhere)
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// JobRetention is how long finished jobs stay visible.
const JobRetention = 7 * 24 * time.Hour

// pruneJobs forgets the store's jobs that finished more than JobRetention ago.
func (d *DB) pruneJobs(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state IN ('succeeded', 'failed') AND finished_at < ?`,
		job.TenantID, job.Store.Kind, job.Store.Name, d.now().Add(-JobRetention))
	return err
}

// recordWriteHealth shows the job's store failing when its write could not reach
// it (transport, authentication), and healthy again after a write that did. The
// readiness check's outcome (ready), which scheduling follows, is left alone.
func (d *DB) recordWriteHealth(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, res tenants.JobResult) error {
	table, _ := storeTable(job.Store.Kind)
	var err error
	switch {
	case res.StoreErr != "":
		_, err = tx.ExecContext(ctx, `UPDATE `+table+` SET write_error = ?, write_failed_at = ? WHERE tenant_id = ? AND name = ?`,
			res.StoreErr, d.now(), job.TenantID, job.Store.Name)
	case res.StoreOK:
		_, err = tx.ExecContext(ctx, `UPDATE `+table+` SET write_error = '', write_failed_at = NULL
			WHERE tenant_id = ? AND name = ? AND write_error <> ''`, job.TenantID, job.Store.Name)
	}
	return err
}
