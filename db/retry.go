package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// RetryWork puts a Work's retrying and failed placements back to pending and makes
// the jobs of their stores due now ("Retry now"), recording who asked in the audit
// log. It answers how many placements it put back; ErrNotFound for a Work the
// tenant does not have.
func (d *DB) RetryWork(ctx context.Context, tenantID, id int64, actor tenants.Actor) (int, error) {
	var n int
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, false); err != nil {
			return err
		}
		var r workRow
		if err := tx.GetContext(ctx, &r, `SELECT `+workCols+` FROM works WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
			return mapErr(err, "Work", "#"+itoa(id))
		}
		var err error
		n, err = d.retry(ctx, tx, tenantID, `work_id = ? AND state IN ('retrying', 'failed')`, id)
		if err != nil {
			return err
		}
		w := r.domain()
		return recordAudit(ctx, tx, tenantID, d.now(), tenants.AuditEvent{Actor: actor, Action: "retry",
			Object: tenants.AuditObject{Kind: tenants.AuditWork, ID: id, Name: w.Name()},
			Detail: countText(n, "placement") + " to write again now"})
	})
	return n, err
}

// RetryStore puts a store's retrying placements back to pending and makes its job
// due now (the store page's "Retry now"). Placements refused for their content stay
// failed: only their Work's own Retry (or a new submit) sends them again.
func (d *DB) RetryStore(ctx context.Context, tenantID int64, kind, name string) (int, error) {
	var n int
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, false); err != nil {
			return err
		}
		var err error
		n, err = d.retry(ctx, tx, tenantID, `store_kind = ? AND store_name = ? AND state = 'retrying'`, kind, name)
		return err
	})
	return n, err
}

// retry puts the tenant's placements matching cond back to pending and makes the
// jobs of their stores due now. It returns how many it put back.
func (d *DB) retry(ctx context.Context, tx *sqlx.Tx, tenantID int64, cond string, args ...any) (int, error) {
	var stores []struct {
		Kind string `db:"store_kind"`
		Name string `db:"store_name"`
	}
	all := append([]any{tenantID}, args...)
	// One order for every transaction (as enqueueAll), so that two retries never
	// wait for each other's job rows in a cycle.
	if err := tx.SelectContext(ctx, &stores, `SELECT DISTINCT store_kind, store_name FROM placements WHERE tenant_id = ? AND `+cond+`
		ORDER BY store_kind, store_name`, all...); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'pending', stuck = FALSE, error = '', updated_at = ?
		WHERE tenant_id = ? AND `+cond, append([]any{d.now()}, all...)...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	for _, s := range stores {
		k := storeKey{s.Kind, s.Name}
		if _, err := d.enqueue(ctx, tx, tenantID, k, false); err != nil {
			return 0, err
		}
		if err := d.endBackoff(ctx, tx, tenantID, k); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// endBackoff makes the store's queued job due now, however long the backoff of
// its last failure still had to run: the store was fixed (a check passed) or
// someone asked to retry now. The attempt count stays, so that a store still
// failing keeps backing off from where it was. A Git store's push interval, and
// a wait its host asked for, still hold (pushDue).
func (d *DB) endBackoff(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey) error {
	now := d.now()
	due, args := d.pushDue(tenantID, k, now)
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET run_after = `+due+`, updated_at = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state = 'queued' AND run_after > ?`, append(args, now, tenantID, k.kind, k.name, now)...)
	return err
}

// countText reads "1 placement" or "3 placements".
func countText(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return itoa(int64(n)) + " " + noun + "s"
}

// StoreRetrying reports the store's write in backoff, if any (ok false when the
// store has no queued job after a failed try).
func (d *DB) StoreRetrying(ctx context.Context, tenantID int64, kind, name string) (tenants.StoreRetry, bool, error) {
	var r jobRow
	err := d.r.GetContext(ctx, &r, `SELECT `+jobCols+` FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state = 'queued' AND attempts > 0`, tenantID, kind, name)
	if errors.Is(err, sql.ErrNoRows) {
		return tenants.StoreRetry{}, false, nil
	}
	if err != nil {
		return tenants.StoreRetry{}, false, err
	}
	out := tenants.StoreRetry{Attempts: r.Attempts, NextAttemptAt: r.RunAfter, LastError: r.LastError}
	err = d.r.GetContext(ctx, &out.Placements, `SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state = 'retrying'`, tenantID, kind, name)
	return out, err == nil, err
}
