package db

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// GroupAccessTTL bounds access that comes from IdP groups: the groups read at a
// sign-in count for this long (the session idle timeout). Someone removed from a
// group loses that access at their next sign-in, and at the latest GroupAccessTTL
// after the sign-in that granted it: then their session asks for a new sign-in,
// which reads the groups again.
const GroupAccessTTL = tenants.IdleTimeout

// GroupRoles lists a tenant's group → role mappings, by group.
func (d *DB) GroupRoles(ctx context.Context, tenantID int64) ([]tenants.GroupRole, error) {
	var rows []struct {
		Group string `db:"group_name"`
		Role  string `db:"role"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT group_name, role FROM group_roles WHERE tenant_id = ? ORDER BY group_name`, tenantID)
	out := make([]tenants.GroupRole, len(rows))
	for i, r := range rows {
		out[i] = tenants.GroupRole{Group: r.Group, Role: tenants.Role(r.Role)}
	}
	return out, err
}

// SetGroupRoles replaces a tenant's group → role mappings. It takes effect at once
// for everyone whose groups were read at a sign-in less than GroupAccessTTL ago.
func (d *DB) SetGroupRoles(ctx context.Context, tenantID int64, gs []tenants.GroupRole) error {
	if err := tenants.ValidateGroupRoles("groupRoles", gs); err != nil {
		return err
	}
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_roles WHERE tenant_id = ?`, tenantID); err != nil {
			return err
		}
		for _, g := range gs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO group_roles (tenant_id, group_name, role) VALUES (?, ?, ?)`,
				tenantID, g.Group, g.Role); err != nil {
				return err
			}
		}
		return nil
	})
}

// setUserGroups replaces the groups of a user read at this sign-in.
func setUserGroups(ctx context.Context, tx *sqlx.Tx, userID int64, groups []string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, g); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE users SET groups_at = ? WHERE id = ?`, now, userID)
	return err
}

// groupRolesOf are the roles a user holds through fresh groups, by tenant.
func (d *DB) groupRolesOf(ctx context.Context, userID int64, tenantID *int64) (map[int64]tenants.Role, error) {
	var rows []struct {
		TenantID int64  `db:"tenant_id"`
		Role     string `db:"role"`
	}
	q := `SELECT gr.tenant_id, gr.role FROM group_roles gr
		JOIN user_groups ug ON ug.group_name = gr.group_name
		JOIN users u ON u.id = ug.user_id
		WHERE ug.user_id = ? AND u.groups_at >= ?`
	args := []any{userID, d.now().Add(-GroupAccessTTL)}
	if tenantID != nil {
		q += ` AND gr.tenant_id = ?`
		args = append(args, *tenantID)
	}
	if err := d.r.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, err
	}
	out := map[int64]tenants.Role{}
	for _, r := range rows {
		out[r.TenantID] = tenants.Higher(out[r.TenantID], tenants.Role(r.Role))
	}
	return out, nil
}

// groupsStale reports whether a user holds a group that some tenant maps to a role
// while the groups were read more than GroupAccessTTL ago.
func (d *DB) groupsStale(ctx context.Context, userID int64) (bool, error) {
	var n int
	err := d.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM users u JOIN user_groups ug ON ug.user_id = u.id
		JOIN group_roles gr ON gr.group_name = ug.group_name WHERE u.id = ? AND u.groups_at < ?`,
		userID, d.now().Add(-GroupAccessTTL))
	return n > 0, err
}
