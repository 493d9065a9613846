package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/jmoiron/sqlx"
)

// Owner kinds of sealed credentials.
const (
	ownerGit    = "git"
	ownerBucket = "bucket"
	ownerSecret = "secret"
)

func binding(tenantID int64, kind string, ownerID int64, field string) string {
	return fmt.Sprintf("tenant/%d/%s/%d/%s", tenantID, kind, ownerID, field)
}

// replaceCredentials seals every non-empty value and replaces the owner's previous
// credentials with them.
func (d *DB) replaceCredentials(ctx context.Context, tx *sqlx.Tx, tenantID int64, kind string, ownerID int64, values map[string]string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE tenant_id = ? AND owner_kind = ? AND owner_id = ?`,
		tenantID, kind, ownerID); err != nil {
		return err
	}
	fields := make([]string, 0, len(values))
	for f := range values {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		if values[f] == "" {
			continue
		}
		sealed, err := d.sealer.Seal(binding(tenantID, kind, ownerID, f), values[f])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO credentials (tenant_id, owner_kind, owner_id, field, sealed) VALUES (?, ?, ?, ?, ?)`,
			tenantID, kind, ownerID, f, sealed); err != nil {
			return err
		}
	}
	return nil
}

// loadCredentials opens an owner's credentials.
func (d *DB) loadCredentials(ctx context.Context, q sqlx.QueryerContext, tenantID int64, kind string, ownerID int64) (map[string]string, error) {
	var rows []struct {
		Field  string `db:"field"`
		Sealed string `db:"sealed"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT field, sealed FROM credentials WHERE tenant_id = ? AND owner_kind = ? AND owner_id = ?`,
		tenantID, kind, ownerID); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		pt, _, err := d.sealer.Open(binding(tenantID, kind, ownerID, r.Field), r.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open credential %s: %w", r.Field, err)
		}
		out[r.Field] = pt
	}
	return out, nil
}

// RotateKeys re-seals every credential (and the canary) under the current key and
// reports how many values it re-sealed.
func (d *DB) RotateKeys(ctx context.Context) (int, error) {
	n := 0
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		n = 0 // the closure may run again (PostgreSQL retries)
		var rows []struct {
			TenantID int64  `db:"tenant_id"`
			Kind     string `db:"owner_kind"`
			OwnerID  int64  `db:"owner_id"`
			Field    string `db:"field"`
			Sealed   string `db:"sealed"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT tenant_id, owner_kind, owner_id, field, sealed FROM credentials`); err != nil {
			return err
		}
		for _, r := range rows {
			b := binding(r.TenantID, r.Kind, r.OwnerID, r.Field)
			pt, _, err := d.sealer.Open(b, r.Sealed)
			if err != nil {
				return fmt.Errorf("credential %s of %s %d: %w", r.Field, r.Kind, r.OwnerID, err)
			}
			sealed, err := d.sealer.Seal(b, pt)
			if err != nil {
				return err
			}
			// Only if unchanged since read: a credential saved meanwhile (sealed with
			// the current key already) must not be replaced by its old value.
			if _, err := tx.ExecContext(ctx, `UPDATE credentials SET sealed = ? WHERE tenant_id = ? AND owner_kind = ? AND owner_id = ? AND field = ?
				AND sealed = ?`, sealed, r.TenantID, r.Kind, r.OwnerID, r.Field, r.Sealed); err != nil {
				return err
			}
			n++
		}
		sealed, err := d.sealer.Seal(canaryBinding, canaryText)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'seal_canary'`, sealed)
		return err
	})
	return n, err
}

// SaveSecret stores a Kubernetes Secret's values sealed (from imported Kratix YAML),
// replacing an earlier one of the same name.
func (d *DB) saveSecret(ctx context.Context, tx *sqlx.Tx, tenantID int64, name string, data map[string]string) error {
	var id int64
	err := tx.GetContext(ctx, &id, `INSERT INTO secrets (tenant_id, name, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET updated_at = excluded.updated_at RETURNING id`, tenantID, name, d.now())
	if err != nil {
		return err
	}
	return d.replaceCredentials(ctx, tx, tenantID, ownerSecret, id, data)
}

// Secret returns a stored Secret's values.
func (d *DB) Secret(ctx context.Context, tenantID int64, name string) (map[string]string, bool, error) {
	var id int64
	if err := d.r.GetContext(ctx, &id, `SELECT id FROM secrets WHERE tenant_id = ? AND name = ?`, tenantID, name); err != nil {
		return nil, false, mapMissing(err)
	}
	data, err := d.loadCredentials(ctx, d.r, tenantID, ownerSecret, id)
	return data, err == nil, err
}

// mapMissing turns "no rows" into nil, for lookups where absence is an answer.
func mapMissing(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
