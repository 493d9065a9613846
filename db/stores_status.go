package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type statusCols struct {
	Ready         sql.NullBool `db:"ready"`
	Message       string       `db:"status_message"`
	LastChecked   *time.Time   `db:"last_checked"`
	WriteError    string       `db:"write_error"`
	WriteFailedAt *time.Time   `db:"write_failed_at"`
}

func (s statusCols) domain() tenants.Status {
	st := tenants.Status{Message: s.Message, LastChecked: s.LastChecked, WriteError: s.WriteError, WriteFailedAt: s.WriteFailedAt}
	if s.Ready.Valid {
		r := s.Ready.Bool
		st.Ready = &r
	}
	return st
}

// SetStoreStatus records a readiness check's outcome. A check that passed ends
// the store's backoff (its queued job is due now: a fixed store is written at
// once, not when the backoff of its last failure runs out) and clears a write
// failure recorded before the check started. A store that was failing and is
// ready again re-plans the tenant's Works, so that resource requests left
// unscheduled because of it find their Destination now. The message, worded by
// the remote, is kept as tenants.RemoteText.
func (d *DB) SetStoreStatus(ctx context.Context, tenantID int64, kind, name string, ready bool, message string, checkedAt time.Time) error {
	table, _ := storeTable(kind)
	message = tenants.RemoteText(message)
	checkedAt = checkedAt.UTC().Truncate(d.dialect.precision)
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, true); err != nil {
			return err
		}
		var was sql.NullBool
		if err := tx.GetContext(ctx, &was, `SELECT ready FROM `+table+` WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
			return mapErr(err, kind, name)
		}
		// A check that started before the last recorded one, or before the settings
		// changed, is stale (another replica's slow check): it changes nothing.
		res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET ready = ?, status_message = ?, last_checked = ?
			WHERE tenant_id = ? AND name = ? AND updated_at <= ? AND (last_checked IS NULL OR last_checked <= ?)`,
			ready, message, checkedAt, tenantID, name, checkedAt, checkedAt)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || !ready {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET write_error = '', write_failed_at = NULL
			WHERE tenant_id = ? AND name = ? AND write_error <> '' AND write_failed_at <= ?`, tenantID, name, checkedAt); err != nil {
			return err
		}
		if err := d.endBackoff(ctx, tx, tenantID, storeKey{kind, name}); err != nil {
			return err
		}
		if was.Valid && !was.Bool {
			return d.replanTenant(ctx, tx, tenantID)
		}
		return nil
	})
}

// AllStores lists every store of every tenant, for the periodic readiness check.
func (d *DB) AllStores(ctx context.Context) ([]tenants.StoreRef, error) {
	var rows []struct {
		TenantID int64  `db:"tenant_id"`
		Kind     string `db:"kind"`
		Name     string `db:"name"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT tenant_id, 'GitStateStore' AS kind, name FROM git_stores
		UNION ALL SELECT tenant_id, 'BucketStateStore', name FROM bucket_stores ORDER BY 1, 2, 3`)
	refs := make([]tenants.StoreRef, len(rows))
	for i, r := range rows {
		refs[i] = tenants.StoreRef{TenantID: r.TenantID, Kind: r.Kind, Name: r.Name}
	}
	return refs, err
}

// StoreStatuses returns every store's last readiness outcome, for the
// stateward_store_ready gauge: read from the database, so that every replica
// reports the checks any replica ran.
func (d *DB) StoreStatuses(ctx context.Context) (map[tenants.StoreRef]tenants.Status, error) {
	var rows []struct {
		TenantID int64  `db:"tenant_id"`
		Kind     string `db:"kind"`
		Name     string `db:"name"`
		statusCols
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT tenant_id, 'GitStateStore' AS kind, name, ready, status_message, last_checked,
		write_error, write_failed_at FROM git_stores
		UNION ALL SELECT tenant_id, 'BucketStateStore', name, ready, status_message, last_checked, write_error, write_failed_at
		FROM bucket_stores`)
	out := make(map[tenants.StoreRef]tenants.Status, len(rows))
	for _, r := range rows {
		out[tenants.StoreRef{TenantID: r.TenantID, Kind: r.Kind, Name: r.Name}] = r.domain()
	}
	return out, err
}
