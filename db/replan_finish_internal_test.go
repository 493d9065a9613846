package db

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stateward/stateward/tenants"
)

// TestReplanAndFinishNeverDeadlock: a re-plan (a Destination edit) and the
// finish of a job of the same store, at the same time. The re-plan locks the
// placements of its Works chunk by chunk, and the store's queued job after
// its first Work; the finish locks the placements it wrote, then those the job
// left (resetWriting), then the queued job. Each could wait for a row the
// other had locked: PostgreSQL broke the cycle after deadlock_timeout (a
// second) and one of them ran again — 0 to 13 times in 80 label flips beside
// 600 submits by hand. The finish now takes the team's configuration lock
// (shared, as a submit does) before any row, so it waits for the re-plan, or
// the re-plan for it, and no cycle can form.
//
// Here the finish runs while the re-plan is between its two chunks (600
// Works; replanChunk is 500), holding the first chunk's placements and the
// queued job, and writes a placement of the second chunk.
func TestReplanAndFinishNeverDeadlock(t *testing.T) {
	d, proxy, direct := pipelineDBAt(t, url.Values{"default_query_exec_mode": {"exec"}})
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	const works = 600
	for i := range works {
		if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, i, "a: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok || len(job.Writes) != works {
		t.Fatalf("claim: %v %v (%d placements)", ok, err, len(job.Writes))
	}
	// One more Work: the store has a queued job, which the re-plan's first
	// Work locks and the finish locks last.
	if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, works, "a: 1\n"), false); err != nil {
		t.Fatal(err)
	}
	// The job's placement that the re-plan changes last (Works in id order).
	var lastID int64
	if err := d.r.GetContext(ctx, &lastID, `SELECT id FROM placements WHERE tenant_id = ? AND job_id = ? ORDER BY work_id DESC LIMIT 1`,
		ten.ID, job.ID); err != nil {
		t.Fatal(err)
	}
	res := tenants.JobResult{Version: "v1"}
	for _, w := range job.Writes {
		if w.ID == lastID {
			res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
		}
	}
	probe, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)

	var (
		fired     atomic.Bool
		finishErr error
		finished  = make(chan struct{})
		hookErr   = make(chan error, 1)
	)
	proxy.OnSendChunk(func(chunk []byte) {
		// The re-plan's second chunk starts by releasing the first one's savepoint.
		if !bytes.Contains(chunk, []byte("RELEASE SAVEPOINT replan")) || !fired.CompareAndSwap(false, true) {
			return
		}
		go func() { finishErr = d.FinishJob(ctx, job, res); close(finished) }()
		hookErr <- waitForALockWait(probe, finished)
	})
	before := d.Retries()
	err = relabel(ctx, d, ten, "staging")
	proxy.OnSendChunk(nil)
	if !fired.Load() {
		t.Fatal("the re-plan sent no second chunk through the proxy; the test saw nothing")
	}
	if herr := <-hookErr; herr != nil {
		t.Fatal(herr)
	}
	if err != nil {
		t.Fatalf("the re-plan: %v", err)
	}
	<-finished
	if finishErr != nil {
		t.Fatalf("the finish: %v", finishErr)
	}
	after := d.Retries()
	if n := after[RetryDeadlock] - before[RetryDeadlock]; n != 0 {
		t.Errorf("PostgreSQL broke %d deadlock(s) between the re-plan and the finish; want none", n)
	}
	var intent string
	if err := d.r.GetContext(ctx, &intent, `SELECT intent FROM placements WHERE id = ?`, lastID); err != nil {
		t.Fatal(err)
	}
	if intent != intentDelete {
		t.Errorf("the last Work's placement has intent %q after its Destination stopped matching; want %q", intent, intentDelete)
	}
}

// waitForALockWait answers nil once some session of the database waits for a
// lock, an error if done says the awaited transaction finished first or no
// session waits within 20 s.
func waitForALockWait(probe *pgx.Conn, done <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			return errors.New("the finish ended without waiting for a lock")
		default:
		}
		var n int
		if err := probe.QueryRow(context.Background(),
			`SELECT COUNT(*) FROM pg_locks WHERE NOT granted
				AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("no session waited for a lock in 20 s")
		}
		time.Sleep(2 * time.Millisecond) // polling the lock table, not a synchronisation
	}
}
