package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/stateward/stateward/tenants"
)

type tokenRow struct {
	ID         int64      `db:"id"`
	TenantID   int64      `db:"tenant_id"`
	Name       string     `db:"name"`
	Role       string     `db:"role"`
	CreatedAt  time.Time  `db:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
}

func (r tokenRow) domain() tenants.Token {
	return tenants.Token{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Role: tenants.Role(r.Role),
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// TokenPrefix starts every API token so that secret scanners and people can tell
// what it is.
const TokenPrefix = "swt_"

// CreateToken makes an API token for a tenant and returns the token secret, shown
// once; only its hash is stored.
func (d *DB) CreateToken(ctx context.Context, tenantID int64, name string, role tenants.Role) (tenants.Token, string, error) {
	if name == "" {
		return tenants.Token{}, "", tenants.Invalid("name", "is required")
	}
	if len(name) > 100 {
		return tenants.Token{}, "", tenants.Invalid("name", "must be at most 100 characters")
	}
	secret, _ := NewSecret()
	secret = TokenPrefix + secret
	now := d.now()
	var id int64
	err := d.w.GetContext(ctx, &id, `INSERT INTO api_tokens (tenant_id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		tenantID, name, role, HashSecret(secret), now)
	if err != nil {
		return tenants.Token{}, "", err
	}
	return tenants.Token{ID: id, TenantID: tenantID, Name: name, Role: role, CreatedAt: now}, secret, nil
}

// Tokens lists a tenant's tokens, newest first.
func (d *DB) Tokens(ctx context.Context, tenantID int64) ([]tenants.Token, error) {
	var rows []tokenRow
	err := d.r.SelectContext(ctx, &rows, `SELECT id, tenant_id, name, role, created_at, last_used_at, revoked_at
		FROM api_tokens WHERE tenant_id = ? ORDER BY id DESC`, tenantID)
	out := make([]tenants.Token, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// RevokeToken revokes a tenant's token.
func (d *DB) RevokeToken(ctx context.Context, tenantID, id int64) error {
	res, err := d.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
		d.now(), tenantID, id)
	return notFoundIfNone(res, err, "token", "")
}

// TokenBySecret finds the live token for a presented secret; unknown or revoked →
// ErrUnauthenticated. Last-used is recorded at most once a minute.
func (d *DB) TokenBySecret(ctx context.Context, secret string) (tenants.Token, error) {
	var r tokenRow
	err := d.r.GetContext(ctx, &r, `SELECT id, tenant_id, name, role, created_at, last_used_at, revoked_at
		FROM api_tokens WHERE hash = ?`, HashSecret(secret))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return tenants.Token{}, err
	}
	if err != nil || r.RevokedAt != nil {
		return tenants.Token{}, tenants.ErrUnauthenticated
	}
	now := d.now()
	if r.LastUsedAt == nil || now.Sub(*r.LastUsedAt) > time.Minute {
		if _, err := d.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now, r.ID); err != nil {
			return tenants.Token{}, err
		}
	}
	return r.domain(), nil
}

// TenantByID finds a tenant by id (for token principals).
func (d *DB) TenantByID(ctx context.Context, id int64) (tenants.Tenant, error) {
	var r tenantRow
	err := d.r.GetContext(ctx, &r, `SELECT id, slug, name, allowed_domain, created_at FROM tenants WHERE id = ?`, id)
	return r.domain(), mapErr(err, "team", "")
}
