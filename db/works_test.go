package db_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// worksDB opens a database with a tenant, a Git store "repo" (path "s") and two
// Destinations on it: "dev" (env=dev, nested) and "prod" (env=prod, mode none).
func worksDB(t testing.TB, tg target) (*db.DB, int64, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := db.NewSealer(key(1))
	d, err := db.Open(context.Background(), tg.options(s, c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	g := tenants.GitStateStore{TenantID: ten.ID, Name: "repo", URL: "https://git.example.com/r.git", Path: "s"}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []tenants.Destination{
		{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev", StoreKind: tenants.KindGit, StoreName: "repo", InitWorkloads: true},
		{TenantID: ten.ID, Name: "prod", Labels: map[string]string{"env": "prod"}, Path: "prod", StoreKind: tenants.KindGit, StoreName: "repo", Mode: tenants.ModeNone, InitWorkloads: true},
	} {
		dest.Normalize()
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
	}
	return d, ten.ID, c
}

func resourceWork(name, env string, files ...string) *tenants.Work {
	req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: name},
		DestinationSelectors: map[string]string{"env": env}}
	for i := 0; i+1 < len(files); i += 2 {
		req.Files = append(req.Files, tenants.WorkFile{Path: files[i], Content: files[i+1]})
	}
	w, err := req.Work()
	if err != nil {
		panic(err)
	}
	return w
}

func submit(t *testing.T, d *db.DB, tenantID int64, w *tenants.Work, dry bool) tenants.SubmitResult {
	t.Helper()
	res, err := d.SubmitWork(context.Background(), tenantID, w, dry)
	if err != nil {
		t.Fatalf("SubmitWork: %v", err)
	}
	return res
}

func TestSubmitWorkStableIDAndCoalescedJob(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		a := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		b := submit(t, d, tid, resourceWork("b", "dev", "x.yaml", "1"), false)
		again := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "2"), false)
		if a.Work == 0 || again.Work != a.Work || b.Work == a.Work {
			t.Errorf("work ids a=%d again=%d b=%d, want a stable id per identity", a.Work, again.Work, b.Work)
		}
		if len(a.Placements) != 1 || a.Placements[0].Destination != "dev" {
			t.Fatalf("placements = %+v, want one on dev", a.Placements)
		}
		want := "s/dev/resources/default/redis/a/5058f/x.yaml"
		if got := a.Placements[0].Paths; !slices.Equal(got, []string{want}) {
			t.Errorf("paths = %v, want [%s]", got, want)
		}
		ja, jb := a.Placements[0].Job, b.Placements[0].Job
		if ja == nil || jb == nil || *ja != *jb {
			t.Errorf("jobs %v %v, want one coalesced job for the store", ja, jb)
		}
		if a.Placements[0].Name != "redis-a-default-fa0c9.dev-5058f" {
			t.Errorf("placement name = %q", a.Placements[0].Name)
		}
	})
}

func TestSubmitWorkDryRunKeepsNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), true)
		if res.Work != 0 || len(res.Placements) != 1 || res.Placements[0].Job != nil {
			t.Errorf("dry run = %+v, want work 0, one placement, no job", res)
		}
		list, err := d.Works(context.Background(), tid)
		if err != nil || len(list) != 0 {
			t.Errorf("works after dry run = %v, %v; want none", list, err)
		}
		if job, ok, _ := d.ClaimJob(context.Background(), "w", time.Minute); ok && len(job.Writes) > 0 {
			t.Errorf("a dry run left placements to write: %+v", job.Writes)
		}
	})
}

func TestSubmitWorkUnscheduled(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		res := submit(t, d, tid, resourceWork("a", "staging", "x.yaml", "1"), false)
		if len(res.Placements) != 0 || len(res.Unscheduled) != 1 || !strings.Contains(res.Unscheduled[0].Reason, "env=staging") {
			t.Fatalf("result = %+v, want one unscheduled group naming env=staging", res)
		}
		// A matching Destination appearing later takes the Work.
		dest := tenants.Destination{TenantID: tid, Name: "staging", Labels: map[string]string{"env": "staging"}, Path: "staging",
			StoreKind: tenants.KindGit, StoreName: "repo"}
		dest.Normalize()
		if _, err := d.SaveDestination(context.Background(), dest); err != nil {
			t.Fatal(err)
		}
		v, err := d.Work(context.Background(), tid, res.Work)
		if err != nil || len(v.Placements) != 1 || v.Placements[0].Destination != "staging" || len(v.Unscheduled) != 0 {
			t.Fatalf("after the Destination appeared: %+v, %v; want placed on staging", v, err)
		}
	})
}

func TestJobClaimFinishAndResubmitDuringRun(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, ok, err := d.ClaimJob(ctx, "w1", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		// 2 canaries (dev, prod) and one placement.
		if len(job.Writes) != 1 || len(job.Canaries) != 2 {
			t.Fatalf("job = %+v, want 1 write and 2 canaries", job)
		}
		if _, ok, _ := d.ClaimJob(ctx, "w2", time.Minute); ok {
			t.Fatal("a second worker claimed a job of a store that is being written")
		}
		// Resubmitted while the job runs: the new content must not be marked written.
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "2"), false)
		finish(t, d, job, "")
		v, _ := d.Work(ctx, tid, res.Work)
		if v.Placements[0].State != tenants.StatePending {
			t.Errorf("state = %s, want pending (newer content arrived during the write)", v.Placements[0].State)
		}
		job2, ok, err := d.ClaimJob(ctx, "w1", time.Minute) // the replica that wrote the store last
		if err != nil || !ok || len(job2.Writes) != 1 || len(job2.Canaries) != 0 {
			t.Fatalf("second job: %+v, %v, %v; want the resubmitted placement", job2, ok, err)
		}
		if got := string(job2.Writes[0].Plan.Files[0].Content); got != "2" {
			t.Errorf("second job writes %q, want the new content", got)
		}
		finish(t, d, job2, "")
		v, _ = d.Work(ctx, tid, res.Work)
		if p := v.Placements[0]; p.State != tenants.StateWritten || p.Version != "v1" {
			t.Errorf("placement = %+v, want written at v1", p)
		}
	})
}

// TestNextJobWaitsForTheStoresLastWriter: the store's next job, queued while a
// replica writes the store or after, is that replica's for JobAffinity past its
// write (its cache holds the tip, and Works arriving meanwhile join one job
// instead of starting jobs on other replicas); another replica takes it once
// that has passed, so a replica that died after its write delays the store by
// JobAffinity at most.
func TestNextJobWaitsForTheStoresLastWriter(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, ok, err := d.ClaimJob(ctx, "replica-a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		submit(t, d, tid, resourceWork("b", "dev", "y.yaml", "1"), false) // arrives during the write
		finish(t, d, job, "")
		if job, ok, err := d.ClaimJob(ctx, "replica-b", time.Minute); err != nil || ok {
			t.Fatalf("another replica claimed the store's next job at once: %+v, %v", job, err)
		}
		c.add(db.JobAffinity)
		job2, ok, err := d.ClaimJob(ctx, "replica-b", time.Minute)
		if err != nil || !ok || len(job2.Writes) != 1 {
			t.Fatalf("after the affinity: %+v, %v, %v; want replica-b to take the job", job2, ok, err)
		}
		// A Work arriving after the queue ran dry makes a new job: it too is
		// the last writer's (replica-b) for JobAffinity.
		finish(t, d, job2, "")
		c.add(db.JobAffinity / 2)
		submit(t, d, tid, resourceWork("c", "dev", "z.yaml", "1"), false)
		if job, ok, err := d.ClaimJob(ctx, "replica-a", time.Minute); err != nil || ok {
			t.Fatalf("a job queued after the last write went to another replica at once: %+v, %v", job, err)
		}
		if job3, ok, err := d.ClaimJob(ctx, "replica-b", time.Minute); err != nil || !ok || len(job3.Writes) != 1 {
			t.Fatalf("the last writer could not take the new job: %+v, %v, %v", job3, ok, err)
		}
	})
}

// finish reports every write of job as done (or failed with msg).
func finish(t *testing.T, d *db.DB, job *tenants.Job, msg string) {
	t.Helper()
	res := tenants.JobResult{Err: msg, Version: "v1"}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete,
			Error: msg, Keys: w.Plan.Keys(), Prefix: w.Plan.OwnedPrefix})
	}
	for _, c := range job.Canaries {
		res.Canaries = append(res.Canaries, tenants.CanaryOutcome{ID: c.ID, Generation: c.Generation, Delete: c.Delete, Error: msg})
	}
	if err := d.FinishJob(context.Background(), job, res); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
}

func TestJobFailureBacksOffAndNeverDrops(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		for attempt := 1; attempt <= 12; attempt++ {
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("attempt %d: claim %v %v", attempt, ok, err)
			}
			finish(t, d, job, "remote: push declined")
			v, _ := d.Work(ctx, tid, res.Work)
			if p := v.Placements[0]; p.State != tenants.StateRetrying || p.Error != "remote: push declined" {
				t.Fatalf("attempt %d: placement %+v, want retrying with the remote's message", attempt, p)
			}
			if _, ok, _ := d.ClaimJob(ctx, "w", time.Minute); ok {
				t.Fatalf("attempt %d: job due again at once, want a backoff", attempt)
			}
			c.add(db.MaxBackoff + db.MaxBackoff/4)
		}
	})
}

// TestJobLeaseExpiryLetsAnotherWorkerTakeOver: an expired lease is a failed
// attempt (queued again with backoff, not run at once), and the old claim cannot
// heartbeat or finish even though both claims come from one owner: every claim
// has its own lease token.
func TestJobLeaseExpiryLetsAnotherWorkerTakeOver(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, _, _ := d.ClaimJob(ctx, "host-1", 30*time.Second)
		c.add(31 * time.Second)
		if j, ok, err := d.ClaimJob(ctx, "host-1", 30*time.Second); ok || err != nil {
			t.Fatalf("claim right after the lease expired = %+v %v, want nothing due (backoff)", j, err)
		}
		c.add(2 * time.Second)
		job2, ok, err := d.ClaimJob(ctx, "host-1", 30*time.Second)
		if err != nil || !ok || len(job2.Writes) != 1 || job2.Attempts != 1 || job2.Token == job.Token {
			t.Fatalf("take over: %+v %v %v, want the dead claim's job with 1 attempt and a new token", job2, ok, err)
		}
		if err := d.Heartbeat(ctx, job, time.Minute); !errors.Is(err, db.ErrLeaseLost) {
			t.Errorf("heartbeat of the dead claim = %v, want ErrLeaseLost", err)
		}
		if err := d.FinishJob(ctx, job, tenants.JobResult{}); !errors.Is(err, db.ErrLeaseLost) {
			t.Errorf("finish by the dead claim = %v, want ErrLeaseLost", err)
		}
		if err := d.Heartbeat(ctx, job2, time.Minute); err != nil {
			t.Errorf("heartbeat of the live claim = %v", err)
		}
	})
}

func TestDeleteWorkAndMovedPlacement(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, _, _ := d.ClaimJob(ctx, "w", time.Minute)
		finish(t, d, job, "")
		// The selectors change: dev no longer matches, so it moves to prod.
		moved := submit(t, d, tid, resourceWork("a", "prod", "x.yaml", "1"), false)
		if len(moved.Deletes) != 1 || moved.Deletes[0].Destination != "dev" || !moved.Deletes[0].Misplaced {
			t.Errorf("deletes = %+v, want the dev placement, misplaced", moved.Deletes)
		}
		del, err := d.DeleteWork(ctx, tid, res.Work)
		if err != nil || len(del.Deletes) != 2 {
			t.Fatalf("DeleteWork = %+v, %v; want both placements removed", del, err)
		}
		job, _, _ = d.ClaimJob(ctx, "w", time.Minute)
		finish(t, d, job, "")
		v, err := d.Work(ctx, tid, res.Work)
		if err != nil || !v.Deleted || len(v.Placements) != 0 {
			t.Errorf("after delete: %+v, %v; want deleted with no placements", v, err)
		}
		if _, err := d.DeleteWork(ctx, tid+1, res.Work); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("another tenant's Work: %v, want not found", err)
		}
	})
}

func TestReleaseJobMakesItDueAgain(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, _, _ := d.ClaimJob(ctx, "w", time.Minute)
		if err := d.ReleaseJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		v, _ := d.Work(ctx, tid, res.Work)
		if v.Placements[0].State != tenants.StatePending {
			t.Errorf("state after release = %s, want pending", v.Placements[0].State)
		}
		again, ok, err := d.ClaimJob(ctx, "w2", time.Minute)
		if err != nil || !ok || again.ID != job.ID || len(again.Writes) != 1 {
			t.Fatalf("claim after release: %+v %v %v", again, ok, err)
		}
	})
}

// TestRecoveredStoreSchedulesWaitingWorks: a resource request that found only a
// failing store is placed once that store passes its check again.
func TestRecoveredStoreSchedulesWaitingWorks(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", false, "connection refused", c.now()); err != nil {
			t.Fatal(err)
		}
		res := submit(t, d, tid, resourceWork("waiting", "dev", "a.yaml", "a: b\n"), false)
		if len(res.Placements) != 0 || len(res.Unscheduled) != 1 {
			t.Fatalf("submit with the only store failing: %+v; want unscheduled", res)
		}
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "ready", c.now()); err != nil {
			t.Fatal(err)
		}
		v, err := d.Work(ctx, tid, res.Work)
		if err != nil || len(v.Placements) != 1 || v.Placements[0].Destination != "dev" || len(v.Unscheduled) != 0 {
			t.Errorf("after the store recovered: %+v, %v; want placed on dev", v, err)
		}
	})
}

func TestPlacementCounts(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "a: 1\n"), false)
		submit(t, d, tid, resourceWork("b", "dev", "b.yaml", "b: 1\n"), false)
		waiting, failed, err := d.PlacementCounts(ctx, tid, c.now().Add(-24*time.Hour))
		if err != nil || waiting != 2 || failed != 0 {
			t.Fatalf("after submit: waiting %d failed %d %v; want 2, 0", waiting, failed, err)
		}
		job, ok, err := d.ClaimJob(ctx, "w1", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		finish(t, d, job, "connection refused")
		waiting, failed, _ = d.PlacementCounts(ctx, tid, c.now().Add(-24*time.Hour))
		if waiting != 2 || failed != 0 {
			t.Errorf("after a write that will be retried: waiting %d failed %d; want 2, 0", waiting, failed)
		}
		c.add(db.MaxBackoff + db.MaxBackoff/4)
		job, ok, err = d.ClaimJob(ctx, "w1", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim the retry: %v %v", ok, err)
		}
		res := tenants.JobResult{}
		for _, w := range job.Writes {
			res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Error: "remote said no", Stuck: true})
		}
		if err := d.FinishJob(ctx, job, res); err != nil {
			t.Fatal(err)
		}
		waiting, failed, _ = d.PlacementCounts(ctx, tid, c.now().Add(-24*time.Hour))
		if waiting != 0 || failed != 2 {
			t.Errorf("after a write refused for its content: waiting %d failed %d; want 0, 2", waiting, failed)
		}
		c.add(25 * time.Hour)
		if _, failed, _ = d.PlacementCounts(ctx, tid, c.now().Add(-24*time.Hour)); failed != 0 {
			t.Errorf("failures older than a day still counted: %d", failed)
		}
	})
}

// TestEmptyClaimTakesNoWriteLock: a claim that finds nothing to do reads; it
// does not wait for SQLite's one write lock. Every submit wakes the idle
// workers, and empty claims queued for the writer connection with the submits
// (3,671 of them, half a second of the lock, in 1,000 sequential submits). Here
// another connection holds the write lock while a worker looks for a job.
func TestEmptyClaimTakesNoWriteLock(t *testing.T) {
	tg := newTarget(t, "sqlite")
	d, _, _ := worksDB(t, tg)
	first, ok, err := d.ClaimJob(context.Background(), "w1", time.Minute) // the canary files
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	finish(t, d, first, "")
	raw, err := sql.Open("sqlite3", "file:"+tg.path+"?_txlock=immediate&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin() // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	job, ok, err := d.ClaimJob(ctx, "w1", time.Minute)
	if err != nil || ok || time.Since(start) > time.Second {
		t.Fatalf("claim with nothing due, the write lock held elsewhere: %+v, %v, %v after %v; want none at once",
			job, ok, err, time.Since(start))
	}
}
