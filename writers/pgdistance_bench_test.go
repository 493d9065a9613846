package writers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkJob3000Postgres1ms is one job of 3,000 placements (3,000 resource
// Works on one Destination of a Git store over smart HTTP, submitted while no
// writer runs) written by a Runner on PostgreSQL 1 ms away: a TCP proxy adds
// 1 ms to each direction of every connection. It reports the time of the claim
// (ClaimJob: the job's rows marked writing and read) and of the finish
// (FinishJob: the outcome recorded), each as the Runner calls them, and the
// requests the proxy forwarded to PostgreSQL during each (its round trips).
// finish-ms is the whole FinishJob even when it takes longer than the 10 s the
// Runner gives it (finishTimeout; over-limit is then 1): past that, the Runner
// logs the failure and the same placements are written again once the 30 s
// lease runs out.
//
// Every call of the Runner to the database is serialized by the measurement,
// so that nothing else goes through the proxy during a claim or a finish.
//
//	go test ./writers -run '^$' -bench BenchmarkJob3000Postgres1ms -benchtime 1x
func BenchmarkJob3000Postgres1ms(b *testing.B) {
	var claim, finish measuredCall
	for range b.N {
		c, f := benchJob3000(b)
		claim.took, claim.trips = claim.took+c.took, claim.trips+c.trips
		finish.took, finish.trips = finish.took+f.took, finish.trips+f.trips
	}
	n := float64(b.N)
	b.ReportMetric(ms(claim.took)/n, "claim-ms")
	b.ReportMetric(float64(claim.trips)/n, "claim-round-trips")
	b.ReportMetric(ms(finish.took)/n, "finish-ms")
	b.ReportMetric(float64(finish.trips)/n, "finish-round-trips")
	over := 0.0
	if finish.took/time.Duration(b.N) > finishTimeout {
		over = 1
	}
	b.ReportMetric(over, "over-limit")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measuredCall is one call's time and the requests the proxy forwarded during it.
type measuredCall struct {
	took  time.Duration
	trips int64
}

func benchJob3000(b *testing.B) (claim, finish measuredCall) {
	b.StopTimer()
	const placements = 3000
	ctx := context.Background()
	direct := testpeers.Postgres(b).NewDatabase(b)
	u, err := url.Parse(direct)
	if err != nil {
		b.Fatal(err)
	}
	proxy := testpeers.NewTCPProxy(b, u.Host)
	u.Host = proxy.Addr()
	sealer, err := db.NewSealer(engineKey)
	if err != nil {
		b.Fatal(err)
	}
	d, err := db.Open(ctx, db.Options{URL: u.String(), Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		b.Fatal(err)
	}
	e := &engine{db: d, cacheDir: filepath.Join(b.TempDir(), "cache"), tenant: ten.ID}
	srv := gitPeer(b, true)
	e.gitStore(b, srv, "store", "st")
	e.destination(b, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store"})
	// The Works, before the latency, from a few goroutines: the job the
	// Runner claims then holds every one of them.
	var g errgroup.Group
	g.SetLimit(8)
	for i := range placements {
		g.Go(func() error {
			w, err := work(fmt.Sprintf("req-%04d", i), nil, "cm.yaml", fmt.Sprintf("n: %d\n", i)).Work()
			if err != nil {
				return err
			}
			_, err = d.SubmitWork(ctx, ten.ID, w, false)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	proxy.SetLatency(time.Millisecond)

	m := &measuringJobs{JobStore: d, proxy: proxy, finished: make(chan struct{})}
	r := &Runner{DB: m, Workers: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Factory: Factory{Egress: egress.Policy{AllowPrivate: true}, CacheDir: e.cacheDir}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.StartTimer()
	go func() { defer close(done); r.Run(runCtx) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-m.finished:
	case <-time.After(5 * time.Minute):
		b.Fatal("the job of 3,000 placements did not finish within 5 minutes")
	}
	b.StopTimer()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writes != placements {
		b.Fatalf("the claim took %d placements, want %d in one job", m.writes, placements)
	}
	if m.err != nil {
		b.Fatalf("FinishJob: %v", m.err)
	}
	if m.outcomes != placements {
		b.Fatalf("the finish recorded %d placement outcomes, want %d", m.outcomes, placements)
	}
	return m.claim, m.finish
}

// measuringJobs is the Runner's database with every call serialized, the first
// claim that returns a job and that job's finish measured. The finish runs to
// its end whatever its context's deadline, so that its whole time is known; the
// Runner is told the outcome it would have had (context.DeadlineExceeded past
// the deadline).
type measuringJobs struct {
	JobStore
	proxy    *testpeers.TCPProxy
	finished chan struct{}

	mu               sync.Mutex
	jobID            int64
	writes, outcomes int
	claim, finish    measuredCall
	err              error
}

func (m *measuringJobs) measure(call *measuredCall, fn func()) {
	before, start := m.proxy.Sent(), time.Now()
	fn()
	call.took, call.trips = time.Since(start), m.proxy.Sent()-before
}

func (m *measuringJobs) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var job *tenants.Job
	var ok bool
	var err error
	var call measuredCall
	m.measure(&call, func() { job, ok, err = m.JobStore.ClaimJob(ctx, owner, lease) })
	if ok && m.jobID == 0 {
		m.jobID, m.writes, m.claim = job.ID, len(job.Writes), call
	}
	return job, ok, err
}

func (m *measuringJobs) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if job.ID != m.jobID || m.outcomes > 0 {
		return m.JobStore.FinishJob(ctx, job, res)
	}
	deadline, limited := ctx.Deadline()
	var err error
	m.measure(&m.finish, func() { err = m.JobStore.FinishJob(context.WithoutCancel(ctx), job, res) })
	m.outcomes, m.err = len(res.Placements), err
	close(m.finished)
	if err == nil && limited && time.Now().After(deadline) {
		return context.DeadlineExceeded
	}
	return err
}

func (m *measuringJobs) Heartbeat(ctx context.Context, job *tenants.Job, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.Heartbeat(ctx, job, lease)
}

func (m *measuringJobs) MarkPushing(ctx context.Context, job *tenants.Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.MarkPushing(ctx, job)
}

func (m *measuringJobs) Claimed(ctx context.Context, store tenants.StoreRef, keys, prefixes []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.Claimed(ctx, store, keys, prefixes)
}

func (m *measuringJobs) GitStoreIDs(ctx context.Context) ([][2]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.GitStoreIDs(ctx)
}

func (m *measuringJobs) ReleaseJob(ctx context.Context, job *tenants.Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.ReleaseJob(ctx, job)
}

func (m *measuringJobs) RequeueAll(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.RequeueAll(ctx)
}

func (m *measuringJobs) GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.GitStore(ctx, tenantID, name)
}

func (m *measuringJobs) BucketStore(ctx context.Context, tenantID int64, name string) (tenants.BucketStateStore, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.JobStore.BucketStore(ctx, tenantID, name)
}
