package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stateward/stateward/tenants"
)

// queuedJobProbe watches, from a connection of its own, whether the store's
// queued job is locked each time d's pool sends something through proxy —
// between the round trips of whatever runs on d. Every submit to the store
// locks that row (enqueueLater), so a transaction that holds it across a round
// trip makes those submits wait for the distance to the writer and back.
type queuedJobProbe struct {
	t      *testing.T
	conn   *pgx.Conn
	id     int64
	sends  int
	locked int
}

func newQueuedJobProbe(t *testing.T, direct string) *queuedJobProbe {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	p := &queuedJobProbe{t: t, conn: conn}
	if err := conn.QueryRow(ctx, `SELECT id FROM jobs WHERE state = 'queued'`).Scan(&p.id); err != nil {
		t.Fatalf("the store's queued job: %v", err)
	}
	return p
}

// check runs before each send (TCPProxy.OnSend).
func (p *queuedJobProbe) check() {
	ctx := context.Background()
	p.sends++
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		p.t.Error(err)
		return
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `SELECT id FROM jobs WHERE id = $1 FOR UPDATE NOWAIT`, p.id)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "55P03": // lock_not_available
		p.locked++
	case err != nil:
		p.t.Error(err)
	}
}

// TestFinishHoldsTheQueuedJobOnlyInItsLastPipeline: on PostgreSQL, a finishing
// job that pushed paces the store's queued job, gives it its affinity and
// queues one if Works are pending — all on the row every submit to the store
// locks. None of that may hold the row across a round trip: it goes out with
// the COMMIT. (The finish used to lock it with the pacing, then read the lease
// clock and the pending count, each a round trip: in the benchmark 1 ms away,
// a fifth of the submits' lock waits were on finishes idle in transaction.)
func TestFinishHoldsTheQueuedJobOnlyInItsLastPipeline(t *testing.T) {
	t.Run("a write that pushed", func(t *testing.T) { testFinishHoldsTheQueuedJob(t, false) })
	// A failed write hands its Works on to the queued job (requeue): two
	// statements on it and the failed job, that used to go out one by one.
	t.Run("a write that failed", func(t *testing.T) { testFinishHoldsTheQueuedJob(t, true) })
}

func testFinishHoldsTheQueuedJob(t *testing.T, failed bool) {
	d, proxy, direct := pipelineDBAt(t)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, 1, "a: 1\n"), false); err != nil {
		t.Fatal(err)
	}
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	// A Work submitted while the job runs: the store's next job is queued.
	if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, 2, "a: 2\n"), false); err != nil {
		t.Fatal(err)
	}
	probe := newQueuedJobProbe(t, direct)
	res := tenants.JobResult{Version: "v1", Changed: true}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
	}
	if failed {
		res = tenants.JobResult{Err: "push refused", StoreErr: "push refused"}
	}
	proxy.OnSend(probe.check)
	err = d.FinishJob(ctx, job, res)
	proxy.OnSend(nil)
	if err != nil {
		t.Fatal(err)
	}
	if probe.sends == 0 {
		t.Fatal("the finish sent nothing through the proxy")
	}
	if probe.locked > 0 {
		t.Errorf("the store's queued job was locked at %d of the finish's %d round trips; want none (only its last pipeline may lock it)",
			probe.locked, probe.sends)
	}
	// What the finish did to the queued job is there.
	var q struct {
		RunAfter time.Time `db:"run_after"`
		Affinity string    `db:"affinity"`
		Attempts int       `db:"attempts"`
	}
	if err := d.r.GetContext(ctx, &q, `SELECT run_after, affinity, attempts FROM jobs WHERE id = ?`, probe.id); err != nil {
		t.Fatal(err)
	}
	if failed {
		var state string
		if err := d.r.GetContext(ctx, &state, `SELECT state FROM jobs WHERE id = ?`, job.ID); err != nil {
			t.Fatal(err)
		}
		if q.Attempts != 1 || state != "failed" {
			t.Errorf("after the failed write: queued job's attempts %d, failed job's state %q; want 1 and failed (continued by the queued job)", q.Attempts, state)
		}
		return
	}
	if q.Affinity != "w" || !q.RunAfter.After(time.Now().Add(500*time.Millisecond)) {
		t.Errorf("queued job after the finish: affinity %q, due %s from now; want w's, paced about a second (the push interval)",
			q.Affinity, time.Until(q.RunAfter).Round(time.Millisecond))
	}
}

// TestClaimHoldsTheQueuedJobOnlyInItsLastPipeline: on PostgreSQL, a claim
// takes the store's queued job in a statement that goes out with its COMMIT,
// and reads what the write needs afterwards: the row every submit to the store
// locks is never held across a round trip. (The claim used to take it first
// and read the store, the placements, their Works and the canary files in
// round trips of their own while holding it.)
func TestClaimHoldsTheQueuedJobOnlyInItsLastPipeline(t *testing.T) {
	d, proxy, direct := pipelineDBAt(t)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	for i := range 3 {
		if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, i, "a: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	probe := newQueuedJobProbe(t, direct)
	proxy.OnSend(probe.check)
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	proxy.OnSend(nil)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if job.ID != probe.id || len(job.Writes) != 3 {
		t.Fatalf("claimed job %d with %d writes; want the queued job %d with 3", job.ID, len(job.Writes), probe.id)
	}
	if probe.sends == 0 {
		t.Fatal("the claim sent nothing through the proxy")
	}
	if probe.locked > 0 {
		t.Errorf("the store's queued job was locked at %d of the claim's %d round trips; want none (only its last pipeline may lock it)",
			probe.locked, probe.sends)
	}
	var n int
	if err := d.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM placements WHERE job_id = ? AND state = 'writing'`, job.ID); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d placements writing for the job; want 3", n)
	}
}

// TestClaimOnSQLiteIsOneTransaction: on SQLite, with one writer and no round
// trips to save, a claim takes its job and loads it in one write transaction,
// as it did before PostgreSQL's claim was split in two.
func TestClaimOnSQLiteIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	d := countingDB(t, time.Now)
	ten := gitDevTeam(t, d)
	if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, 1, "a: 1\n"), false); err != nil {
		t.Fatal(err)
	}
	before := transactions.Load()
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if n := transactions.Load() - before; n != 1 {
		t.Errorf("the claim began %d write transactions; want 1", n)
	}
	if len(job.Writes) != 1 {
		t.Errorf("the claim loaded %d writes; want 1", len(job.Writes))
	}
}
