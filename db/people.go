package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type tenantRow struct {
	ID            int64     `db:"id"`
	Slug          string    `db:"slug"`
	Name          string    `db:"name"`
	AllowedDomain string    `db:"allowed_domain"`
	CreatedAt     time.Time `db:"created_at"`
}

func (r tenantRow) domain() tenants.Tenant {
	return tenants.Tenant{ID: r.ID, Slug: r.Slug, Name: r.Name, AllowedDomain: r.AllowedDomain, CreatedAt: r.CreatedAt}
}

// CreateTenant creates a tenant and, when ownerEmail is set, makes that person its
// owner (linking the user when it is known).
func (d *DB) CreateTenant(ctx context.Context, slug, name, ownerEmail string) (tenants.Tenant, error) {
	if err := tenants.ValidateSlug("slug", slug); err != nil {
		return tenants.Tenant{}, err
	}
	if name == "" {
		name = slug
	}
	var t tenants.Tenant
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		now := d.now()
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (slug, name, created_at) VALUES (?, ?, ?)`, slug, name, now)
		if err != nil {
			return mapErr(err, "team", slug)
		}
		id, _ := res.LastInsertId()
		t = tenants.Tenant{ID: id, Slug: slug, Name: name, CreatedAt: now}
		if ownerEmail == "" {
			return nil
		}
		return addMember(ctx, tx, id, ownerEmail, tenants.RoleOwner, now)
	})
	return t, err
}

func addMember(ctx context.Context, tx *sqlx.Tx, tenantID int64, email string, role tenants.Role, now time.Time) error {
	// Link at once only to a user whose IdP verified this email; anyone else
	// claiming it is linked (never) by UpsertUser's verified path.
	_, err := tx.ExecContext(ctx, `INSERT INTO members (tenant_id, email, user_id, role, added_at)
		VALUES (?, ?, (SELECT id FROM users WHERE email = ? AND email_verified ORDER BY id LIMIT 1), ?, ?)`,
		tenantID, email, email, role, now)
	return mapErr(err, "member", email)
}

// TenantBySlug finds a tenant.
func (d *DB) TenantBySlug(ctx context.Context, slug string) (tenants.Tenant, error) {
	var r tenantRow
	err := d.r.GetContext(ctx, &r, `SELECT id, slug, name, allowed_domain, created_at FROM tenants WHERE slug = ?`, slug)
	return r.domain(), mapErr(err, "team", slug)
}

// UpdateTenantSettings changes a tenant's display name and allowed email domain.
func (d *DB) UpdateTenantSettings(ctx context.Context, tenantID int64, name, domain string) error {
	_, err := d.w.ExecContext(ctx, `UPDATE tenants SET name = ?, allowed_domain = ? WHERE id = ?`, name, domain, tenantID)
	return err
}

// UpsertUser records a signed-in identity (issuer + subject) with the groups of
// this sign-in, and links any pending invitations for its verified email. It
// returns the user.
func (d *DB) UpsertUser(ctx context.Context, u tenants.User, emailVerified bool) (tenants.User, error) {
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		now := d.now()
		err := tx.GetContext(ctx, &u.ID, `INSERT INTO users (issuer, subject, email, name, email_verified, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, name = excluded.name, email_verified = excluded.email_verified
			RETURNING id`, u.Issuer, u.Subject, u.Email, u.Name, emailVerified, now)
		if err != nil {
			return err
		}
		if err := setUserGroups(ctx, tx, u.ID, u.Groups, now); err != nil {
			return err
		}
		if !emailVerified {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET user_id = ? WHERE email = ? AND user_id IS NULL`, u.ID, u.Email); err != nil {
			return err
		}
		// Automatic membership by verified email domain, as a viewer.
		_, err = tx.ExecContext(ctx, `INSERT INTO members (tenant_id, email, user_id, role, added_at)
			SELECT id, ?, ?, 'viewer', ? FROM tenants WHERE allowed_domain <> '' AND allowed_domain = ?
			ON CONFLICT (tenant_id, email) DO NOTHING`, u.Email, u.ID, now, tenants.EmailDomain(u.Email))
		return err
	})
	return u, err
}

// UserByID finds a user.
func (d *DB) UserByID(ctx context.Context, id int64) (tenants.User, error) {
	var u struct {
		ID       int64  `db:"id"`
		Issuer   string `db:"issuer"`
		Subject  string `db:"subject"`
		Email    string `db:"email"`
		Name     string `db:"name"`
		Verified bool   `db:"email_verified"`
	}
	err := d.r.GetContext(ctx, &u, `SELECT id, issuer, subject, email, name, email_verified FROM users WHERE id = ?`, id)
	return tenants.User{ID: u.ID, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name, EmailVerified: u.Verified},
		mapErr(err, "user", "")
}

// Memberships lists the tenants a user belongs to, by slug: as a member, or
// through IdP groups (the higher role wins).
func (d *DB) Memberships(ctx context.Context, userID int64) ([]tenants.Membership, error) {
	var rows []struct {
		tenantRow
		Role *string `db:"role"`
	}
	byGroup, err := d.groupRolesOf(ctx, userID, nil)
	if err != nil {
		return nil, err
	}
	err = d.r.SelectContext(ctx, &rows, `SELECT t.id, t.slug, t.name, t.allowed_domain, t.created_at, m.role
		FROM tenants t LEFT JOIN members m ON m.tenant_id = t.id AND m.user_id = ?
		WHERE m.user_id IS NOT NULL OR t.id IN (SELECT gr.tenant_id FROM group_roles gr JOIN user_groups ug
			ON ug.group_name = gr.group_name WHERE ug.user_id = ?)
		ORDER BY t.slug`, userID, userID)
	out := make([]tenants.Membership, 0, len(rows))
	for _, r := range rows {
		role := byGroup[r.ID]
		if r.Role != nil {
			role = tenants.Higher(role, tenants.Role(*r.Role))
		}
		if role != "" {
			out = append(out, tenants.Membership{Tenant: r.domain(), Role: role})
		}
	}
	return out, err
}

// RoleOf returns a user's role in a tenant — as a member or through IdP groups
// read less than GroupAccessTTL ago, the higher one — or ErrNotFound.
func (d *DB) RoleOf(ctx context.Context, tenantID, userID int64) (tenants.Role, error) {
	var role string
	err := d.r.GetContext(ctx, &role, `SELECT role FROM members WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	byGroup, gerr := d.groupRolesOf(ctx, userID, &tenantID)
	if gerr != nil {
		return "", gerr
	}
	r := tenants.Higher(tenants.Role(role), byGroup[tenantID])
	if r == "" {
		return "", tenants.NotFound("member", "")
	}
	return r, nil
}

// Members lists a tenant's members.
func (d *DB) Members(ctx context.Context, tenantID int64) ([]tenants.Member, error) {
	var rows []struct {
		Email   string    `db:"email"`
		UserID  *int64    `db:"user_id"`
		Name    *string   `db:"name"`
		Role    string    `db:"role"`
		AddedAt time.Time `db:"added_at"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT m.email, m.user_id, u.name, m.role, m.added_at
		FROM members m LEFT JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ? ORDER BY m.email`, tenantID)
	out := make([]tenants.Member, len(rows))
	for i, r := range rows {
		m := tenants.Member{TenantID: tenantID, Email: r.Email, Role: tenants.Role(r.Role), AddedAt: r.AddedAt}
		if r.UserID != nil {
			m.UserID = *r.UserID
		}
		if r.Name != nil {
			m.Name = *r.Name
		}
		out[i] = m
	}
	return out, err
}

// AddMember invites email with role (linked at once when that person is known).
func (d *DB) AddMember(ctx context.Context, tenantID int64, email string, role tenants.Role) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error { return addMember(ctx, tx, tenantID, email, role, d.now()) })
}

// SetMemberRole changes a member's role; the last owner cannot be demoted.
func (d *DB) SetMemberRole(ctx context.Context, tenantID int64, email string, role tenants.Role) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.keepAnOwner(ctx, tx, tenantID, email, role); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE members SET role = ? WHERE tenant_id = ? AND email = ?`, role, tenantID, email)
		return notFoundIfNone(res, err, "member", email)
	})
}

// RemoveMember removes a member; the last owner cannot be removed.
func (d *DB) RemoveMember(ctx context.Context, tenantID int64, email string) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.keepAnOwner(ctx, tx, tenantID, email, ""); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM members WHERE tenant_id = ? AND email = ?`, tenantID, email)
		return notFoundIfNone(res, err, "member", email)
	})
}

// keepAnOwner refuses a change that would leave the tenant without an owner.
func (d *DB) keepAnOwner(ctx context.Context, tx *sqlx.Tx, tenantID int64, email string, newRole tenants.Role) error {
	if newRole == tenants.RoleOwner {
		return nil
	}
	var others int
	err := tx.GetContext(ctx, &others, `SELECT COUNT(*) FROM members WHERE tenant_id = ? AND role = 'owner' AND email <> ?`, tenantID, email)
	if err != nil {
		return err
	}
	var isOwner int
	if err := tx.GetContext(ctx, &isOwner, `SELECT COUNT(*) FROM members WHERE tenant_id = ? AND role = 'owner' AND email = ?`, tenantID, email); err != nil {
		return err
	}
	if isOwner > 0 && others == 0 {
		return tenants.Conflict("%s is the last owner; make someone else an owner first", email)
	}
	return nil
}

type execResult interface{ RowsAffected() (int64, error) }

func notFoundIfNone(res execResult, err error, kind, name string) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tenants.NotFound(kind, name)
	}
	return nil
}
