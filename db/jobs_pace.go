package db

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// Push pacing. A Git store's next write may not start before
// git_stores.next_push_at: its last push plus the store's interval
// (tenants.GitStateStore.EffectivePushInterval), or the wait the host asked for
// when it refused a push for rate limiting. Every path that queues a job of the
// store or makes one due (enqueue, retries, relocate, a pull request's end)
// makes it due at pushDue, never earlier, so the Works that arrive meanwhile
// join that one job and its one push. After a quiet period next_push_at is in
// the past and a job is due at once. Buckets are not paced.

// pushDue is the SQL expression, and its arguments, of when a job of store k
// may run at the earliest: now, or a Git store's next_push_at when that is
// later. It reads the store row inside the statement that uses it, so that no
// path gains a round trip.
func (d *DB) pushDue(tenantID int64, k storeKey, now time.Time) (string, []any) {
	if k.kind != tenants.KindGit {
		return "?", []any{now}
	}
	return d.dialect.greatest + `((SELECT COALESCE(MAX(g.next_push_at), ?) FROM git_stores g WHERE g.tenant_id = ? AND g.name = ?), ?)`,
		[]any{now, tenantID, k.name, now}
}

// paceAfterPush records, in FinishJob's transaction, that the job's store was
// pushed to now: its next write waits out the store's interval. That includes
// the job queued for the Works that arrived while this one ran: it was due at
// once (nothing had been pushed for a while when they came), and would push
// right after this push.
func (d *DB) paceAfterPush(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	if job.Store.Kind != tenants.KindGit || job.PushInterval <= 0 {
		return nil
	}
	next := d.now().Add(job.PushInterval)
	if _, err := tx.ExecContext(ctx, `UPDATE git_stores SET next_push_at = ? WHERE tenant_id = ? AND name = ?`,
		next, job.TenantID, job.Store.Name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET run_after = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state = 'queued' AND run_after < ?`, next, job.TenantID, tenants.KindGit, job.Store.Name, next)
	return err
}

// paceRateLimited records that the host refused the job's push for rate limiting
// and asked to wait until: no write of the store starts before then, whichever
// path makes its job due.
func (d *DB) paceRateLimited(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, until time.Time) error {
	if job.Store.Kind != tenants.KindGit {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE git_stores SET next_push_at = ? WHERE tenant_id = ? AND name = ?
		AND (next_push_at IS NULL OR next_push_at < ?)`, until, job.TenantID, job.Store.Name, until)
	return err
}
