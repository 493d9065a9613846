package writers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// highWater counts what is in flight and the most that ever was at once.
type highWater struct{ now, most atomic.Int64 }

func (h *highWater) enter() {
	n := h.now.Add(1)
	for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
	}
}

func (h *highWater) leave() { h.now.Add(-1) }

// inFlight is an http.RoundTripper that records the most PUT requests and the
// most listings (ListObjectsV2) it ever had in flight at once, across every
// client sharing it. With meetLists set, a listing waits (at most a second)
// until that many are in flight at once, so that listings free to run
// together are seen together however the goroutines are scheduled: two
// stores' single listings, each a few milliseconds, otherwise overlapped or
// not by chance (the idle case failed once in a full run).
type inFlight struct {
	base        http.RoundTripper
	puts, lists highWater
	meetLists   int64
	metOnce     sync.Once
	met         chan struct{}
}

// meet holds a listing until meetLists listings are in flight, or a second.
func (f *inFlight) meet() {
	if f.meetLists == 0 {
		return
	}
	if f.lists.now.Load() >= f.meetLists {
		f.metOnce.Do(func() { close(f.met) })
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-f.met:
	case <-t.C:
	}
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	var h *highWater
	switch {
	case req.Method == http.MethodGet && req.URL.Query().Has("list-type"):
		h = &f.lists
	case req.Method == http.MethodPut:
		h = &f.puts
	default:
		return f.base.RoundTrip(req)
	}
	h.enter()
	defer h.leave()
	if h == &f.lists {
		f.meet()
	}
	return f.base.RoundTrip(req)
}

// TestBucketWritesYieldToBusyAcceptPath: while the accept path is busy, the PUTs
// of two bucket stores sharing one Yielding go one at a time (a real MinIO,
// 2 × 40 objects, 8 allowed in flight per store), and so do their listings;
// when it is not, they run in parallel again. Every object is written either way.
func TestBucketWritesYieldToBusyAcceptPath(t *testing.T) {
	for _, busy := range []bool{true, false} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			f := newBucketFixture(t)
			counter := &inFlight{base: http.DefaultTransport.(*http.Transport).Clone(), meetLists: 2, met: make(chan struct{})}
			y := &Yielding{Busy: func() bool { return busy }}
			var wg sync.WaitGroup
			for i := range 2 {
				b := f.writer(t, func(c *BucketConfig) { c.Transport, c.Yield, c.Parallelism = counter, y, 8 })
				var puts []File
				for j := range 40 {
					puts = append(puts, File{Key: fmt.Sprintf("store/s%d/%02d.yaml", i, j), Content: []byte(fmt.Sprint(i, j))})
				}
				wg.Go(func() {
					res, err := b.Apply(context.Background(), Batch{Puts: puts})
					if err != nil || res.Puts != 40 {
						t.Errorf("store %d: %d PUTs, %v; want 40", i, res.Puts, err)
					}
				})
			}
			wg.Wait()
			most := counter.puts.most.Load()
			if busy && most != 1 {
				t.Errorf("accept path busy: %d PUTs in flight at once, want 1", most)
			}
			if !busy && most < 2 {
				t.Errorf("accept path idle: at most %d PUT in flight, want them in parallel", most)
			}
			if listed := counter.lists.most.Load(); busy && listed != 1 || !busy && listed < 2 {
				t.Errorf("accept path busy %v: at most %d listings in flight, want 1 when busy and more when not", busy, listed)
			}
		})
	}
}

// jobCounter is a JobStore that records the most jobs it ever had claimed and not
// yet finished at once, holding each claim a moment so that jobs of two stores
// due together would overlap.
type jobCounter struct {
	JobStore
	highWater
}

func (c *jobCounter) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, bool, error) {
	job, ok, err := c.JobStore.ClaimJob(ctx, owner, lease)
	if ok {
		c.enter()
		time.Sleep(200 * time.Millisecond)
	}
	return job, ok, err
}

func (c *jobCounter) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	defer c.leave()
	return c.JobStore.FinishJob(ctx, job, res)
}

func (c *jobCounter) ReleaseJob(ctx context.Context, job *tenants.Job) error {
	defer c.leave()
	return c.JobStore.ReleaseJob(ctx, job)
}

// TestJobsYieldToBusyAcceptPath: while the accept path is busy, a Runner's two
// workers run one job at a time (two Git stores with Works due together); when
// it is not, both at once. Every Work is written either way.
func TestJobsYieldToBusyAcceptPath(t *testing.T) {
	for _, busy := range []bool{true, false} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			e := newEngine(t)
			for _, name := range []string{"one", "two"} {
				e.gitStore(t, gitPeer(t, false), name, "")
				e.destination(t, tenants.Destination{Name: name, Labels: map[string]string{"store": name}, Path: name,
					StoreKind: tenants.KindGit, StoreName: name})
			}
			e.drain(t, time.Minute) // no canary files: nothing to write yet
			for i := range 5 {
				for _, name := range []string{"one", "two"} {
					e.submit(t, tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: fmt.Sprintf("r%d", i)},
						DestinationSelectors: map[string]string{"store": name},
						Files:                []tenants.WorkFile{{Path: "w.yaml", Content: fmt.Sprint(name, i)}}})
				}
			}
			var counter *jobCounter
			e.start(t, func(r *Runner) {
				counter = &jobCounter{JobStore: r.DB}
				r.DB, r.Workers = counter, 2
				r.Factory.Yield = &Yielding{Busy: func() bool { return busy }}
			})
			e.drain(t, time.Minute)
			most := counter.most.Load()
			if busy && most != 1 {
				t.Errorf("accept path busy: %d jobs at once, want 1", most)
			}
			if !busy && most != 2 {
				t.Errorf("accept path idle: at most %d job at once, want 2", most)
			}
		})
	}
}

// claimTimes is a JobStore that records when each claim answered a job and
// when each job finished.
type claimTimes struct {
	JobStore
	mu               sync.Mutex
	claims, finishes []time.Time
}

func (c *claimTimes) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, bool, error) {
	job, ok, err := c.JobStore.ClaimJob(ctx, owner, lease)
	if ok {
		c.mu.Lock()
		c.claims = append(c.claims, time.Now())
		c.mu.Unlock()
	}
	return job, ok, err
}

func (c *claimTimes) FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error {
	err := c.JobStore.FinishJob(ctx, job, res)
	c.mu.Lock()
	c.finishes = append(c.finishes, time.Now())
	c.mu.Unlock()
	return err
}

// TestReassertYieldsToBusyAcceptPath: while the accept path is busy, a full
// rewrite (a re-assert of two stores of 300 Works each) rests between its
// slices (pressure.Pace in its reads, its Batch's build and its tree's), and
// both stores are re-asserted; the writes of newly submitted Works, busy or
// not, never rest.
func TestReassertYieldsToBusyAcceptPath(t *testing.T) {
	e := newEngine(t)
	for _, name := range []string{"one", "two"} {
		e.gitStore(t, gitPeer(t, false), name, "")
		e.destination(t, tenants.Destination{Name: name, Labels: map[string]string{"store": name}, Path: name,
			StoreKind: tenants.KindGit, StoreName: name})
		for i := range 300 {
			e.submit(t, work(fmt.Sprintf("%s-%d", name, i), map[string]string{"store": name}, "w.yaml", name))
		}
	}
	var busy atomic.Bool
	busy.Store(true) // the first writes too: they do not rest
	times := &claimTimes{}
	y := &Yielding{Busy: busy.Load}
	e.start(t, func(r *Runner) {
		times.JobStore = r.DB
		r.DB, r.Workers = times, 2
		r.Factory.Yield = y
	})
	e.drain(t, time.Minute)
	if rested := time.Duration(y.rested.Load()); rested != 0 {
		t.Fatalf("the writes of submitted Works rested %s", rested)
	}
	times.mu.Lock()
	times.claims, times.finishes = nil, nil
	times.mu.Unlock()
	n, err := e.runner.DB.RequeueAll(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RequeueAll: %d, %v", n, err)
	}
	e.runner.Wake()
	testpeers.WaitFor(t, time.Minute, func() (bool, string) {
		times.mu.Lock()
		defer times.mu.Unlock()
		return len(times.finishes) >= 2, fmt.Sprintf("%d re-assert jobs finished, want 2", len(times.finishes))
	})
	times.mu.Lock()
	defer times.mu.Unlock()
	if len(times.claims) != 2 || len(times.finishes) != 2 {
		t.Fatalf("%d claims, %d finishes; want the two stores' full rewrites", len(times.claims), len(times.finishes))
	}
	var took time.Duration
	for i := range 2 {
		took += times.finishes[i].Sub(times.claims[i])
	}
	rested := time.Duration(y.rested.Load())
	if rested == 0 {
		t.Fatalf("the re-assert's jobs (%s in all) never rested", took)
	}
	t.Logf("the re-assert's two jobs took %s, of which %s rested", took, rested)
}
