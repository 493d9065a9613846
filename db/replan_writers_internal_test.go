package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestReplanAndWritersNeverDeadlock: a re-plan (a Destination edit) and what
// a writer records of the same store at the same time: a job's finish, or
// the expiry of a dead writer's lease. The re-plan locks the placements of
// its Works chunk by chunk, and the store's queued job after its first Work;
// the writer's side locks the placements it wrote or left, then the queued
// job. Each could wait for a row the other had locked: PostgreSQL broke the
// cycle after deadlock_timeout (a second) and one of them ran again. Both now
// take the team's configuration lock (shared, as a submit does) before any
// row, so they wait for the re-plan, or the re-plan for them, and no cycle can
// form.
//
// Here the writer's side runs while the re-plan is between its two chunks
// (more than replanChunk Works), holding the first chunk's placements and the
// queued job, and changes placements of the second chunk.
func TestReplanAndWritersNeverDeadlock(t *testing.T) {
	cases := []struct {
		name string
		// set up the team; answer what the writer's side runs, and the
		// placement of the second chunk it changes
		prepare func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64)
	}{
		{"a job's finish", func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64) {
			ctx := context.Background()
			submitDevWorks(t, d, ten, 0, 600)
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok || len(job.Writes) != 600 {
				t.Fatalf("claim: %v %v (%d placements)", ok, err, len(job.Writes))
			}
			// The job's placement that the re-plan changes last (Works in id
			// order): the finish writes it, then resets what it left.
			last := lastPlacementOf(t, d, ten, job)
			res := tenants.JobResult{Version: "v1"}
			for _, w := range job.Writes {
				if w.ID == last {
					res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
				}
			}
			return func() error { return d.FinishJob(ctx, job, res) }, last
		}},
		{"a job's release", func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64) {
			// Given back unwritten (its replica shuts down).
			job := secondChunkJob(t, d, ten, time.Minute)
			return func() error { return d.ReleaseJob(context.Background(), job) }, lastPlacementOf(t, d, ten, job)
		}},
		{"a pull request's merge", func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64) {
			ref, last := secondChunkPR(t, d, ten)
			return func() error { return d.PRMerged(context.Background(), ref, 8, "h2", "m2", "rita") }, last
		}},
		{"a pull request's close", func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64) {
			ref, last := secondChunkPR(t, d, ten)
			return func() error { return d.PRClosed(context.Background(), ref, 8, "h2", "rita") }, last
		}},
		{"a lease's expiry", func(t *testing.T, d *DB, ten tenants.Tenant) (func() error, int64) {
			// Its writer dies at once.
			job := secondChunkJob(t, d, ten, time.Millisecond)
			return func() error {
				_, _, err := d.ClaimJob(context.Background(), "w2", time.Minute) // expires it first
				return err
			}, lastPlacementOf(t, d, ten, job)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, proxy, direct := pipelineDBAt(t, url.Values{"default_query_exec_mode": {"exec"}})
			ctx := context.Background()
			ten := gitDevTeam(t, d)
			writer, last := tc.prepare(t, d, ten)
			// One more Work: the store has a queued job, which the re-plan's
			// first Work locks and the writer's side locks last.
			submitDevWorks(t, d, ten, 600, 1)
			if n := deadlocksBesideReplan(t, d, proxy, direct, writer, func() error { return relabel(ctx, d, ten, "staging") }); n != 0 {
				t.Errorf("PostgreSQL broke %d deadlock(s) between the re-plan and %s; want none", n, tc.name)
			}
			var intent string
			if err := d.r.GetContext(ctx, &intent, `SELECT intent FROM placements WHERE id = ?`, last); err != nil {
				t.Fatal(err)
			}
			if intent != intentDelete {
				t.Errorf("the last Work's placement has intent %q after its Destination stopped matching; want %q", intent, intentDelete)
			}
		})
	}
}

// TestReplanAndReassertNeverDeadlock: the periodic re-assert queues a full
// rewrite of every store (RequeueAll), locking their queued jobs in the
// stores' order, while a re-plan locks them in its Works' order: each could
// wait for a queued job the other held. RequeueAll now takes the teams'
// configuration locks, shared, first.
//
// Here the re-plan's first chunk changes Works on store "repo" and its second
// a Work on store "a-repo", which the re-assert takes first.
func TestReplanAndReassertNeverDeadlock(t *testing.T) {
	d, proxy, direct := pipelineDBAt(t, url.Values{"default_query_exec_mode": {"exec"}})
	ctx := context.Background()
	ten := gitTeam(t, d)
	apply := func(devLabel, devALabel string) error {
		y := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: a-repo}
spec: {url: "https://git.example.com/a.git", branch: main, path: a, authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {env: %s}}
spec: {path: dev, stateStoreRef: {name: repo, kind: GitStateStore}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev-a, labels: {env: %s}}
spec: {path: dev-a, stateStoreRef: {name: a-repo, kind: GitStateStore}}
`, devLabel, devALabel)
		docs, errs := tenants.ParseKratixYAML([]byte(y), tenants.ParseOptions{})
		if len(errs) > 0 {
			return fmt.Errorf("%v", errs)
		}
		_, err := d.Apply(ctx, ten.ID, docs, tenants.ApplyOptions{})
		return err
	}
	if err := apply("dev", "deva"); err != nil {
		t.Fatal(err)
	}
	submitDevWorks(t, d, ten, 0, 500) // on dev, store repo: the re-plan's first chunk
	last := devWork(t, 500, "a: 1\n")
	last.Groups[0].DestinationSelectors = map[string]string{"env": "deva"} // on dev-a, store a-repo: the second
	res, err := d.SubmitWork(ctx, ten.ID, last, false)
	if err != nil || len(res.Placements) != 1 || res.Placements[0].Destination != "dev-a" {
		t.Fatalf("submit: %v %+v", err, res.Placements)
	}
	var stores int
	reassert := func() (err error) { stores, err = d.RequeueAll(ctx); return err }
	if n := deadlocksBesideReplan(t, d, proxy, direct, reassert, func() error { return apply("gone", "gone") }); n != 0 {
		t.Errorf("PostgreSQL broke %d deadlock(s) between the re-plan and the re-assert; want none", n)
	}
	if stores != 2 {
		t.Errorf("the re-assert queued %d stores; want 2", stores)
	}
}

// deadlocksBesideReplan runs edit, whose re-plan must send more than
// replanChunk Works, and runs writer from a proxy hook right before the
// re-plan's second chunk goes out, holding the chunk back until writer waits
// for a lock (the re-plan's, or the cycle's). It answers how many deadlocks
// PostgreSQL broke meanwhile, once both are done.
func deadlocksBesideReplan(t *testing.T, d *DB, proxy *testpeers.TCPProxy, direct string, writer, edit func() error) int64 {
	t.Helper()
	ctx := context.Background()
	probe, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	var (
		fired     atomic.Bool
		writerErr error
		written   = make(chan struct{})
		hookErr   = make(chan error, 1)
	)
	proxy.OnSendChunk(func(chunk []byte) {
		// The re-plan's second chunk starts by releasing the first one's savepoint.
		if !bytes.Contains(chunk, []byte("RELEASE SAVEPOINT replan")) || !fired.CompareAndSwap(false, true) {
			return
		}
		go func() { writerErr = writer(); close(written) }()
		hookErr <- waitForALockWait(probe, written)
	})
	before := d.Retries()
	err = edit()
	proxy.OnSendChunk(nil)
	if !fired.Load() {
		t.Fatal("the re-plan sent no second chunk through the proxy; the test saw nothing")
	}
	if herr := <-hookErr; herr != nil {
		t.Fatal(herr)
	}
	if err != nil {
		t.Fatalf("the edit: %v", err)
	}
	<-written
	if writerErr != nil {
		t.Fatalf("beside the re-plan: %v", writerErr)
	}
	return d.Retries()[RetryDeadlock] - before[RetryDeadlock]
}

// secondChunkJob writes 500 Works (a re-plan's first chunk) and claims, for
// lease, the job of 100 more: a job of the second chunk's Works alone.
func secondChunkJob(t *testing.T, d *DB, ten tenants.Tenant, lease time.Duration) *tenants.Job {
	t.Helper()
	submitDevWorks(t, d, ten, 0, 500)
	writeNextJob(t, d, "v1")
	submitDevWorks(t, d, ten, 500, 100)
	job, ok, err := d.ClaimJob(context.Background(), "w", lease)
	if err != nil || !ok || len(job.Writes) != 100 {
		t.Fatalf("claim: %v %v (%d placements)", ok, err, len(job.Writes))
	}
	return job
}

// secondChunkPR makes store repo a pull-request store, writes 500 Works
// (a re-plan's first chunk) through a merged pull request, and opens pull
// request 8 at head h2 with 100 more: the second chunk's Works alone. One more
// Work is proposed after it took its head: a merge or close of 8 puts that
// one back to write, which locks the store's queued job. It answers the store
// and the placement of pull request 8 whose Work is the newest.
func secondChunkPR(t *testing.T, d *DB, ten tenants.Tenant) (tenants.StoreRef, int64) {
	t.Helper()
	ctx := context.Background()
	g, err := d.GitStore(ctx, ten.ID, "repo")
	if err != nil {
		t.Fatal(err)
	}
	g.PullRequest = &tenants.PullRequestSpec{Provider: tenants.ProviderGitea}
	g.Credentials.Password, g.Credentials.WebhookSecret = "token", "hook-secret"
	g.PushInterval = "0s"
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	ref := tenants.StoreRef{TenantID: ten.ID, Kind: tenants.KindGit, Name: "repo"}
	submitDevWorks(t, d, ten, 0, 500)
	proposeNextJob(t, d, "h1", true)
	if err := d.RecordPR(ctx, ref, 7, "https://git.example.com/r/pulls/7", "hash"); err != nil {
		t.Fatal(err)
	}
	if err := d.PRMerged(ctx, ref, 7, "h1", "m1", "rita"); err != nil {
		t.Fatal(err)
	}
	submitDevWorks(t, d, ten, 500, 100)
	job := proposeNextJob(t, d, "h2", true)
	if err := d.RecordPR(ctx, ref, 8, "https://git.example.com/r/pulls/8", "hash"); err != nil {
		t.Fatal(err)
	}
	submitDevWorks(t, d, ten, 700, 1)
	proposeNextJob(t, d, "h3", false)
	return ref, lastPlacementOf(t, d, ten, job)
}

// submitDevWorks submits devWorks from..from+n-1.
func submitDevWorks(t *testing.T, d *DB, ten tenants.Tenant, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := d.SubmitWork(context.Background(), ten.ID, devWork(t, i, "a: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
}

// lastPlacementOf is the id of job's placement whose Work is the newest.
func lastPlacementOf(t *testing.T, d *DB, ten tenants.Tenant, job *tenants.Job) int64 {
	t.Helper()
	var id int64
	if err := d.r.GetContext(context.Background(), &id, `SELECT id FROM placements WHERE tenant_id = ? AND job_id = ?
		ORDER BY work_id DESC LIMIT 1`, ten.ID, job.ID); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitForALockWait answers nil once some session of the database waits for a
// lock, an error if done says the awaited transaction ended first or no
// session waits within 20 s.
func waitForALockWait(probe *pgx.Conn, done <-chan struct{}) error {
	ended := func() error {
		select {
		case <-done:
			return errors.New("the writer's side ended without waiting for a lock")
		default:
			return nil
		}
	}
	return pollWaiting(probe, ended, `SELECT COUNT(*) FROM pg_locks WHERE NOT granted
		AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`)
}

// proposeNextJob claims the next job of a pull-request store and finishes it
// as a write to the head branch at head (started anew, or on the head before)
// that proposed every placement.
func proposeNextJob(t *testing.T, d *DB, head string, restarted bool) *tenants.Job {
	t.Helper()
	ctx := context.Background()
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok || job.PullRequest == nil {
		t.Fatalf("claim: %v %v (pull request: %v)", ok, err, job != nil && job.PullRequest != nil)
	}
	res := tenants.JobResult{Version: "base", Head: head, HeadRestarted: restarted, Changed: true}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys(), Proposed: true})
	}
	for _, c := range job.Canaries {
		res.Canaries = append(res.Canaries, tenants.CanaryOutcome{ID: c.ID, Generation: c.Generation, Proposed: true})
	}
	if err := d.FinishJob(ctx, job, res); err != nil {
		t.Fatal(err)
	}
	return job
}
