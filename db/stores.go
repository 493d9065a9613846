package db

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

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

func storeTable(kind string) (table, owner string) {
	if kind == tenants.KindBucket {
		return "bucket_stores", ownerBucket
	}
	return "git_stores", ownerGit
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
