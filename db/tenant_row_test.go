package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestSubmitsLeaveTheTeamRowUnlocked: on PostgreSQL no submit locks the team's
// row. (A configuration change does, for replicas of before migration 0064
// during a rolling upgrade: TestChangeWaitsForAnOlderReplicasSubmit.) Every submit of a team used to
// lock it, by the team's configuration lock (FOR SHARE) and by the foreign keys
// of the rows it inserts (FOR KEY SHARE, seven a submit), and concurrent
// lockers of one row make PostgreSQL create, WAL-log and write into the row a
// new MultiXact for each transaction that joins. A row lock leaves the
// locker's id in the row's xmax; nothing else writes the team's row here, so
// xmax stays 0 only if nothing locked it.
func TestSubmitsLeaveTheTeamRowUnlocked(t *testing.T) {
	tg := newTarget(t, "postgres")
	d, tid, _ := worksDB(t, tg)
	ctx := context.Background()
	raw, err := sql.Open("pgx", tg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	xmax := func() string {
		t.Helper()
		var x string
		if err := raw.QueryRow(`SELECT xmax::text FROM tenants WHERE id = $1`, tid).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	// The set-up saved a store and two Destinations: their rows' foreign keys
	// locked the team's row (the configuration tables keep theirs). A VACUUM
	// FREEZE clears a finished locker from xmax.
	if _, err := raw.Exec(`VACUUM FREEZE tenants`); err != nil {
		t.Fatal(err)
	}
	if x := xmax(); x != "0" {
		t.Fatalf("after VACUUM FREEZE the team's row has xmax %s", x)
	}
	actor := tenants.Actor{Kind: tenants.ActorToken, ID: 1, Name: "ci"}
	for i := range 3 {
		if _, err := d.SubmitWorkAs(ctx, tid, resourceWork(fmt.Sprintf("w%d", i), "dev", "x.yaml", "x"), actor, "write"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.SubmitWork(ctx, tid, resourceWork("w0", "dev", "x.yaml", "y"), false); err != nil {
		t.Fatal(err)
	}
	if x := xmax(); x != "0" {
		t.Errorf("after four submits, the team's row has xmax %s: a submit locked it", x)
	}
}

// TestDeletingATeamDeletesWhatItOwns: the tables a submit writes reference
// the team by no foreign key on PostgreSQL (migration 0064), and a team's row
// deleted by hand still takes everything of the team with it, as the keys'
// ON DELETE CASCADE did and still does on SQLite. Stateward deletes no team;
// an operator may.
func TestDeletingATeamDeletesWhatItOwns(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		other, err := d.CreateTenant(ctx, "team-b", "", "")
		if err != nil {
			t.Fatal(err)
		}
		actor := tenants.Actor{Kind: tenants.ActorToken, ID: 1, Name: "ci"}
		for i := range 3 {
			if _, err := d.SubmitWorkAs(ctx, tid, resourceWork(fmt.Sprintf("w%d", i), "dev", "x.yaml", "x"), actor, "write"); err != nil {
				t.Fatal(err)
			}
		}
		// Another team's Work (placed nowhere: team-b has no Destination)
		// stays.
		if _, err := d.SubmitWorkAs(ctx, other.ID, resourceWork("b", "dev", "x.yaml", "x"), actor, "write"); err != nil {
			t.Fatal(err)
		}
		driver, dsn := "pgx", tg.url
		if tg.dialect == "sqlite" {
			driver, dsn = "sqlite3", "file:"+tg.path+"?_foreign_keys=on&_busy_timeout=10000"
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		tables := []string{"works", "placements", "claims", "work_versions", "canaries", "jobs", "audit_events",
			"git_stores", "destinations"}
		count := func(table string, id int64) int {
			t.Helper()
			var n int
			if err := raw.QueryRow(fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE tenant_id = %d`, table, id)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, table := range tables {
			if table != "work_versions" && count(table, tid) == 0 { // versions come with writes
				t.Fatalf("%s: no rows of the team before the deletion; the test sees nothing", table)
			}
		}
		if _, err := raw.Exec(fmt.Sprintf(`DELETE FROM tenants WHERE id = %d`, tid)); err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			if n := count(table, tid); n != 0 {
				t.Errorf("%s: %d rows of the deleted team are left", table, n)
			}
		}
		if n := count("works", other.ID); n != 1 {
			t.Errorf("team-b has %d Works after team-a's deletion, want its 1", n)
		}
	})
}
