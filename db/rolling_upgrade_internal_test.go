package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// A rolling upgrade runs replicas of two versions on one database. Replicas of
// before migration 0064 lock the team's row for the team's configuration lock
// (FOR SHARE for a submit, FOR NO KEY UPDATE for a change); later ones take an
// advisory lock. These tests run an older replica's statements, as its
// lockTenant sent them, beside this version's code, and check that each waits
// for the other where the configuration lock says it must: a change never
// overlaps a submit of the same team.

// olderReplica is a connection of its own that runs what a replica of before
// migration 0064 ran.
func olderReplica(t *testing.T, direct string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitBlockedBy waits until a session of the database waits for a lock that
// session blocker holds. done is the outcome of what is expected to wait: if
// it finishes first, it did not wait.
func waitBlockedBy(t *testing.T, probe *pgx.Conn, blocker uint32, done <-chan error, what string) {
	t.Helper()
	ended := func() error {
		select {
		case err := <-done:
			return fmt.Errorf("%s finished (err %v) without waiting for session %d", what, err, blocker)
		default:
			return nil
		}
	}
	if err := pollWaiting(probe, ended, `SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
		int(blocker)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// pollWaiting answers nil once count (a query of the number of sessions
// waiting as expected, with args) answers more than 0; the error ended
// answers if what should wait ended first, or one if nothing waited in 20 s.
func pollWaiting(probe *pgx.Conn, ended func() error, count string, args ...any) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := ended(); err != nil {
			return err
		}
		var n int
		if err := probe.QueryRow(context.Background(), count, args...).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("nothing waited for a lock in 20 s")
		}
		time.Sleep(2 * time.Millisecond) // polling the lock table, not a synchronisation
	}
}

// submitInFlight runs this version's submit of w up to its COMMIT and holds
// it there until release is closed. It answers the backend's pid once the
// submit's statements have run, and the submit's outcome on done.
func submitInFlight(t *testing.T, d *DB, tenantID int64, w *tenants.Work, release <-chan struct{}) (uint32, <-chan error) {
	t.Helper()
	ctx := context.Background()
	pid := make(chan uint32, 1)
	done := make(chan error, 1)
	go func() {
		done <- d.tx(ctx, func(tx *sqlx.Tx) error {
			res, err := d.submit(ctx, tx, tenantID, w, false)
			if err != nil {
				return err
			}
			if err := d.enqueueJobs(ctx, tx, tenantID, &res); err != nil {
				return err
			}
			var p uint32
			if err := tx.GetContext(ctx, &p, `SELECT pg_backend_pid()`); err != nil { // sends the rest too
				return err
			}
			pid <- p
			<-release
			return nil
		})
	}()
	select {
	case p := <-pid:
		return p, done
	case err := <-done:
		t.Fatalf("the submit ended before its commit: %v", err)
	}
	return 0, nil
}

// TestChangeWaitsForAnOlderReplicasSubmit: a Destination edit by this version
// waits for a submit of the same team that a replica of before 0064 has in
// flight (it holds the team's row FOR SHARE), as it waits for this version's.
func TestChangeWaitsForAnOlderReplicasSubmit(t *testing.T) {
	d, _, direct := pipelineDBAt(t)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	older, probe := olderReplica(t, direct), olderReplica(t, direct)
	tx, err := older.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM tenants WHERE id = $1 FOR SHARE`, ten.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev", "tier": "1"}, Path: "dev",
			StoreKind: tenants.KindGit, StoreName: "repo"}
		dest.Normalize()
		_, err := d.SaveDestination(ctx, dest)
		done <- err
	}()
	waitBlockedBy(t, probe, older.PgConn().PID(), done, "the Destination's edit")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestOlderReplicasChangeWaitsForSubmits: a change of the team's configuration
// by a replica of before 0064 (the team's row FOR NO KEY UPDATE, then the
// Destination's row) waits for this version's submit in flight, and this
// version's submits wait for it: a submit that starts meanwhile plans against
// the changed Destination, never against the one being changed.
func TestOlderReplicasChangeWaitsForSubmits(t *testing.T) {
	d, _, direct := pipelineDBAt(t)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	older, probe := olderReplica(t, direct), olderReplica(t, direct)

	release := make(chan struct{})
	pid, submitted := submitInFlight(t, d, ten.ID, devWork(t, 1, "a: 1\n"), release)
	tx, err := older.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, ten.ID); err != nil {
		t.Fatal(err)
	}
	changed := make(chan error, 1)
	go func() {
		_, err := tx.Exec(ctx, `UPDATE destinations SET labels = '{"env":"prod"}' WHERE tenant_id = $1 AND name = 'dev'`, ten.ID)
		changed <- err
	}()
	waitBlockedBy(t, probe, pid, changed, "the older replica's change")
	close(release)
	if err := <-submitted; err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatal(err)
	}

	// The change is made and not committed: a submit now waits for it.
	done := make(chan error, 1)
	var res tenants.SubmitResult
	go func() {
		var err error
		res, err = d.SubmitWork(ctx, ten.ID, devWork(t, 2, "a: 2\n"), false)
		done <- err
	}()
	waitBlockedBy(t, probe, older.PgConn().PID(), done, "a submit")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(res.Placements) != 0 {
		t.Errorf("the submit placed %+v; want nothing (its Destination was relabelled env=prod before it planned)", res.Placements)
	}
}

// TestDeletingATeamWaitsForItsSubmits: a team's row deleted by hand waits for
// the team's submit in flight, and deletes what that submit wrote: the
// tables a submit writes have no foreign key to tenants on PostgreSQL (0064)
// to make the two wait for each other.
func TestDeletingATeamWaitsForItsSubmits(t *testing.T) {
	d, _, direct := pipelineDBAt(t)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	operator, probe := olderReplica(t, direct), olderReplica(t, direct)

	release := make(chan struct{})
	pid, submitted := submitInFlight(t, d, ten.ID, devWork(t, 1, "a: 1\n"), release)
	deleted := make(chan error, 1)
	go func() {
		_, err := operator.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, ten.ID)
		deleted <- err
	}()
	waitBlockedBy(t, probe, pid, deleted, "the team's deletion")
	close(release)
	if err := <-submitted; err != nil {
		t.Fatal(err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"works", "placements", "jobs", "claims", "audit_events"} {
		var n int
		if err := probe.QueryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE tenant_id = $1`, ten.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows of the deleted team are left", table, n)
		}
	}
}
