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
	UserID     *int64     `db:"user_id"`
	Person     *string    `db:"person"`
}

func (r tokenRow) domain() tenants.Token {
	t := tenants.Token{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Role: tenants.Role(r.Role),
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
	if r.UserID != nil {
		t.UserID = *r.UserID
	}
	if r.Person != nil {
		t.Person = *r.Person
	}
	return t
}

// tokenCols are a token's columns with its person's email, from api_tokens t
// LEFT JOIN users u.
const tokenCols = `t.id, t.tenant_id, t.name, t.role, t.created_at, t.last_used_at, t.revoked_at, t.user_id, u.email AS person`

// TokenPrefix starts every API token so that secret scanners and people can tell
// what it is.
const TokenPrefix = "swt_"

// CreateToken makes an API token for a tenant and returns the token secret, shown
// once; only its hash is stored.
func (d *DB) CreateToken(ctx context.Context, tenantID int64, name string, role tenants.Role) (tenants.Token, string, error) {
	return d.createToken(ctx, tenantID, nil, name, role)
}

// CreatePersonToken makes an API token that acts for a person (`stateward
// login`): when used, it may do no more than the lower of role and the person's
// role in the tenant at that moment, and nothing once they are no longer in it.
func (d *DB) CreatePersonToken(ctx context.Context, tenantID, userID int64, name string, role tenants.Role) (tenants.Token, string, error) {
	return d.createToken(ctx, tenantID, &userID, name, role)
}

func (d *DB) createToken(ctx context.Context, tenantID int64, userID *int64, name string, role tenants.Role) (tenants.Token, string, error) {
	if name == "" {
		return tenants.Token{}, "", tenants.Invalid("name", "is required")
	}
	if len(name) > 100 {
		return tenants.Token{}, "", tenants.Invalid("name", "must be at most 100 characters")
	}
	secret, _ := tenants.NewSecret()
	secret = TokenPrefix + secret
	now := d.now()
	var id int64
	err := d.w.GetContext(ctx, &id, `INSERT INTO api_tokens (tenant_id, name, role, hash, created_at, user_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		tenantID, name, role, tenants.HashSecret(secret), now, userID)
	if err != nil {
		return tenants.Token{}, "", err
	}
	tok := tenants.Token{ID: id, TenantID: tenantID, Name: name, Role: role, CreatedAt: now}
	if userID != nil {
		tok.UserID = *userID
	}
	return tok, secret, nil
}

// Tokens lists a tenant's tokens, newest first, each with the person it acts for
// (if any).
func (d *DB) Tokens(ctx context.Context, tenantID int64) ([]tenants.Token, error) {
	var rows []tokenRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+tokenCols+`
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.tenant_id = ? ORDER BY t.id DESC`, tenantID)
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

// TokenAndTenant finds the live token for a presented secret, and its tenant
// in the same query (the API's authentication is one round trip); unknown or revoked →
// ErrUnauthenticated. The Role it answers is what the token may do now: for a
// token that acts for a person, the lower of its own role and that person's
// current role in the tenant (as a member, or through IdP groups read less than
// GroupAccessTTL ago, as RoleOf counts them), and ErrUnauthenticated when they
// hold none — all read in the same query as the token. Last-used is recorded at
// most once a minute.
func (d *DB) TokenAndTenant(ctx context.Context, secret string) (tenants.Token, tenants.Tenant, error) {
	var r tokenAuthRow
	q, args := d.tokenAuthSQL(secret)
	err := d.r.QueryRowxContext(ctx, q, args...).Scan(r.dest()...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return tenants.Token{}, tenants.Tenant{}, err
	}
	r.found = err == nil
	tok, t, touch, err := r.evaluate(d.now())
	if err == nil && touch {
		_, err = d.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, d.now(), tok.ID)
	}
	return tok, t, err
}

// tokenAuthRow is a token as authentication reads it: its row, its person's
// roles in its tenant, and its tenant.
type tokenAuthRow struct {
	tokenRow
	found      bool
	MemberRole *string
	GroupRank  *int64
	TSlug      string
	TName      string
	TDomain    string
	TCreated   time.Time
}

// dest are the fields tokenAuthSQL's columns scan into, in order.
func (r *tokenAuthRow) dest() []any {
	return []any{&r.ID, &r.TenantID, &r.Name, &r.Role, &r.CreatedAt, &r.LastUsedAt, &r.RevokedAt, &r.UserID, &r.Person,
		&r.MemberRole, &r.TSlug, &r.TName, &r.TDomain, &r.TCreated, &r.GroupRank}
}

// tokenAuthSQL reads the token a secret is: see tokenAuthRow.
func (d *DB) tokenAuthSQL(secret string) (string, []any) {
	return `SELECT ` + tokenCols + `, m.role AS member_role,
		tn.slug AS t_slug, tn.name AS t_name, tn.allowed_domain AS t_allowed_domain, tn.created_at AS t_created_at,
		(SELECT MAX(CASE gr.role WHEN 'owner' THEN 3 WHEN 'editor' THEN 2 WHEN 'viewer' THEN 1 ELSE 0 END)
			FROM group_roles gr JOIN user_groups ug ON ug.group_name = gr.group_name
			WHERE ug.user_id = t.user_id AND gr.tenant_id = t.tenant_id AND u.groups_at >= ?) AS group_rank
		FROM api_tokens t
		JOIN tenants tn ON tn.id = t.tenant_id
		LEFT JOIN users u ON u.id = t.user_id
		LEFT JOIN members m ON m.tenant_id = t.tenant_id AND m.user_id = t.user_id
		WHERE t.hash = ?`, []any{d.now().Add(-GroupAccessTTL), tenants.HashSecret(secret)}
}

// evaluate answers the token (with the role it may use now), its tenant, and
// whether its last use is to be recorded (at most once a minute); unknown,
// revoked, or acting for a person who holds no role in the team →
// ErrUnauthenticated.
func (r *tokenAuthRow) evaluate(now time.Time) (tenants.Token, tenants.Tenant, bool, error) {
	if !r.found || r.RevokedAt != nil {
		return tenants.Token{}, tenants.Tenant{}, false, tenants.ErrUnauthenticated
	}
	if r.UserID != nil {
		var person tenants.Role
		if r.MemberRole != nil {
			person = tenants.Role(*r.MemberRole)
		}
		if r.GroupRank != nil {
			person = tenants.Higher(person, roleOfRank(int(*r.GroupRank)))
		}
		if person == "" {
			return tenants.Token{}, tenants.Tenant{}, false, tenants.ErrUnauthenticated
		}
		r.Role = string(tenants.Lower(tenants.Role(r.Role), person))
	}
	touch := r.LastUsedAt == nil || now.Sub(*r.LastUsedAt) > time.Minute
	t := tenantRow{ID: r.TenantID, Slug: r.TSlug, Name: r.TName, AllowedDomain: r.TDomain, CreatedAt: r.TCreated}
	return r.domain(), t.domain(), touch, nil
}

// roleOfRank reads the rank tokenAuthSQL gives a group role.
func roleOfRank(rank int) tenants.Role {
	switch rank {
	case 3:
		return tenants.RoleOwner
	case 2:
		return tenants.RoleEditor
	case 1:
		return tenants.RoleViewer
	}
	return ""
}

// TenantByID finds a tenant by id (for token principals).
func (d *DB) TenantByID(ctx context.Context, id int64) (tenants.Tenant, error) {
	var r tenantRow
	err := d.r.GetContext(ctx, &r, `SELECT id, slug, name, allowed_domain, created_at FROM tenants WHERE id = ?`, id)
	return r.domain(), mapErr(err, "team", "")
}
