package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// destinationSaved runs in the transaction that created or updated dest: it brings
// the canary files in line with initWorkloads (written, or removed when turned off)
// and re-plans the tenant's Works, which may now land on dest or move with its path.
func (d *DB) destinationSaved(ctx context.Context, tx *sqlx.Tx, dest *tenants.Destination) error {
	if err := d.syncCanary(ctx, tx, dest); err != nil {
		return err
	}
	return d.replanTenant(ctx, tx, dest.TenantID)
}

// syncCanary upserts the Destination's canary row when its files or intent change.
// While the Destination's store does not exist, or waits for its Secret, nothing
// can be written: the canary waits too, and storeSaved syncs it when the store can
// be written to.
func (d *DB) syncCanary(ctx context.Context, tx *sqlx.Tx, dest *tenants.Destination) error {
	table, _ := storeTable(dest.StoreKind)
	var store struct {
		Path    string `db:"path"`
		Missing bool   `db:"secret_missing"`
	}
	err := tx.GetContext(ctx, &store, `SELECT path, secret_missing FROM `+table+` WHERE tenant_id = ? AND name = ?`,
		dest.TenantID, dest.StoreName)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && store.Missing) {
		return nil
	}
	if err != nil {
		return err
	}
	storePath := store.Path
	files, keys, err := canaryFiles(storePath, *dest)
	if err != nil {
		return tenants.Invalid("spec.path", "%v", err)
	}
	intent := intentWrite
	if !dest.InitWorkloads {
		intent = intentDelete
	}
	var old canaryRow
	err = tx.GetContext(ctx, &old, `SELECT `+canaryCols+` FROM canaries WHERE tenant_id = ? AND destination_id = ?`, dest.TenantID, dest.ID)
	switch {
	case errors.Is(err, sql.ErrNoRows) && intent == intentDelete:
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	case err == nil && old.Files == files && old.Intent == intent && old.StoreName == dest.StoreName:
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO canaries (tenant_id, destination_id, destination_name, store_kind, store_name, files,
		intent, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
		ON CONFLICT (tenant_id, destination_id) DO UPDATE SET destination_name = excluded.destination_name,
		store_kind = excluded.store_kind, store_name = excluded.store_name, files = excluded.files, intent = excluded.intent,
		state = 'pending', error = '', generation = canaries.generation + 1, updated_at = excluded.updated_at`,
		dest.TenantID, dest.ID, dest.Name, dest.StoreKind, dest.StoreName, files, intent, d.now())
	if err != nil {
		return err
	}
	var id int64
	if err := tx.GetContext(ctx, &id, `SELECT id FROM canaries WHERE tenant_id = ? AND destination_id = ?`, dest.TenantID, dest.ID); err != nil {
		return err
	}
	if intent == intentDelete {
		keys = nil
	}
	if err := d.claimCanary(ctx, tx, dest.TenantID, storeKey{dest.StoreKind, dest.StoreName}, id, keys); err != nil {
		return err
	}
	_, err = d.enqueue(ctx, tx, dest.TenantID, storeKey{dest.StoreKind, dest.StoreName}, false)
	return err
}

// destinationDeleted runs in the transaction that deletes a Destination. With
// cleanup "all" every placement's files and then the canary files are removed by
// the store's next job; with "none" they stay in the store and Stateward forgets
// them. Either way the tenant's Works are re-planned afterwards (a resource
// request moves to another matching Destination).
func (d *DB) destinationDeleted(ctx context.Context, tx *sqlx.Tx, r destRow) error {
	if r.Cleanup != tenants.CleanupAll {
		for _, table := range []string{"placements", "canaries"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND destination_id = ?`, r.TenantID, r.ID); err != nil {
				return err
			}
		}
		return nil
	}
	now := d.now()
	if _, err := tx.ExecContext(ctx, `UPDATE placements SET intent = 'delete', state = 'pending', generation = generation + 1,
		attempts = 0, error = '', stuck = FALSE, updated_at = ? WHERE tenant_id = ? AND destination_id = ?`, now, r.TenantID, r.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM claims WHERE tenant_id = ? AND (placement_id IN (SELECT id FROM placements
		WHERE tenant_id = ? AND destination_id = ?) OR canary_id IN (SELECT id FROM canaries WHERE tenant_id = ? AND destination_id = ?))`,
		r.TenantID, r.TenantID, r.ID, r.TenantID, r.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE canaries SET intent = 'delete', state = 'pending', generation = generation + 1,
		error = '', updated_at = ? WHERE tenant_id = ? AND destination_id = ?`, now, r.TenantID, r.ID); err != nil {
		return err
	}
	_, err := d.enqueue(ctx, tx, r.TenantID, storeKey{r.StoreKind, r.StoreName}, false)
	return err
}

// storeSaved runs in the transaction that created or updated a store: a store
// waiting for its Secret is not ready, with the reason, until the Secret comes;
// then the store's Destinations (which may have waited for it) are brought in line.
func (d *DB) storeSaved(ctx context.Context, tx *sqlx.Tx, tenantID int64, kind, name, secretRef string, secretMissing bool) error {
	if secretMissing {
		table, _ := storeTable(kind)
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET ready = FALSE, status_message = ?, last_checked = ?
			WHERE tenant_id = ? AND name = ?`, tenants.SecretMissingMessage(secretRef), d.now(), tenantID, name); err != nil {
			return err
		}
	}
	return d.storeChanged(ctx, tx, tenantID, kind, name)
}

// storeChanged runs in the transaction that updated a store: its path may have
// moved, so the canary files of its Destinations and the tenant's Works are planned
// again (files at the old path are removed by the next job).
func (d *DB) storeChanged(ctx context.Context, tx *sqlx.Tx, tenantID int64, kind, name string) error {
	var rows []destRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND store_kind = ? AND store_name = ?`,
		tenantID, kind, name); err != nil {
		return err
	}
	for _, r := range rows {
		dest := r.domain()
		if err := d.syncCanary(ctx, tx, &dest); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return d.replanTenant(ctx, tx, tenantID)
}
