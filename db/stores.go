package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// Apply actions, as the API reports them.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
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

// DeleteStore deletes a store of kind ("GitStateStore" or "BucketStateStore"),
// refused while Destinations use it (naming them) and while removals of files from
// it are still to be written (a Destination deleted with cleanup "all"): those are
// carried out first, or dropped explicitly with DropStore.
func (d *DB) DeleteStore(ctx context.Context, tenantID int64, kind, name string) error {
	_, err := d.deleteStore(ctx, tenantID, kind, name, false)
	return err
}

// DropStore deletes a store like DeleteStore, forgetting the removals still to be
// written to it (their files stay in the store); it returns how many it dropped.
func (d *DB) DropStore(ctx context.Context, tenantID int64, kind, name string) (int, error) {
	return d.deleteStore(ctx, tenantID, kind, name, true)
}

func (d *DB) deleteStore(ctx context.Context, tenantID int64, kind, name string, drop bool) (int, error) {
	table, owner := storeTable(kind)
	dropped := 0
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, true); err != nil {
			return err
		}
		var users []string
		if err := tx.SelectContext(ctx, &users, `SELECT name FROM destinations WHERE tenant_id = ? AND store_kind = ? AND store_name = ? ORDER BY name`,
			tenantID, kind, name); err != nil {
			return err
		}
		if len(users) > 0 {
			return tenants.Conflict("%s %q is used by Destinations %v; delete or move them first", kind, name, users)
		}
		var pending int
		if err := tx.GetContext(ctx, &pending, `SELECT (SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND store_kind = ? AND store_name = ?)
			+ (SELECT COUNT(*) FROM canaries WHERE tenant_id = ? AND store_kind = ? AND store_name = ?)`,
			tenantID, kind, name, tenantID, kind, name); err != nil {
			return err
		}
		if pending > 0 && !drop {
			return tenants.Conflict("%s %q still has %d removal(s) of files to write (from Destinations deleted with cleanup \"all\"); they are retried until the store takes them. Delete it once they are done, or delete with ?dropPending=true to leave those files in the store",
				kind, name, pending)
		}
		dropped = pending
		for _, table := range []string{"placements", "canaries"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND store_kind = ? AND store_name = ?`,
				tenantID, kind, name); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'queued'`,
			tenantID, kind, name); err != nil {
			return err
		}
		var id int64
		if err := tx.GetContext(ctx, &id, `DELETE FROM `+table+` WHERE tenant_id = ? AND name = ? RETURNING id`, tenantID, name); err != nil {
			return mapErr(err, kind, name)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE tenant_id = ? AND owner_kind = ? AND owner_id = ?`, tenantID, owner, id)
		return err
	})
	return dropped, err
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

func storeTable(kind string) (table, owner string) {
	if kind == tenants.KindBucket {
		return "bucket_stores", ownerBucket
	}
	return "git_stores", ownerGit
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

// existsOr is the conflict for a name that exists, or the lookup's own error.
func existsOr(err error, kind, name string) error {
	if err != nil {
		return err
	}
	return tenants.Conflict("%s %q already exists", kind, name)
}

// StorePath is a store's spec.path, read without opening its credentials (the
// live preview asks on every keystroke).
func (d *DB) StorePath(ctx context.Context, tenantID int64, kind, name string) (string, error) {
	table, _ := storeTable(kind)
	var p string
	err := d.r.GetContext(ctx, &p, `SELECT path FROM `+table+` WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return p, mapErr(err, kind, name)
}
