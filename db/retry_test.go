package db_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// failOnce claims the store's job and records a failed write: the placements
// retry, the job backs off.
func failOnce(t *testing.T, d *db.DB, msg string) *tenants.Job {
	t.Helper()
	job, ok, err := d.ClaimJob(context.Background(), "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	finish(t, d, job, msg)
	if _, ok, _ := d.ClaimJob(context.Background(), "w", time.Minute); ok {
		t.Fatal("job due again at once after a failure, want a backoff")
	}
	return job
}

// TestPassingCheckEndsBackoff: a readiness check that passes makes the store's
// backing-off job due now and clears its write failure; one that fails does not.
func TestPassingCheckEndsBackoff(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		failOnce(t, d, "connection refused")
		c.add(time.Millisecond)
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", false, "connection refused", c.now()); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := d.ClaimJob(ctx, "w", time.Minute); ok {
			t.Fatal("a failing check ended the backoff")
		}
		c.add(time.Millisecond)
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "ready", c.now()); err != nil {
			t.Fatal(err)
		}
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok {
			t.Fatalf("after a passing check the job is not due: %v %v", ok, err)
		}
		if job.Attempts != 1 {
			t.Errorf("attempts = %d, want 1 kept (a store still failing backs off from where it was)", job.Attempts)
		}
	})
}

// TestRetryWork: Retry now puts a Work's retrying and failed placements back to
// pending with the job due now; another tenant's Work is not found.
func TestRetryWork(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		failOnce(t, d, "timed out")
		v, _ := d.Work(ctx, tid, res.Work)
		if p := v.Placements[0]; p.State != tenants.StateRetrying || p.Attempts != 1 || p.NextAttemptAt == nil || p.LastError != "timed out" {
			t.Fatalf("placement %+v, want retrying with attempts, next try and last error", p)
		}
		other, _ := d.CreateTenant(ctx, "team-b", "", "")
		if _, err := d.RetryWork(ctx, other.ID, res.Work, tenants.Actor{Kind: tenants.ActorSystem}); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("retry of another tenant's Work: %v, want not found", err)
		}
		n, err := d.RetryWork(ctx, tid, res.Work, tenants.Actor{Kind: tenants.ActorSystem})
		if err != nil || n != 1 {
			t.Fatalf("RetryWork = %d, %v; want 1 placement", n, err)
		}
		v, _ = d.Work(ctx, tid, res.Work)
		if p := v.Placements[0]; p.State != tenants.StatePending || p.NextAttemptAt != nil {
			t.Errorf("after retry: %+v, want pending", p)
		}
		if _, ok, err := d.ClaimJob(ctx, "w", time.Minute); err != nil || !ok {
			t.Fatalf("after retry the job is not due: %v %v", ok, err)
		}
	})
}

// TestMigrationMovesTransientFailuresToRetrying: migration 0045 turns a failed
// placement that is still retried into retrying and leaves one failed for good.
func TestMigrationMovesTransientFailuresToRetrying(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		s, _ := db.NewSealer(key(1))
		ctx := context.Background()
		d, err := db.Open(ctx, tg.options(s, nil))
		if err != nil {
			t.Fatal(err)
		}
		ten, _ := d.CreateTenant(ctx, "team-a", "", "")
		g := tenants.GitStateStore{TenantID: ten.ID, Name: "repo", URL: "https://git.example.com/r.git", Path: "s"}
		g.Normalize()
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev",
			StoreKind: tenants.KindGit, StoreName: "repo"}
		dest.Normalize()
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
		transient := submit(t, d, ten.ID, resourceWork("a", "dev", "x.yaml", "1"), false).Work
		refused := submit(t, d, ten.ID, resourceWork("b", "dev", "y.yaml", "1"), false).Work
		d.Close()
		raw := rawDB(t, tg)
		for _, q := range []string{
			`UPDATE placements SET state = 'failed', stuck = FALSE`,
			`UPDATE placements SET stuck = TRUE WHERE work_id = ` + strconv.FormatInt(refused, 10),
			`DELETE FROM schema_migrations WHERE version = '0045_placement_retrying'`,
			// A later index on the column 0045 rebuilds goes and comes back with its migration.
			`DROP INDEX placements_failed`,
			`DELETE FROM schema_migrations WHERE version = '0059_placements_failed'`,
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		raw.Close()
		d, err = db.Open(ctx, tg.options(s, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for id, want := range map[int64]string{transient: tenants.StateRetrying, refused: tenants.StateFailed} {
			v, err := d.Work(ctx, ten.ID, id)
			if err != nil || v.Placements[0].State != want {
				t.Errorf("Work %d after the migration: %+v %v, want %s", id, v.Placements, err, want)
			}
		}
	})
}

// rawDB opens the target's database directly.
func rawDB(t *testing.T, tg target) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite3", "file:"+tg.path+"?_busy_timeout=10000"
	if tg.url != "" {
		driver, dsn = "pgx", tg.url
	}
	c, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
