package db

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// TestPlansWithRealisticStatistics: on a database shaped like a team's after
// months of use — 100,000 placements over 10 Destinations, nearly all written,
// a few failed, a few pending, two teams — and analysed by PRAGMA optimize as
// Open and the hourly optimize do, SQLite's planner picks the intended index
// for the queries that used to need a hint (INDEXED BY, +tenant_id): the plans
// do not depend on luck.
func TestPlansWithRealisticStatistics(t *testing.T) {
	d := sqliteForPlans(t)
	ctx := context.Background()
	var tenantIDs []int64
	for _, slug := range []string{"big", "small"} {
		ten, err := d.CreateTenant(ctx, slug, "", "")
		if err != nil {
			t.Fatal(err)
		}
		tenantIDs = append(tenantIDs, ten.ID)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := d.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO works (tenant_id, promise, res_namespace, res_name, created_at, updated_at)
		SELECT CASE WHEN i % 20 = 0 THEN ? ELSE ? END, 'app', 'default', 'w' || i, ?, ? FROM n`,
		tenantIDs[1], tenantIDs[0], now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.ExecContext(ctx, `INSERT INTO placements (tenant_id, work_id, group_index, directory, destination_id,
		destination_name, mode, store_kind, store_name, name, plan, plan_hash, state, updated_at, written_at)
		SELECT w.tenant_id, w.id, 0, '.', w.id % 10, 'd' || (w.id % 10), 'nestedByMetadata', 'GitStateStore', 'repo',
			w.res_name || '.d' || (w.id % 10), '{}', 'h',
			CASE WHEN w.id % 1000 = 0 THEN 'failed' WHEN w.id % 997 = 0 THEN 'pending' ELSE 'written' END,
			datetime(?, '-' || (w.id % 90) || ' days'), ? FROM works w`, now, now); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		query, args, err := sqlx.In(stateCountsSQL, tenantIDs[0], []int64{7, 8, 9})
		if err != nil {
			t.Fatal(err)
		}
		if p := plan(t, d, query, args...); !hasDetail(p, -1, "COVERING INDEX placements_state_work (tenant_id=? AND state=? AND work_id=?)") {
			t.Errorf("%s: state counts of a page: %+v, want lookups by state and work_id on placements_state_work alone", when, p)
		}
		if p := plan(t, d, failedCountSQL, tenantIDs[0], now.Add(-24*time.Hour)); !hasDetail(p, -1, "placements_failed") {
			t.Errorf("%s: failed count: %+v, want the index placements_failed", when, p)
		}
		checkListPlans(t, d, when, tenantIDs[0])
		checkByIDPlans(t, d, when, tenantIDs[0])
	}
	check("before any statistics")
	if err := d.Optimize(ctx, true); err != nil {
		t.Fatal(err)
	}
	// Fresh readers load the statistics (Open's pool renews them hourly).
	d.r.SetMaxIdleConns(0)
	d.r.SetMaxIdleConns(4)
	var stats int
	if err := d.r.GetContext(ctx, &stats, `SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'placements'`); err != nil || stats == 0 {
		t.Fatalf("PRAGMA optimize wrote no statistics for placements: %d %v", stats, err)
	}
	check("with statistics")
}

// checkListPlans: the Works list's filters by state and Destination read
// indexes only, never a Work's wide row (2 µs each: 20 ms for 10,000 Works)
// nor a placement's: written and deleting find the few Works being deleted or
// waiting on their partial indexes (and read those few rows), the placements
// on placements_state_work;
// read by id, the Works of a filter's placements are looked up by rowid.
func checkListPlans(t *testing.T, d *DB, when string, tenantID int64) {
	t.Helper()
	for name, c := range map[string]struct {
		q    WorkQuery
		want []string
	}{
		// The Works placed nowhere, left out of written, come from an index
		// alone: works_waiting, or works_search, which holds the unscheduled
		// column (migration 0062) and which SQLite takes without statistics.
		"written":                  {WorkQuery{State: tenants.WorkStateWritten}, []string{"works_deleted", "works_waiting|COVERING INDEX works_search", "placements_state_work"}},
		"written on a Destination": {WorkQuery{State: tenants.WorkStateWritten, Destination: "d3"}, []string{"works_deleted", "placements_destination_work"}},
		"deleting":                 {WorkQuery{State: tenants.WorkStateDeleting}, []string{"works_deleted"}},
		"pending":                  {WorkQuery{State: tenants.WorkStatePending}, []string{"COVERING INDEX placements_state_work"}},
		"on a Destination":         {WorkQuery{Destination: "d3"}, []string{"COVERING INDEX placements_destination_work"}},
	} {
		where, args, err := c.q.where(tenantID, false)
		if err != nil {
			t.Fatal(err)
		}
		for kind, p := range map[string][]planNode{
			"count": plan(t, d, countSQL("works w", where), append(args, MaxCount+1)...),
			"page":  plan(t, d, pageSQL("works w", where), append(args, 51)...),
		} {
			for _, n := range p {
				// (the rows of a partial index of the few Works deleted are read)
				rowsOfAll := strings.HasPrefix(n.Detail, "SEARCH w USING INDEX") && !strings.Contains(n.Detail, "works_deleted")
				if strings.HasPrefix(n.Detail, "SCAN w") || rowsOfAll ||
					strings.HasPrefix(n.Detail, "SEARCH p USING INDEX") || strings.HasPrefix(n.Detail, "SEARCH p USING AUTOMATIC") {
					t.Errorf("%s: %s %s: %q reads rows: %+v", when, name, kind, n.Detail, p)
				}
			}
			for _, want := range c.want {
				if !slices.ContainsFunc(strings.Split(want, "|"), func(w string) bool { return hasDetail(p, -1, w) }) {
					t.Errorf("%s: %s %s: %+v, want %q", when, name, kind, p, want)
				}
			}
		}
		if sets := c.q.sets(); len(sets) > 0 {
			set := sets[0]
			set.args = append([]any{tenantID}, set.args...)
			from, on, fromArgs := worksFrom(&set, true)
			p := plan(t, d, countSQL(from, on+where), concat(fromArgs, args, []any{MaxCount + 1})...)
			if !hasDetail(p, -1, "SCAN s") || !hasDetail(p, -1, "SEARCH w USING INTEGER PRIMARY KEY") {
				t.Errorf("%s: %s by id: %+v, want the placements first, then their Works by rowid", when, name, p)
			}
		}
	}
}

// checkByIDPlans: statements about a chunk of a team's rows named by id (a
// job's Works, the versions a finish records and prunes) look each up by its
// key, never scan the team's rows on an index led by tenant_id, which SQLite's
// statistics chose for "tenant_id = ? AND id IN (…)" at a million Works.
func checkByIDPlans(t *testing.T, d *DB, when string, tenantID int64) {
	t.Helper()
	ids := make([]int64, 500)
	for i := range ids {
		ids[i] = int64(1 + 37*i)
	}
	with, idArgs := idsCTE(ids)
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"a job's Works (jobWorks)", with + jobWorksSQL, concat(idArgs, []any{tenantID}), "SEARCH w USING INTEGER PRIMARY KEY (rowid=?)"},
		{"versions recorded (insertVersions)", with + insertVersionsSQL,
			concat(idArgs, []any{"v", false, time.Now(), tenantID, "written", "v", false}), "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)"},
		{"versions pruned (pruneVersions)", with + pruneVersionsSQL, concat(idArgs, []any{tenantID, versionsKept}),
			"INDEX work_versions_placement (placement_id=?)"},
	} {
		p := plan(t, d, c.query, c.args...)
		if !hasDetail(p, -1, c.want) {
			t.Errorf("%s: %s: %+v, want %q", when, c.name, p, c.want)
		}
		for _, n := range p {
			if strings.Contains(n.Detail, "(tenant_id=?)") || strings.Contains(n.Detail, "(tenant_id=? AND state=?)") {
				t.Errorf("%s: %s reads the team's rows: %q", when, c.name, n.Detail)
			}
		}
	}
}
