package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// FinishJob records what a claimed job achieved, in one transaction. Each placement
// outcome marks its placement written (with the version and the keys now in the
// store), removes it (a finished deletion) or marks it failed with the error —
// but only if the placement was not submitted again meanwhile (its generation is
// unchanged); newer content stays pending. A job whose write failed (res.Err) is
// queued again after a capped exponential backoff with jitter: an accepted write is
// never dropped, and its placements show failed with the store's message until it
// succeeds. If pending placements remain for the store, a job is queued for them.
// ErrLeaseLost when owner no longer holds the job (another worker took it over).
func (d *DB) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.checkOwner(ctx, tx, job); err != nil {
			return err
		}
		for _, o := range res.Placements {
			if err := d.finishPlacement(ctx, tx, job.TenantID, o, res.Version); err != nil {
				return err
			}
		}
		for _, o := range res.Canaries {
			if err := d.finishCanary(ctx, tx, job.TenantID, o); err != nil {
				return err
			}
		}
		if err := d.resetWriting(ctx, tx, job, "", false); err != nil {
			return err
		}
		if res.Err != "" {
			return d.requeue(ctx, tx, job, d.now().Add(backoff(job.Attempts+1)), res.Err)
		}
		now := d.now()
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'succeeded', version = ?, last_error = '', lease_owner = '',
			lease_until = NULL, updated_at = ?, finished_at = ? WHERE id = ?`, res.Version, now, now, job.ID); err != nil {
			return err
		}
		if err := d.pruneJobs(ctx, tx, job); err != nil {
			return err
		}
		return d.enqueueIfPending(ctx, tx, job)
	})
}

func (d *DB) checkOwner(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	var owner string
	err := tx.GetContext(ctx, &owner, `SELECT lease_owner FROM jobs WHERE id = ? AND state = 'running'`+d.dialect.rowLock, job.ID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && owner != job.Owner {
		return ErrLeaseLost
	}
	return err
}

func (d *DB) finishPlacement(ctx context.Context, tx *sqlx.Tx, tenantID int64, o tenants.PlacementOutcome, version string) error {
	now := d.now()
	var err error
	switch {
	case o.Error != "":
		_, err = tx.ExecContext(ctx, `UPDATE placements SET state = 'failed', error = ?, attempts = attempts + 1, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, o.Error, now, tenantID, o.ID, o.Generation)
	case o.Delete:
		_, err = tx.ExecContext(ctx, `DELETE FROM placements WHERE tenant_id = ? AND id = ? AND generation = ?`, tenantID, o.ID, o.Generation)
	default:
		_, err = tx.ExecContext(ctx, `UPDATE placements SET state = 'written', version = ?, error = '', attempts = 0,
			written_keys = ?, written_prefix = ?, written_at = ?, updated_at = ? WHERE tenant_id = ? AND id = ? AND generation = ?`,
			version, toJSON(nonNil(o.Keys)), o.Prefix, now, now, tenantID, o.ID, o.Generation)
	}
	return err
}

func (d *DB) finishCanary(ctx context.Context, tx *sqlx.Tx, tenantID int64, o tenants.CanaryOutcome) error {
	now := d.now()
	var err error
	switch {
	case o.Error != "":
		_, err = tx.ExecContext(ctx, `UPDATE canaries SET state = 'failed', error = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, o.Error, now, tenantID, o.ID, o.Generation)
	case o.Delete:
		_, err = tx.ExecContext(ctx, `DELETE FROM canaries WHERE tenant_id = ? AND id = ? AND generation = ?`, tenantID, o.ID, o.Generation)
	default:
		_, err = tx.ExecContext(ctx, `UPDATE canaries SET state = 'written', error = '', written_keys = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ? AND generation = ?`, toJSON(nonNil(o.Keys)), now, tenantID, o.ID, o.Generation)
	}
	return err
}

// enqueueIfPending queues a job when placements or canaries of the job's store are
// still pending (submitted while it ran, or left unreported).
func (d *DB) enqueueIfPending(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	var n int
	err := tx.GetContext(ctx, &n, `SELECT (SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'pending')
		+ (SELECT COUNT(*) FROM canaries WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'pending')`,
		job.TenantID, job.Store.Kind, job.Store.Name, job.TenantID, job.Store.Kind, job.Store.Name)
	if err != nil || n == 0 {
		return err
	}
	_, err = d.enqueue(ctx, tx, job.TenantID, storeKey{job.Store.Kind, job.Store.Name}, false)
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
