package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestReplicasStartTogether: three handles opening one empty database at the same
// moment (three replicas starting) all succeed and apply each migration once.
func TestReplicasStartTogether(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		s, _ := db.NewSealer(key(1))
		handles := make([]*db.DB, 3)
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range handles {
			wg.Go(func() { handles[i], errs[i] = db.Open(context.Background(), tg.options(s, nil)) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			t.Cleanup(func() { handles[i].Close() })
		}
		ctx := context.Background()
		if _, err := handles[0].CreateTenant(ctx, "team-a", "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := handles[2].TenantBySlug(ctx, "team-a"); err != nil {
			t.Fatalf("another replica reads the tenant: %v", err)
		}
	})
}

// TestConcurrentSubmitsAndClaims: writers submitting Works to one store while
// workers claim and finish its jobs. Every submit succeeds (no duplicate-key race
// on the one queued job, no deadlock with a claim), at most one job of the store
// runs at a time, and once drained everything is written with no job left.
func TestConcurrentSubmitsAndClaims(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		const writers, perWriter = 6, 15
		var submits, claims sync.WaitGroup
		errs := make(chan error, writers*perWriter+16)
		done := make(chan struct{})
		var running sync.Mutex // held by the worker whose job runs
		for w := range writers {
			submits.Go(func() {
				for i := range perWriter {
					// Half the Works are shared by two writers: concurrent upserts of one Work.
					name := fmt.Sprintf("w%d-%d", w, i)
					if i%2 == 0 {
						name = fmt.Sprintf("shared-%d", (w/2)*perWriter+i)
					}
					if _, err := d.SubmitWork(ctx, tid, resourceWork(name, "dev", "x.yaml", name), false); err != nil {
						errs <- fmt.Errorf("submit %s: %w", name, err)
					}
				}
			})
		}
		for w := range 3 {
			claims.Go(func() {
				owner := fmt.Sprintf("worker-%d", w)
				for {
					job, ok, err := d.ClaimJob(ctx, owner, time.Minute)
					if err != nil {
						errs <- fmt.Errorf("claim: %w", err)
						return
					}
					if !ok {
						select {
						case <-done:
							return
						case <-time.After(5 * time.Millisecond):
							continue
						}
					}
					if !running.TryLock() {
						errs <- fmt.Errorf("job %d of %s claimed while another job of the store runs", job.ID, job.Store.Name)
						return
					}
					res := writtenResult(job)
					running.Unlock() // before FinishJob commits, so the next claim cannot race this unlock
					if err := d.FinishJob(ctx, job, res); err != nil {
						errs <- fmt.Errorf("finish job %d: %w", job.ID, err)
						return
					}
				}
			})
		}
		submits.Wait()
		waitWritten(t, d, tid, 60*time.Second)
		close(done)
		claims.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		counts, err := d.JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[tenants.JobQueued]+counts[tenants.JobRunning] != 0 {
			t.Errorf("jobs left: %v, want none queued or running", counts)
		}
		if tg.dialect == "postgres" {
			d.Close()
			if n := pgDeadlocks(t, tg.url); n > 0 {
				t.Errorf("%d deadlocks, want none (each costs a second)", n)
			}
		}
	})
}

// TestResubmitsDuringClaimsNeverDeadlock (PostgreSQL): Works submitted again and
// again (each re-submit changes placements the store's job may be claiming)
// while two workers claim and finish the store's jobs. A claim used to lock the
// job row, then wait for the placements; a re-submit locks the placements, then
// waits for the job row. PostgreSQL found 22 deadlocks in 160 re-submits and broke each after its
// one-second deadlock_timeout: 16 s in all. Now none, about a second, and every
// placement a claim skipped (a submit held it) is written by a later job.
func TestResubmitsDuringClaimsNeverDeadlock(t *testing.T) {
	tg := newTarget(t, "postgres")
	d, tid, _ := worksDB(t, tg)
	ctx := context.Background()
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for c := range 2 {
		workers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				job, ok, err := d.ClaimJob(ctx, fmt.Sprint("worker-", c), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				if err := d.FinishJob(ctx, job, writtenResult(job)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	start := time.Now()
	var submits sync.WaitGroup
	for w := range 4 {
		submits.Go(func() {
			for i := range 40 {
				name := fmt.Sprintf("r%d", (w+i)%8) // eight Works, each submitted twenty times
				if _, err := d.SubmitWork(ctx, tid, resourceWork(name, "dev", "x.yaml", fmt.Sprint(w, i)), false); err != nil {
					t.Error(err)
				}
			}
		})
	}
	submits.Wait()
	took := time.Since(start)
	waitWritten(t, d, tid, 30*time.Second) // what a claim skipped (rows a submit held) too
	close(stop)
	workers.Wait()
	if counts, err := d.JobCounts(ctx); err != nil || counts[tenants.JobQueued]+counts[tenants.JobRunning] != 0 {
		t.Errorf("jobs left: %v, %v; want none queued or running", counts, err)
	}
	d.Close()
	if deadlocks := pgDeadlocks(t, tg.url); deadlocks > 0 || took > 10*time.Second {
		t.Errorf("160 re-submits beside two workers: %d deadlocks, %v; want none, well under 10s", deadlocks, took)
	}
}

// waitWritten waits until every placement and canary file of tenant tid is
// written, failing the test after within.
func waitWritten(t *testing.T, d *db.DB, tid int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := d.Outstanding(context.Background(), tid)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d placements or canary files still not written after %v", n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pgDeadlocks counts the deadlocks PostgreSQL broke in the database at url, whose
// connections the caller has closed. A backend reports its statistics as it
// exits: the count is read once every other backend of the database is gone.
func pgDeadlocks(t *testing.T, url string) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		var others int
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
			t.Fatal(err)
		}
		return others == 0, fmt.Sprintf("%d other backends still connected to the database after its pools closed", others)
	})
	var n int64
	if err := c.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// writtenResult reports every write and canary file of job as done.
func writtenResult(job *tenants.Job) tenants.JobResult {
	res := tenants.JobResult{Version: "v1"}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation,
			Delete: w.Delete, Keys: w.Plan.Keys(), Prefix: w.Plan.OwnedPrefix})
	}
	for _, c := range job.Canaries {
		res.Canaries = append(res.Canaries, tenants.CanaryOutcome{ID: c.ID, Generation: c.Generation, Delete: c.Delete})
	}
	return res
}

// TestReplicasWithDifferentKeys: of two replicas starting together on an empty
// database with different STATEWARD_SECRET_KEYs, one fails at start; neither
// silently replaces the other's seal canary.
func TestReplicasWithDifferentKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				s, _ := db.NewSealer(key(byte(i + 1)))
				d, err := db.Open(context.Background(), tg.options(s, nil))
				if err == nil {
					t.Cleanup(func() { d.Close() })
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("two keys at once: %v / %v; want exactly one start-up failure", errs[0], errs[1])
		}
	})
}

// TestSubmitsDuringADestinationDelete: Works submitted while their Destination is
// deleted end up either re-planned or unscheduled, never placed on the deleted
// Destination (a submit planned against it must not commit after the delete).
func TestSubmitsDuringADestinationDelete(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		var wg, submitters sync.WaitGroup
		ids := make(chan int64, 64)
		var submitted atomic.Int32
		midway := make(chan struct{}) // closed after 8 of the 48 submits
		for w := range 4 {
			submitters.Go(func() {
				for i := range 12 {
					res, err := d.SubmitWork(ctx, tid, resourceWork(fmt.Sprintf("w%d-%d", w, i), "dev", "x.yaml", "x"), false)
					if err != nil {
						t.Errorf("submit: %v", err)
						return
					}
					ids <- res.Work
					if submitted.Add(1) == 8 {
						close(midway)
					}
				}
			})
		}
		stopped := make(chan struct{})
		go func() { submitters.Wait(); close(stopped) }()
		wg.Go(func() {
			select {
			case <-midway:
			case <-stopped: // the submits failed early (reported above)
			}
			if err := d.DeleteDestination(ctx, tid, "dev"); err != nil {
				t.Errorf("delete Destination: %v", err)
			}
		})
		wg.Wait()
		<-stopped
		close(ids)
		for id := range ids {
			v, err := d.Work(ctx, tid, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range v.Placements {
				if p.Destination == "dev" {
					t.Errorf("Work %s is placed on the deleted Destination dev", v.Name)
				}
			}
		}
	})
}

// TestConcurrentClashingSubmitsOneWins: Works of different resources that all
// want the same file of one store (Destination "prod", mode none), submitted at
// the same moment, on PostgreSQL 1 ms away (a proxy) so that their
// transactions overlap. Exactly one may place it; every other is refused with
// a conflict. Each submit checked the store's claims before inserting its own,
// and under READ COMMITTED two submits could both find the key free and both
// claim it, so that two Works wrote one file.
func TestConcurrentClashingSubmitsOneWins(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		if tg.url != "" {
			u, err := url.Parse(tg.url)
			if err != nil {
				t.Fatal(err)
			}
			proxy := testpeers.NewTCPProxy(t, u.Host)
			proxy.SetLatency(time.Millisecond)
			u.Host = proxy.Addr()
			tg.url = u.String()
		}
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		const rounds, racers = 6, 6
		for round := range rounds {
			file := fmt.Sprintf("shared-%d.yaml", round)
			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, refused := 0, 0
			var other []error
			for i := range racers {
				wg.Go(func() {
					w := resourceWork(fmt.Sprintf("r%d-%d", round, i), "prod", file, "x")
					<-start
					_, err := d.SubmitWork(ctx, tid, w, false)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, tenants.ErrConflict):
						refused++
					default:
						other = append(other, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(other) > 0 || won != 1 || refused != racers-1 {
				t.Fatalf("round %d: %d placed %s, %d refused, other errors %v; want exactly one placed", round, won, file, refused, other)
			}
		}
	})
}
