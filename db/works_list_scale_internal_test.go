//go:build linux

package db

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

// listFixture fills a database with teams × perTeam Works by SQL, shaped
// as in BenchmarkDashboardRealistic (web): each Work placed once, on Destination
// d(k % 10) of its team, written, every 1000th failed for good and every
// pendingEvery-th (when > 0) pending; the teams' rows interleaved, as teams
// submit at the same time. It answers the tenant ids.
func listFixture(t testing.TB, d *DB, teams, perTeam, pendingEvery int) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	for i := range teams {
		ten, err := d.CreateTenant(ctx, "team-"+strconv.Itoa(i), "", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ten.ID)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	pending := "-1"
	if pendingEvery > 0 {
		pending = strconv.Itoa(pendingEvery)
	}
	t1, tn := strconv.Itoa(teams), strconv.Itoa(teams*perTeam-1)
	// SQLite's and PostgreSQL's spellings of a number in 6 digits, a time i
	// seconds after now, and the rows 0 … teams × perTeam - 1.
	six, after, rows := `printf('%06d', i / `+t1+`)`, `datetime(?, '+' || i || ' seconds')`,
		`(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < `+tn+`) SELECT i FROM n) n`
	if d.isPostgres() {
		six, after, rows = `lpad((i / `+t1+`)::text, 6, '0')`, `CAST(? AS TIMESTAMP) + i * INTERVAL '1 second'`,
			`generate_series(0, `+tn+`) AS n(i)`
	}
	// groups: a Work's workload groups are stored with their files, a few hundred bytes.
	groups := `'[{"files":[{"path":"cm.yaml","content":"kind: ConfigMap\nmetadata: {name: r-' || ` + six +
		` || '}\ndata: {v: v1}\n"}],"selector":{"slot":"d' || ((i / ` + t1 + `) % 10) || '"}}]'`
	if _, err := d.w.ExecContext(ctx, `INSERT INTO works (tenant_id, promise, res_namespace, res_name, workload_groups, created_at, updated_at)
		SELECT ? + i % `+t1+`, 'redis', 'default', 'r-' || `+six+`, `+groups+`, ?, `+after+` FROM `+rows,
		ids[0], now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.ExecContext(ctx, `INSERT INTO placements (tenant_id, work_id, group_index, directory, destination_id,
		destination_name, mode, store_kind, store_name, name, paths, plan, plan_hash, state, updated_at, written_at)
		SELECT w.tenant_id, w.id, 0, 'd' || (k % 10), k % 10, 'd' || (k % 10), 'nestedByMetadata', 'GitStateStore', 'repo',
			'redis-' || w.res_name || '.d' || (k % 10), '["d' || (k % 10) || '/resources/default/redis/' || w.res_name || '/cm.yaml"]',
			w.workload_groups, 'h',
			CASE WHEN k % 1000 = 0 THEN 'failed' WHEN k % `+pending+` = 7 THEN 'pending' ELSE 'written' END, w.updated_at, w.updated_at
		FROM (SELECT w.*, CAST(substr(w.res_name, 3) AS INTEGER) AS k FROM works w) w`); err != nil {
		t.Fatal(err)
	}
	if d.isPostgres() {
		if _, err := d.w.ExecContext(ctx, `ANALYZE`); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Optimize(ctx, true); err != nil {
		t.Fatal(err)
	}
	d.r.SetMaxIdleConns(0) // fresh readers load the statistics
	d.r.SetMaxIdleConns(4)
	return ids
}

// listQueries are the Works list's filters BenchmarkDashboardRealistic fetches.
var listQueries = map[string]WorkQuery{
	"all":              {},
	"pending":          {State: "pending"},
	"written":          {State: "written"},
	"failed":           {State: "failed"},
	"dest":             {Destination: "d3"},
	"dest-written":     {Destination: "d3", State: "written"},
	"dest-failed":      {Destination: "d0", State: "failed"},
	"dest-pending":     {Destination: "d7", State: "pending"},
	"search-rare":      {Search: "r-004321"},
	"search-common":    {Search: "redis"},
	"search-written":   {Search: "r-00", State: "written"},
	"search-dest":      {Search: "r-00", Destination: "d3"},
	"deleting":         {State: "deleting"},
	"waiting":          {State: "waiting"},
	"retrying":         {State: "retrying"},
	"written-limit-1k": {State: "written", Limit: 1000},
}

// BenchmarkWorksPageFilters times WorksPage (one page of 50 and its total) for
// each filter of listQueries on SQLite (PostgreSQL with
// STATEWARD_TEST_DATABASE=postgres), for the middle team of
// STATEWARD_BENCH_TEAMS (default 10) teams of STATEWARD_BENCH_WORKS (10,000)
// Works each, with every 100th Work pending (STATEWARD_BENCH_PENDING=0: none).
// cpu-ms/op (SQLite) is the CPU time of one WorksPage, which a busy machine
// does not inflate as it does ns/op.
//
//	go test ./db -run '^$' -bench BenchmarkWorksPageFilters -benchtime 200x
//	STATEWARD_TEST_DATABASE=postgres STATEWARD_BENCH_TEAMS=20 go test ./db -run '^$' -bench BenchmarkWorksPageFilters -benchtime 50x
func BenchmarkWorksPageFilters(b *testing.B) {
	env := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
			return v
		}
		return def
	}
	d := sqliteForPlans(b)
	if os.Getenv("STATEWARD_TEST_DATABASE") == "postgres" {
		s, _ := NewSealer(make([]byte, 32))
		var err error
		if d, err = Open(context.Background(), Options{URL: testpeers.Postgres(b).NewDatabase(b), Sealer: s}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
	}
	ids := listFixture(b, d, env("STATEWARD_BENCH_TEAMS", 10), env("STATEWARD_BENCH_WORKS", 10_000), env("STATEWARD_BENCH_PENDING", 100))
	tid := ids[len(ids)/2]
	for name, q := range listQueries {
		b.Run(name, func(b *testing.B) {
			// SQLite runs on this goroutine's thread: its CPU time is the
			// query's, whatever else the machine is doing.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			before := threadCPU(b)
			for range b.N {
				if _, err := d.WorksPage(context.Background(), tid, q); err != nil {
					b.Fatal(err)
				}
			}
			if !d.isPostgres() {
				b.ReportMetric(float64((threadCPU(b)-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
