package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type destRow struct {
	ID            int64     `db:"id"`
	TenantID      int64     `db:"tenant_id"`
	Name          string    `db:"name"`
	Labels        string    `db:"labels"`
	Path          string    `db:"path"`
	StoreKind     string    `db:"store_kind"`
	StoreName     string    `db:"store_name"`
	StrictMatch   bool      `db:"strict_match"`
	Mode          string    `db:"mode"`
	Filename      string    `db:"filename"`
	Cleanup       string    `db:"cleanup"`
	InitWorkloads bool      `db:"init_workloads"`
	UpdatedAt     time.Time `db:"updated_at"`
}

const destCols = `id, tenant_id, name, labels, path, store_kind, store_name, strict_match, mode, filename, cleanup, init_workloads, updated_at`

func (r destRow) domain() tenants.Destination {
	d := tenants.Destination{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Path: r.Path, StoreKind: r.StoreKind,
		StoreName: r.StoreName, StrictMatchLabels: r.StrictMatch, Mode: r.Mode, Filename: r.Filename, Cleanup: r.Cleanup,
		InitWorkloads: r.InitWorkloads, UpdatedAt: r.UpdatedAt, Labels: map[string]string{}}
	_ = json.Unmarshal([]byte(r.Labels), &d.Labels)
	return d
}

// Destinations lists a tenant's Destinations whose labels include selector (all
// when selector is empty). Each carries its store's status.
func (d *DB) Destinations(ctx context.Context, tenantID int64, selector map[string]string) ([]tenants.Destination, error) {
	return d.listDestinations(ctx, d.r, tenantID, selector)
}

func (d *DB) listDestinations(ctx context.Context, q sqlx.QueryerContext, tenantID int64, selector map[string]string) ([]tenants.Destination, error) {
	dests, _, err := d.destinationsAndStores(ctx, q, tenantID, selector)
	return dests, err
}

// destinationsAndStores is listDestinations, with the path and status of each of
// the tenant's stores.
func (d *DB) destinationsAndStores(ctx context.Context, q sqlx.QueryerContext, tenantID int64,
	selector map[string]string) ([]tenants.Destination, map[storeKey]storeInfo, error) {
	// Two plain queries joined here: on SQLite a join with a bound parameter costs
	// several times the queries alone, and this runs in every submit.
	var rows []destRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? ORDER BY name`,
		tenantID); err != nil {
		return nil, nil, err
	}
	stores, err := d.storeInfos(ctx, q, tenantID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]tenants.Destination, 0, len(rows))
	for _, r := range rows {
		st, ok := stores[storeKey{r.StoreKind, r.StoreName}]
		dest := r.withStore(st, ok)
		if tenants.Matches(dest.Labels, selector) {
			out = append(out, dest)
		}
	}
	return out, stores, nil
}

// withStore is the Destination of r showing its store's status st (found tells
// whether the store exists): a Destination waits, not ready, for a missing store
// and for its store's missing Secret.
func (r destRow) withStore(st storeInfo, found bool) tenants.Destination {
	dest := r.domain()
	dest.Status = st.statusCols.domain()
	switch {
	case !found:
		notReady := false
		dest.Waiting = tenants.StoreMissingMessage(dest.StoreKind, dest.StoreName)
		dest.Status = tenants.Status{Ready: &notReady, Message: dest.Waiting}
	case st.SecretMissing:
		dest.Waiting = dest.Status.Message
	}
	return dest
}

// storeInfo is what Destinations and planning need of a store.
type storeInfo struct {
	Kind string `db:"kind"`
	Name string `db:"name"`
	Path string `db:"path"`
	statusCols
	SecretMissing bool `db:"secret_missing"`
}

// storeInfoCols are the columns of a storeInfo but its kind.
const storeInfoCols = `name, path, ready, status_message, last_checked, write_error, write_failed_at, secret_missing`

// storeInfos reads the path and status of each of a tenant's stores, its last
// write failure included, so a Destination shows what its store shows (one
// statement: the union's times parse as the first table's column type says).
func (d *DB) storeInfos(ctx context.Context, q sqlx.QueryerContext, tenantID int64) (map[storeKey]storeInfo, error) {
	var rows []storeInfo
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT 'GitStateStore' AS kind, `+storeInfoCols+` FROM git_stores
		WHERE tenant_id = ? UNION ALL SELECT 'BucketStateStore', `+storeInfoCols+` FROM bucket_stores WHERE tenant_id = ?`,
		tenantID, tenantID); err != nil {
		return nil, err
	}
	out := make(map[storeKey]storeInfo, len(rows))
	for _, r := range rows {
		out[storeKey{r.Kind, r.Name}] = r
	}
	return out, nil
}

// storeInfoOf reads the path and status of one of a tenant's stores, as
// storeInfos does; found is false when the tenant has no such store.
func storeInfoOf(ctx context.Context, q sqlx.QueryerContext, tenantID int64, kind, name string) (st storeInfo, found bool, err error) {
	if kind != tenants.KindGit && kind != tenants.KindBucket {
		return storeInfo{}, false, nil // storeInfos knows only these two kinds
	}
	table, _ := storeTable(kind)
	err = sqlx.GetContext(ctx, q, &st, `SELECT '`+kind+`' AS kind, `+storeInfoCols+` FROM `+table+` WHERE tenant_id = ? AND name = ?`,
		tenantID, name)
	if errors.Is(err, sql.ErrNoRows) {
		return storeInfo{}, false, nil
	}
	return st, err == nil, err
}

// Destination finds one Destination, with its store's status as Destinations
// shows it: its row and its store's, not the whole team's.
func (d *DB) Destination(ctx context.Context, tenantID int64, name string) (tenants.Destination, error) {
	var r destRow
	if err := d.r.GetContext(ctx, &r, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
		return tenants.Destination{}, mapErr(err, "Destination", name)
	}
	st, found, err := storeInfoOf(ctx, d.r, tenantID, r.StoreKind, r.StoreName)
	if err != nil {
		return tenants.Destination{}, err
	}
	return r.withStore(st, found), nil
}

// DestinationsOn names, sorted, the team's Destinations that write to store
// kind/name (the store's page lists them): one indexed query, not the team's list.
func (d *DB) DestinationsOn(ctx context.Context, tenantID int64, kind, name string) ([]string, error) {
	names := []string{}
	err := d.r.SelectContext(ctx, &names, `SELECT name FROM destinations WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		ORDER BY name`, tenantID, kind, name)
	return names, err
}

// SaveDestination creates or updates a Destination by name. It checks, inside the
// transaction, that its path does not overlap another Destination's on the same
// store and that the filepath mode is not changed. Its store need not exist yet
// (objects apply in any order, as in Kratix): the Destination then waits for it,
// not ready, and nothing is placed on it until the store is saved. A new path
// puts its placements back to pending in the same transaction (written at the new
// keys, removed from the old ones), and Saved.Message says so.
func (d *DB) SaveDestination(ctx context.Context, dest tenants.Destination) (tenants.Saved, error) {
	var saved tenants.Saved
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, dest.TenantID, true); err != nil {
			return err
		}
		var err error
		saved, err = d.saveDestination(ctx, tx, &dest)
		return err
	})
	return saved, err
}

func (d *DB) saveDestination(ctx context.Context, tx *sqlx.Tx, dest *tenants.Destination) (tenants.Saved, error) {
	if err := d.checkDestination(ctx, tx, dest); err != nil {
		return tenants.Saved{}, err
	}
	labels, _ := json.Marshal(dest.Labels)
	var old destRow
	err := tx.GetContext(ctx, &old, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND name = ?`, dest.TenantID, dest.Name)
	if err != nil && !isNotFound(mapErr(err, "", "")) {
		return tenants.Saved{}, err
	}
	if err != nil {
		err = tx.GetContext(ctx, &dest.ID, `INSERT INTO destinations (tenant_id, name, labels, path, store_kind, store_name, strict_match,
			mode, filename, cleanup, init_workloads, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			dest.TenantID, dest.Name, string(labels), dest.Path, dest.StoreKind, dest.StoreName, dest.StrictMatchLabels,
			dest.Mode, dest.Filename, dest.Cleanup, dest.InitWorkloads, d.now())
		if err != nil {
			return tenants.Saved{}, mapErr(err, "Destination", dest.Name)
		}
		return tenants.Saved{Action: tenants.ActionCreated}, d.destinationSaved(ctx, tx, dest)
	}
	if old.StoreKind != dest.StoreKind || old.StoreName != dest.StoreName {
		// Moving would leave every placed file behind in the old store.
		return tenants.Saved{}, tenants.Invalid("spec.stateStoreRef", "cannot move %q from %s %q to another State Store: its files would be left behind; "+
			"create a new Destination on the other store, then delete this one (cleanup: all removes its files)", dest.Name, old.StoreKind, old.StoreName)
	}
	if old.Mode != dest.Mode {
		return tenants.Saved{}, tenants.Invalid("spec.filepath.mode", "is immutable: %q was created with %s; delete and re-create it to change the layout", dest.Name, old.Mode)
	}
	dest.ID = old.ID
	if sameDestination(old.domain(), *dest) {
		return tenants.Saved{Action: tenants.ActionUnchanged}, nil
	}
	scope := destinationScope(dest.TenantID, dest.ID)
	before, err := d.liveGenerations(ctx, tx, scope)
	if err != nil {
		return tenants.Saved{}, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE destinations SET labels = ?, path = ?, store_kind = ?, store_name = ?, strict_match = ?,
		filename = ?, cleanup = ?, init_workloads = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		string(labels), dest.Path, dest.StoreKind, dest.StoreName, dest.StrictMatchLabels, dest.Filename, dest.Cleanup,
		dest.InitWorkloads, d.now(), dest.TenantID, dest.ID)
	if err != nil {
		return tenants.Saved{}, err
	}
	moved := old.Path != dest.Path
	if moved {
		// Every key of the Destination moves: claimed again from the new plans.
		if err := d.replace(ctx, tx, dest.TenantID, scope); err != nil {
			return tenants.Saved{}, err
		}
	}
	if err := d.destinationSaved(ctx, tx, dest); err != nil {
		return tenants.Saved{}, err
	}
	if !moved {
		return tenants.Saved{Action: tenants.ActionUpdated}, nil
	}
	n, err := d.rewritten(ctx, tx, scope, before)
	return tenants.Saved{Action: tenants.ActionUpdated, Message: destinationMoveMessage(n)}, err
}

// CheckDestination runs, without saving, the check that saving dest runs against
// the other Destinations (paths on one store must not overlap): the live preview
// and the form's inline validation show the error Create would answer.
func (d *DB) CheckDestination(ctx context.Context, dest tenants.Destination) error {
	return d.checkDestination(ctx, d.r, &dest)
}

func (d *DB) checkDestination(ctx context.Context, q sqlx.QueryerContext, dest *tenants.Destination) error {
	var others []destRow
	if err := sqlx.SelectContext(ctx, q, &others, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND name <> ?`,
		dest.TenantID, dest.StoreKind, dest.StoreName, dest.Name); err != nil {
		return err
	}
	for _, o := range others {
		od := o.domain()
		if od.Overlaps(dest) {
			return tenants.Invalid("spec.path", "%q overlaps Destination %q (path %q) on the same State Store; paths must not be equal or nested", dest.Path, od.Name, od.Path)
		}
	}
	return nil
}

func sameDestination(a, b tenants.Destination) bool {
	a.Status, b.Status = tenants.Status{}, tenants.Status{}
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	a.ID, b.ID = 0, 0
	la, _ := json.Marshal(a.Labels)
	lb, _ := json.Marshal(b.Labels)
	a.Labels, b.Labels = nil, nil
	return string(la) == string(lb) && equalDest(a, b)
}

func equalDest(a, b tenants.Destination) bool {
	return a.Name == b.Name && a.Path == b.Path && a.StoreKind == b.StoreKind && a.StoreName == b.StoreName &&
		a.StrictMatchLabels == b.StrictMatchLabels && a.Mode == b.Mode && a.Filename == b.Filename &&
		a.Cleanup == b.Cleanup && a.InitWorkloads == b.InitWorkloads && a.TenantID == b.TenantID
}

// DeleteDestination deletes a Destination. With cleanup "all" its placements'
// files and canary files are removed by the store's next job; the tenant's Works
// are re-planned.
func (d *DB) DeleteDestination(ctx context.Context, tenantID int64, name string) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, true); err != nil {
			return err
		}
		var r destRow
		err := tx.GetContext(ctx, &r, `SELECT `+destCols+` FROM destinations WHERE tenant_id = ? AND name = ?`, tenantID, name)
		if err != nil {
			return mapErr(err, "Destination", name)
		}
		if err := d.destinationDeleted(ctx, tx, r); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM destinations WHERE tenant_id = ? AND id = ?`, tenantID, r.ID); err != nil {
			return err
		}
		return d.replanTenant(ctx, tx, tenantID)
	})
}

// storeExists reports whether the tenant has the store of kind and name.
func storeExists(ctx context.Context, tx *sqlx.Tx, tenantID int64, kind, name string) (bool, error) {
	table, _ := storeTable(kind)
	var n int
	err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM `+table+` WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return n > 0, err
}

// CreateDestination creates a Destination, refusing a name that exists.
func (d *DB) CreateDestination(ctx context.Context, dest tenants.Destination) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, dest.TenantID, true); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM destinations WHERE tenant_id = ? AND name = ?`, dest.TenantID, dest.Name); err != nil {
			return err
		}
		if n > 0 {
			return tenants.Conflict("Destination %q already exists", dest.Name)
		}
		_, err := d.saveDestination(ctx, tx, &dest)
		return err
	})
}
