package db

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// planNode is one line of SQLite's EXPLAIN QUERY PLAN.
type planNode struct {
	ID, Parent int
	Detail     string
}

// TestWorksSearchUsesIndex: on SQLite a search of the Works list is evaluated on
// the works_search index (migration 0021), never on the wide works rows, and the
// page is chosen in the index's order without sorting the matches, so that it
// stops at the page's end. Fails when searchText and the index's expression are
// spelt differently, or the index is dropped.
func TestWorksSearchUsesIndex(t *testing.T) {
	d := sqliteForPlans(t)
	// want: the index the ids are read from, in the list's order.
	for name, c := range map[string]struct {
		q    WorkQuery
		want string
	}{
		"one word":          {WorkQuery{Search: "r-09999"}, "COVERING INDEX works_search"},
		"two words":         {WorkQuery{Search: "default/r-0"}, "COVERING INDEX works_search"},
		"no search":         {WorkQuery{}, "COVERING INDEX works_search"},
		"and a Destination": {WorkQuery{Search: "redis", Destination: "dev"}, "COVERING INDEX works_search"},
		"and a state":       {WorkQuery{Search: "redis", State: tenants.WorkStatePending}, "COVERING INDEX works_search"},
		// the few Works of a trigger first
		"and a trigger": {WorkQuery{Search: "redis", TriggerID: new(int64)}, "INDEX works_trigger"},
	} {
		t.Run(name, func(t *testing.T) {
			q, want := c.q, c.want
			where, args, err := q.where(1, false)
			if err != nil {
				t.Fatal(err)
			}
			count := plan(t, d, countSQL("works w", where), append(args, MaxCount+1)...)
			wantCount := want
			if q.Search == "" && q.TriggerID == nil {
				// Nothing to match: any covering index of the tenant's Works
				// counts them without the rows (since migration 0058 widened
				// them, SQLite takes the narrower works_trigger).
				wantCount = "COVERING INDEX"
			}
			if !hasDetail(count, -1, wantCount) {
				t.Errorf("count: %+v, want %q", count, wantCount)
			}
			for _, withCursor := range []bool{false, true} {
				pageWhere, pageArgs := where, args
				if withCursor {
					pageWhere += ` AND (w.updated_at < ? OR (w.updated_at = ? AND w.id < ?))`
					pageArgs = append(append([]any{}, args...), "2026-01-01", "2026-01-01", 7)
				}
				page := plan(t, d, pageSQL("works w", pageWhere), append(pageArgs, 51)...)
				sub := -1
				for _, n := range page {
					if strings.HasPrefix(n.Detail, "LIST SUBQUERY") {
						sub = n.ID
					}
				}
				if sub < 0 || !hasDetail(page, sub, want) || hasDetail(page, sub, "TEMP B-TREE") {
					t.Errorf("page (cursor %v): %+v, want the ids in the order of %q, unsorted", withCursor, page, want)
				}
			}
		})
	}
}

// TestWorksWaitingUsesPartialIndex: counting the Works placed nowhere (the
// Overview, the list's state=waiting) reads an index alone — the partial index
// works_waiting, or works_search, which holds the unscheduled column
// (migration 0062) — not every Work of the tenant, on SQLite without
// statistics (as a new server runs); TestWaitingCountReadsNoRows with them.
func TestWorksWaitingUsesPartialIndex(t *testing.T) {
	d := sqliteForPlans(t)
	where, args, err := WorkQuery{State: tenants.WorkStateWaiting}.where(1, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string][]planNode{
		"Overview":          plan(t, d, waitingCountSQL, 1),
		"list count":        plan(t, d, countSQL("works w", where), append(args, MaxCount+1)...),
		"list page":         plan(t, d, pageSQL("works w", where), append(args, 51)...),
		"list search count": plan(t, d, countSQL("works w", where+" AND "+searchText+" LIKE ?"), append(args, "%x%", MaxCount+1)...),
	} {
		if !hasDetail(p, -1, "COVERING INDEX works_waiting") && !hasDetail(p, -1, "COVERING INDEX works_search") {
			t.Errorf("%s: %+v, want an index alone: works_waiting, or works_search with its unscheduled column (0062)", name, p)
		}
	}
}

// TestWorksPageCountsByWork: the placement counts of a page's Works are looked
// up by work_id, not by reading every placement of the tenant.
func TestWorksPageCountsByWork(t *testing.T) {
	d := sqliteForPlans(t)
	query, args, err := sqlx.In(stateCountsSQL, int64(1), []int64{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if p := plan(t, d, query, args...); !hasDetail(p, -1, "COVERING INDEX placements_state_work (tenant_id=? AND state=? AND work_id=?)") {
		t.Errorf("%+v, want lookups by state and work_id on placements_state_work alone", p)
	}
}

// sqliteForPlans opens an empty SQLite database with every migration.
func sqliteForPlans(t testing.TB) *DB {
	t.Helper()
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "s.db"), Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// plan answers SQLite's EXPLAIN QUERY PLAN of query.
func plan(t *testing.T, d *DB, query string, args ...any) []planNode {
	t.Helper()
	var nodes []planNode
	rows, err := d.r.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n planNode
		var unused int
		if err := rows.Scan(&n.ID, &n.Parent, &unused, &n.Detail); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// hasDetail reports whether a node below parent (any node when parent < 0)
// mentions s.
func hasDetail(nodes []planNode, parent int, s string) bool {
	for _, n := range nodes {
		if (parent < 0 || n.Parent == parent) && strings.Contains(n.Detail, s) {
			return true
		}
	}
	return false
}

// TestWaitingCountReadsNoRows: with the statistics of a million Works where
// one team has 157,000 Works placed nowhere and the others none (a partial
// index's statistics average over the teams it holds, so works_waiting looks
// large for every team), counting a team's waiting Works for the Overview
// reads an index alone, whichever SQLite picks: works_search carries the flag
// (migration 0062). Before it the count read every Work's row of the team,
// 80 ms at a million Works.
func TestWaitingCountReadsNoRows(t *testing.T) {
	d := sqliteForPlans(t)
	ctx := context.Background()
	if _, err := d.w.ExecContext(ctx, `ANALYZE`); err != nil { // creates sqlite_stat1
		t.Fatal(err)
	}
	if _, err := d.w.ExecContext(ctx, `DELETE FROM sqlite_stat1 WHERE tbl = 'works'`); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{
		{"works_search", "1200000 11900 1 1 1 1"},
		{"works_waiting", "157000 157000 1"},
		{"works_deleted", "0 0 0"},
		{"works_trigger", "1200000 11900 11900 1"},
		{"sqlite_autoindex_works_1", "1200000 11900 2400 20 1 1"},
	} {
		if _, err := d.w.ExecContext(ctx, `INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('works', ?, ?)`, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	d.r.SetMaxIdleConns(0) // a reader loads the statistics when it opens
	d.r.SetMaxIdleConns(4)
	rows, err := d.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+waitingCountSQL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		details = append(details, detail)
	}
	if len(details) == 0 || !strings.Contains(strings.Join(details, "; "), "COVERING INDEX") {
		t.Errorf("the waiting count's plan %q reads the Works' rows, want an index alone", details)
	}
}

// TestSQLiteReadersCacheMorePages: the reading connections keep
// readerCacheKiB of pages, not SQLite's default 2 MB; the writer keeps the
// default.
func TestSQLiteReadersCacheMorePages(t *testing.T) {
	d := sqliteForPlans(t)
	for name, c := range map[string]struct {
		pool *sqlx.DB
		want int
	}{"writer": {d.w, -2000}, "reader": {d.r, -readerCacheKiB}} {
		var kib int
		if err := c.pool.GetContext(context.Background(), &kib, `PRAGMA cache_size`); err != nil {
			t.Fatal(err)
		}
		if kib != c.want {
			t.Errorf("%s: cache_size %d, want %d (KiB)", name, kib, c.want)
		}
	}
}
