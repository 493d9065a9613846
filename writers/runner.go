package writers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

// JobStore is what the Runner needs from the database (package db implements it).
type JobStore interface {
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, bool, error)
	Heartbeat(ctx context.Context, job *tenants.Job, lease time.Duration) error
	MarkPushing(ctx context.Context, job *tenants.Job) error
	Claimed(ctx context.Context, store tenants.StoreRef, keys, prefixes []string) ([]string, error)
	// JobTrails fills in the Works of a TrailsLater job's writes.
	JobTrails(ctx context.Context, job *tenants.Job) error
	// GitStoreIDs lists every Git store as (tenant id, store id), so that the
	// clones of deleted stores can be removed.
	GitStoreIDs(ctx context.Context) ([][2]int64, error)
	FinishJob(ctx context.Context, job *tenants.Job, res tenants.JobResult) error
	ReleaseJob(ctx context.Context, job *tenants.Job) error
	RequeueAll(ctx context.Context) (int, error)
	GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error)
	BucketStore(ctx context.Context, tenantID int64, name string) (tenants.BucketStateStore, error)
}

// errShutdown cancels an Apply that outlived the shutdown grace period.
var errShutdown = errors.New("runner shutting down")

// Runner drains the durable job queue: worker goroutines claim a job (one store),
// build one Batch from all of the store's pending placements and canary files,
// apply it (one commit for Git) while heart-beating the lease, and record the
// outcome. The database is the source of truth; a Runner that dies leaves its job
// to be taken over when the lease expires.
type Runner struct {
	DB      JobStore
	Factory Factory
	Log     *slog.Logger
	// Workers is the number of jobs run at once (default 2).
	Workers int
	// Lease is how long a claimed job is held without a heartbeat (default 30s).
	// A write stops once half of it has passed since the last extension.
	Lease time.Duration
	// Owner identifies this process in leases (default host-pid-random).
	Owner string
	// ReassertInterval queues a full rewrite of every store this often (drift
	// repair); zero turns it off.
	ReassertInterval time.Duration
	// PollInterval is how often an idle worker looks for due jobs without a Wake
	// (default 500ms).
	PollInterval time.Duration
	// ShutdownGrace bounds how long an Apply in flight may finish after Run's ctx
	// ends (default 10s); past it the Apply is cancelled and the job released.
	ShutdownGrace time.Duration
	// Metrics, when set, counts jobs, commits and writes.
	Metrics *RunnerMetrics
	// PRs, when set, keeps the pull requests of pull-request stores: merges
	// and closes noticed by polling every PRPoll (default DefaultPRPoll) and
	// at once on PokePR (a webhook). PublicURL is Stateward's own address, for
	// the links in pull requests and the webhook URL.
	PRs       PRStore
	PRPoll    time.Duration
	PublicURL string
	// CacheMax bounds the bytes of the Git clones under Factory.CacheDir: the
	// least recently written are removed (and fetched again when needed) while
	// the total is over it. Zero: unbounded.
	CacheMax int64
	// MaxOpenClones bounds the Git clones kept open between writes (their
	// pack indexes stay in memory): the least recently written are closed,
	// and opened again at their next write. Zero: DefaultMaxOpenClones;
	// negative: unbounded.
	MaxOpenClones int

	once     sync.Once
	clock    clock // a job's lease is kept by it (time.Now and time.AfterFunc)
	wake     chan struct{}
	mu       sync.Mutex
	backends map[tenants.StoreRef]cachedBackend
	runCtx   context.Context // Run's, for the pull-request syncs (under prs.mu)
	prs      prKeeper
	cache    cacheBudget
}

type cachedBackend struct {
	backend Backend
	// config is the store it was built from (its status left out): any change,
	// another URL above all, builds a new one. The store's update time alone is
	// not enough: two updates may carry one timestamp.
	config any
}

func (r *Runner) init() {
	r.once.Do(func() {
		r.wake = make(chan struct{}, 1)
		r.backends = map[tenants.StoreRef]cachedBackend{}
		if r.Workers <= 0 {
			r.Workers = 2
		}
		if r.Lease <= 0 {
			r.Lease = 30 * time.Second
		}
		if r.clock == nil {
			r.clock = realClock{}
		}
		if r.PollInterval <= 0 {
			r.PollInterval = 500 * time.Millisecond
		}
		if r.ShutdownGrace <= 0 {
			r.ShutdownGrace = 10 * time.Second
		}
		if r.Owner == "" {
			host, _ := os.Hostname()
			r.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:6])
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
		if r.PRPoll <= 0 {
			r.PRPoll = DefaultPRPoll
		}
		r.prs.running = map[tenants.StoreRef]bool{}
		r.prs.again = map[tenants.StoreRef]bool{}
		r.prs.forges = map[tenants.StoreRef]cachedForge{}
		r.prs.nextEdit = map[tenants.StoreRef]time.Time{}
		r.cache.max.Store(r.CacheMax)
		r.cache.size = map[string]int64{}
		r.cache.used = map[string]time.Time{}
	})
}

// Wake tells an idle worker to look for jobs now (after a Work was submitted). It
// never blocks.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run starts the workers (and the periodic re-assert) and returns when ctx ends and
// every job in flight has finished or been released.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	var wg sync.WaitGroup
	for range r.Workers {
		wg.Go(func() { r.work(ctx) })
	}
	if r.ReassertInterval > 0 {
		wg.Go(func() { r.reassert(ctx) })
	}
	wg.Go(func() { r.sweep(ctx) })
	if r.PRs != nil {
		r.prs.mu.Lock()
		r.runCtx = ctx
		r.prs.mu.Unlock()
		wg.Go(func() { r.pollPRs(ctx) })
	}
	wg.Wait()
	r.prs.wg.Wait()
	r.closeAll()
}

// cacheSweepInterval is how often the clones of deleted stores are removed.
const cacheSweepInterval = 5 * time.Minute

// sweep releases, at start and then periodically, the open clone and the cache
// directory of every Git store that no longer exists.
func (r *Runner) sweep(ctx context.Context) {
	t := time.NewTicker(cacheSweepInterval)
	defer t.Stop()
	for {
		if err := r.sweepCaches(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("remove clones of deleted stores", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepCaches closes cached backends of deleted stores and removes the clone
// directories (<CacheDir>/<tenant id>/git-<store id>) no store owns.
func (r *Runner) sweepCaches(ctx context.Context) error {
	ids, err := r.DB.GitStoreIDs(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, id := range ids {
		live[filepath.Join(strconv.FormatInt(id[0], 10), "git-"+strconv.FormatInt(id[1], 10))] = true
	}
	r.mu.Lock()
	for ref, c := range r.backends {
		if g, ok := c.backend.(*Git); ok {
			if rel, err := filepath.Rel(r.Factory.CacheDir, g.cfg.CacheDir); err == nil && !live[rel] {
				closeBackend(c.backend)
				delete(r.backends, ref)
			}
		}
	}
	r.mu.Unlock()
	if r.Factory.CacheDir == "" {
		return nil
	}
	dirs, _ := filepath.Glob(filepath.Join(r.Factory.CacheDir, "*", "git-*"))
	var kept []string
	for _, dir := range dirs {
		rel, err := filepath.Rel(r.Factory.CacheDir, dir)
		if err != nil || live[rel] {
			kept = append(kept, dir)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		r.forgetClone(dir)
		r.Log.Info("removed the clone of a deleted store", "dir", dir)
	}
	if r.cache.max.Load() > 0 {
		r.noteClones(kept)
		r.evictOver("")
	}
	return nil
}

// closeBackend releases what a backend holds open (a Git clone's files).
func closeBackend(b Backend) {
	if c, ok := b.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// closeAll releases every cached backend (on shutdown).
func (r *Runner) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ref, c := range r.backends {
		closeBackend(c.backend)
		delete(r.backends, ref)
	}
}

// work claims and runs jobs until ctx ends, one job of the process at a time
// while the accept path is busy (Factory.Yield).
func (r *Runner) work(ctx context.Context) {
	for ctx.Err() == nil {
		leave := r.Factory.Yield.enterJob()
		claimed := r.clock.Now() // the lease runs from here at the latest
		// Only a full rewrite's claim paces (what it reads after its commit).
		paced := ctx
		if p := r.Factory.Yield.pacer(); p != nil {
			paced = pressure.WithPacer(ctx, p)
		}
		job, ok, err := r.DB.ClaimJob(paced, r.Owner, r.Lease)
		if err != nil && ctx.Err() == nil {
			r.Log.Error("claim job", "err", err)
		}
		if !ok {
			leave()
			r.idle(ctx, time.Now())
			continue
		}
		if ctx.Err() != nil { // a claim that committed as the runner stopped
			r.release(job, errShutdown, r.Log.With("tenant_id", job.TenantID, "job_id", job.ID))
			leave()
			return
		}
		r.Wake()      // another worker may take another store's job meanwhile
		if job.Full { // paced: no other job of this process runs meanwhile
			r.runJob(paced, job, claimed)
		} else {
			r.runJob(ctx, job, claimed)
		}
		leave()
	}
}

// minEmptyClaimGap is how soon after a claim that found nothing a worker looks
// again when woken. Every submit wakes the idle workers; without a gap an idle
// worker looked once per submit, and with several replicas, whose workers mostly
// find a store's job reserved for its last writer, those looks cost the database
// more than a fifth of what the submits did. A job waits this long at most.
const minEmptyClaimGap = 50 * time.Millisecond

// idle waits for a wake or the poll interval after a claim at emptyAt found
// nothing, and at least until minEmptyClaimGap has passed since.
func (r *Runner) idle(ctx context.Context, emptyAt time.Time) {
	t := time.NewTimer(r.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-r.wake:
	case <-t.C:
	}
	if rest := minEmptyClaimGap - time.Since(emptyAt); rest > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(rest):
		}
	}
}

// reassert queues a full rewrite of every store each ReassertInterval.
func (r *Runner) reassert(ctx context.Context) {
	t := time.NewTicker(r.ReassertInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.DB.RequeueAll(ctx)
		if err != nil {
			r.Log.Error("re-assert", "err", err)
			continue
		}
		r.Log.Info("re-assert queued", "stores", n)
		r.Wake()
	}
}

// backend returns the store's Backend, reusing it (and its Git clone) while the
// store is unchanged.
func (r *Runner) backend(ctx context.Context, ref tenants.StoreRef) (Backend, error) {
	var config any
	var build func() (Backend, error)
	switch ref.Kind {
	case tenants.KindGit:
		s, err := r.DB.GitStore(ctx, ref.TenantID, ref.Name)
		if err != nil {
			return nil, err
		}
		s.Status = tenants.Status{}
		config, build = gitKey(s), func() (Backend, error) { return r.Factory.GitBackend(s) }
	default:
		s, err := r.DB.BucketStore(ctx, ref.TenantID, ref.Name)
		if err != nil {
			return nil, err
		}
		s.Status = tenants.Status{}
		config, build = s, func() (Backend, error) { return r.Factory.BucketBackend(s) }
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.backends[ref]; ok && c.config == config {
		return c.backend, nil
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	if old, ok := r.backends[ref]; ok {
		closeBackend(old.backend) // the store was updated: never two storages on one clone
	}
	r.backends[ref] = cachedBackend{backend: b, config: config}
	return b, nil
}

// gitKey is what a Git backend is built from, comparable: the store without its
// status, its pull request's state, and the pull-request spec (a pointer) but
// its head branch, which is all the backend takes of it.
func gitKey(s tenants.GitStateStore) any {
	head := s.HeadBranch()
	s.PR, s.PullRequest = tenants.StorePullRequest{}, nil
	return struct {
		store tenants.GitStateStore
		head  string
	}{s, head}
}

// forget drops the cached Backend of a store, so that a failed write is retried on
// a freshly opened Git clone (go-git's on-disk caches do not always survive a
// failure).
func (r *Runner) forget(ref tenants.StoreRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.backends[ref]; ok {
		closeBackend(c.backend)
	}
	delete(r.backends, ref)
}
