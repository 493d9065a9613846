package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// pushed claims the store's due job and finishes it as a write that pushed.
func pushed(t *testing.T, d *db.DB) *tenants.Job {
	t.Helper()
	job, ok, err := d.ClaimJob(context.Background(), "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v, want a due job", ok, err)
	}
	res := writtenResult(job)
	res.Changed = true
	if err := d.FinishJob(context.Background(), job, res); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	return job
}

// dueAt checks that the store's queued job is not claimable just before at and
// is at at (the clock is moved to at).
func dueAt(t *testing.T, d *db.DB, c *clock, at time.Time) *tenants.Job {
	t.Helper()
	ctx := context.Background()
	if before := at.Add(-time.Millisecond); !before.Before(c.now()) {
		c.add(before.Sub(c.now()))
		if _, ok, err := d.ClaimJob(ctx, "w", time.Minute); ok || err != nil {
			t.Fatalf("a job is due at %s, want none before %s (err %v)", c.now().Format(time.StampMilli), at.Format(time.StampMilli), err)
		}
	}
	c.add(at.Sub(c.now()))
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("no job due at %s: %v", at.Format(time.StampMilli), err)
	}
	return job
}

func setInterval(t *testing.T, d *db.DB, tid int64, interval string) {
	t.Helper()
	g, err := d.GitStore(context.Background(), tid, "repo")
	if err != nil {
		t.Fatal(err)
	}
	g.PushInterval = interval
	if _, err := d.SaveGitStore(context.Background(), g, false); err != nil {
		t.Fatal(err)
	}
}

// TestPushPacing: a job queued right after a push is due at the push plus the
// store's interval, and every Work arriving meanwhile joins it; after a quiet
// period a Work's job is due at once; spec.pushInterval sets the interval, 0
// turns pacing off.
func TestPushPacing(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		if job := pushed(t, d); job.PushInterval != tenants.DefaultPushInterval {
			t.Errorf("job's push interval %s, want the default %s", job.PushInterval, tenants.DefaultPushInterval)
		}
		pushedAt := c.now()
		b := submit(t, d, tid, resourceWork("b", "dev", "x.yaml", "1"), false)
		c.add(300 * time.Millisecond)
		cc := submit(t, d, tid, resourceWork("c", "dev", "x.yaml", "1"), false)
		if *b.Placements[0].Job != *cc.Placements[0].Job {
			t.Errorf("Works in the interval went to jobs %d and %d, want one", *b.Placements[0].Job, *cc.Placements[0].Job)
		}
		job := dueAt(t, d, c, pushedAt.Add(time.Second))
		if len(job.Writes) != 2 {
			t.Errorf("the paced job writes %d placements, want both Works", len(job.Writes))
		}
		res := writtenResult(job)
		res.Changed = true
		if err := d.FinishJob(context.Background(), job, res); err != nil {
			t.Fatal(err)
		}

		c.add(5 * time.Second) // quiet: the next Work goes out at once
		submit(t, d, tid, resourceWork("d", "dev", "x.yaml", "1"), false)
		finishUnchanged(t, d, dueAt(t, d, c, c.now()))

		setInterval(t, d, tid, "5s")
		c.add(time.Minute)
		submit(t, d, tid, resourceWork("e", "dev", "x.yaml", "1"), false)
		pushed(t, d)
		at := c.now().Add(5 * time.Second)
		submit(t, d, tid, resourceWork("f", "dev", "x.yaml", "1"), false)
		job = dueAt(t, d, c, at)
		if job.PushInterval != 5*time.Second {
			t.Errorf("job's push interval %s, want spec.pushInterval 5s", job.PushInterval)
		}
		finishUnchanged(t, d, job)
		// Nothing pushed: the next Work is not held back.
		submit(t, d, tid, resourceWork("g", "dev", "x.yaml", "1"), false)
		job = dueAt(t, d, c, c.now())

		res = writtenResult(job)
		res.Changed = true
		if err := d.FinishJob(context.Background(), job, res); err != nil {
			t.Fatal(err)
		}
		setInterval(t, d, tid, "0s") // the push just made stays paced by the interval it was made under
		submit(t, d, tid, resourceWork("h", "dev", "x.yaml", "1"), false)
		job = dueAt(t, d, c, c.now().Add(5*time.Second))
		if job.PushInterval != 0 {
			t.Fatalf("job's push interval %s, want 0", job.PushInterval)
		}
		res = writtenResult(job)
		res.Changed = true
		if err := d.FinishJob(context.Background(), job, res); err != nil {
			t.Fatal(err)
		}
		submit(t, d, tid, resourceWork("i", "dev", "x.yaml", "1"), false)
		dueAt(t, d, c, c.now()) // interval 0: not paced
	})
}

func finishUnchanged(t *testing.T, d *db.DB, job *tenants.Job) {
	t.Helper()
	if err := d.FinishJob(context.Background(), job, writtenResult(job)); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
}

// TestPacingHoldsForRetryAndMoves: "Retry now", a passing check and a store
// move make a job due no earlier than the store's next push may start; a host's
// rate-limit wait holds for each of them too, and is not a backoff.
func TestPacingHoldsForRetryAndMoves(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		w := submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok {
			t.Fatal("no job", err)
		}
		limited := "push to https://git.example.com/r.git: rate limited by the host (HTTP 429): slow down; retrying in 30s"
		res := tenants.JobResult{Err: limited, RetryAfter: 30 * time.Second}
		for _, pw := range job.Writes {
			res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: pw.ID, Generation: pw.Generation, Error: limited})
		}
		if err := d.FinishJob(ctx, job, res); err != nil {
			t.Fatal(err)
		}
		until := c.now().Add(30 * time.Second)
		v, _ := d.Work(ctx, tid, w.Work)
		if p := v.Placements[0]; p.State != tenants.StateRetrying || p.LastError != limited || p.NextAttemptAt == nil || !p.NextAttemptAt.Equal(until) {
			t.Errorf("placement %+v, want retrying with the host's words, next attempt at %s", p, until)
		}
		g, _ := d.GitStore(ctx, tid, "repo")
		if g.Status.WriteError != "" {
			t.Errorf("a rate-limited push marked the store failing: %q", g.Status.WriteError)
		}
		c.add(time.Second)
		if _, err := d.RetryWork(ctx, tid, w.Work, tenants.Actor{Kind: tenants.ActorSystem}); err != nil {
			t.Fatal(err)
		}
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "ready", c.now()); err != nil {
			t.Fatal(err)
		}
		job = dueAt(t, d, c, until)
		res = writtenResult(job)
		res.Changed = true
		if err := d.FinishJob(ctx, job, res); err != nil {
			t.Fatal(err)
		}

		// A move right after a push: the job for the new location waits out the interval.
		pushedAt := c.now()
		g, _ = d.GitStore(ctx, tid, "repo")
		g.URL = "https://git.example.com/moved.git"
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		dueAt(t, d, c, pushedAt.Add(time.Second))
	})
}

// TestBucketsAreNotPaced: a bucket store's next job is due at once after a
// write that changed it.
func TestBucketsAreNotPaced(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid := moveDB(t, tg, tenants.KindBucket)
		ctx := context.Background()
		for _, name := range []string{"a", "b", "c"} {
			submit(t, d, tid, resourceWork(name, "dev", "x.yaml", name), false)
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("Work %s: no job due at once after the bucket's last write (%v)", name, err)
			}
			if job.PushInterval != 0 {
				t.Errorf("bucket job push interval %s", job.PushInterval)
			}
			res := writtenResult(job)
			res.Changed = true
			if err := d.FinishJob(ctx, job, res); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestWorksArrivingDuringAPushWait: Works submitted while a push runs (their
// job queued, due at once) go out no sooner than the interval after that push.
func TestWorksArrivingDuringAPushWait(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		submit(t, d, tid, resourceWork("a", "dev", "x.yaml", "1"), false)
		running, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok {
			t.Fatal("no job", err)
		}
		submit(t, d, tid, resourceWork("b", "dev", "x.yaml", "1"), false) // queued while a runs
		c.add(200 * time.Millisecond)
		res := writtenResult(running)
		res.Changed = true
		if err := d.FinishJob(ctx, running, res); err != nil {
			t.Fatal(err)
		}
		job := dueAt(t, d, c, c.now().Add(time.Second))
		if len(job.Writes) != 1 {
			t.Errorf("job writes %d placements, want b's", len(job.Writes))
		}
	})
}

// TestPullRequestHeadPushesArePaced: a pull-request store's push to its head
// branch paces its next write as a push to the branch does.
func TestPullRequestHeadPushesArePaced(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		g, err := d.GitStore(ctx, tid, "repo")
		if err != nil {
			t.Fatal(err)
		}
		g.PullRequest = &tenants.PullRequestSpec{Provider: tenants.ProviderGitea}
		g.Credentials.Password, g.Credentials.WebhookSecret = "token", "hook-secret"
		g.PushInterval = "3s"
		g.Normalize()
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		submit(t, d, tid, resourceWork("one", "dev", "a.yaml", "1"), false)
		propose(t, d, "h1", true)
		pushedAt := c.now()
		submit(t, d, tid, resourceWork("two", "dev", "b.yaml", "1"), false)
		dueAt(t, d, c, pushedAt.Add(3*time.Second))
	})
}

// BenchmarkSubmitWorkPostgres1msPaced is BenchmarkSubmitWorkPostgres1ms with
// every Work arriving while the store's push interval runs (its job paced after
// a push): the round trips per submit must be the same (pacing is folded into
// the statements a submit already sends).
//
//	go test ./db -run '^$' -bench 'BenchmarkSubmitWorkPostgres1ms' -benchtime 300x
func BenchmarkSubmitWorkPostgres1msPaced(b *testing.B) {
	tg, proxy := proxiedPostgres(b)
	d, tenantID, _ := worksDB(b, tg)
	ctx := context.Background()
	g, err := d.GitStore(ctx, tenantID, "repo")
	if err != nil {
		b.Fatal(err)
	}
	g.PushInterval = "10m" // the frozen clock never reaches the end of it
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		b.Fatal(err)
	}
	if _, err := d.SubmitWork(ctx, tenantID, resourceWork("first", "dev", "a.yaml", "x: 1\n"), false); err != nil {
		b.Fatal(err)
	}
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		b.Fatal("no job", err)
	}
	res := writtenResult(job)
	res.Changed = true
	if err := d.FinishJob(ctx, job, res); err != nil {
		b.Fatal(err)
	}
	proxy.SetLatency(time.Millisecond)
	i := 0
	before := proxy.Sent()
	for b.Loop() {
		i++
		w := resourceWork(fmt.Sprintf("r%d", i), "dev", "a.yaml", "kind: ConfigMap\n")
		if _, err := d.SubmitWork(ctx, tenantID, w, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(proxy.Sent()-before)/float64(i), "round-trips/submit")
	proxy.SetLatency(0)
	if _, ok, _ := d.ClaimJob(ctx, "w", time.Minute); ok {
		b.Error("the Works' job is due, want it paced")
	}
}
