package db

import (
	"context"

	"github.com/stateward/stateward/tenants"
)

// prViewRow is a pull-request store with its placements counted.
type prViewRow struct {
	Name     string `db:"name"`
	Number   int    `db:"pr_number"`
	URL      string `db:"pr_url"`
	Warning  string `db:"pr_warning"`
	Error    string `db:"pr_error"`
	Proposed int    `db:"proposed"`
	Rejected int    `db:"rejected"`
}

func (r prViewRow) domain() tenants.PRStoreView {
	return tenants.PRStoreView{Store: r.Name, Number: r.Number, URL: r.URL, Warning: r.Warning, Error: r.Error,
		Proposed: r.Proposed, Rejected: r.Rejected}
}

// prViewSQL selects a tenant's pull-request stores with their proposed and
// rejected placements counted (two ranges of placements_store each).
const prViewSQL = `SELECT g.name, g.pr_number, g.pr_url, g.pr_warning, g.pr_error,
	(SELECT COUNT(*) FROM placements p WHERE p.tenant_id = g.tenant_id AND p.store_kind = ? AND p.store_name = g.name
		AND p.state = 'proposed') AS proposed,
	(SELECT COUNT(*) FROM placements p WHERE p.tenant_id = g.tenant_id AND p.store_kind = ? AND p.store_name = g.name
		AND p.state = 'rejected') AS rejected
	FROM git_stores g WHERE g.tenant_id = ? AND g.pull_request <> ''`

// PRStores lists a tenant's pull-request stores by name, each with its open
// pull request and how many of its placements are proposed and rejected.
func (d *DB) PRStores(ctx context.Context, tenantID int64) ([]tenants.PRStoreView, error) {
	var rows []prViewRow
	if err := d.r.SelectContext(ctx, &rows, prViewSQL+` ORDER BY g.name`, tenants.KindGit, tenants.KindGit, tenantID); err != nil {
		return nil, err
	}
	out := make([]tenants.PRStoreView, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// PRStore is one pull-request store of a tenant as PRStores shows it; a store
// that pushes (or another tenant's) is not found.
func (d *DB) PRStore(ctx context.Context, tenantID int64, name string) (tenants.PRStoreView, error) {
	var r prViewRow
	err := d.r.GetContext(ctx, &r, prViewSQL+` AND g.name = ?`, tenants.KindGit, tenants.KindGit, tenantID, name)
	if err != nil {
		return tenants.PRStoreView{}, mapErr(err, tenants.KindGit, name)
	}
	return r.domain(), nil
}

// RejectedPlacements counts a tenant's placements whose pull request was closed
// without merging (they stay so until their Work is submitted again).
func (d *DB) RejectedPlacements(ctx context.Context, tenantID int64) (int, error) {
	var n int
	err := d.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND state = 'rejected'`, tenantID)
	return n, err
}
