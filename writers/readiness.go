package writers

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/tenants"
)

// StoreSource is what readiness needs from the database.
type StoreSource interface {
	GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error)
	BucketStore(ctx context.Context, tenantID int64, name string) (tenants.BucketStateStore, error)
	// SetStoreStatus records the outcome of a check that started at checkedAt,
	// unless a newer check or a change of the store's settings came after it.
	SetStoreStatus(ctx context.Context, tenantID int64, kind, name string, ready bool, message string, checkedAt time.Time) error
	AllStores(ctx context.Context) ([]tenants.StoreRef, error)
}

// Readiness runs the stores' readiness checks: at once after a create or update,
// on "Check now", and periodically. A check is a real round trip that leaves no
// trace (Git: authenticated ls-remote of the branch; S3: start and abort a
// multipart upload).
type Readiness struct {
	Source   StoreSource
	Factory  Factory
	Log      *slog.Logger
	Interval time.Duration // periodic re-check; 5 min when zero
	Timeout  time.Duration // per check; 30 s when zero
	// Now is the clock of the check start times (default time.Now); give it the
	// database's clock.
	Now func() time.Time
	// Turn, when set, is asked before each periodic re-check, which runs only when
	// it answers true: with several replicas, one of them re-checks per Interval.
	Turn func(ctx context.Context, period time.Duration) (bool, error)
	// Wake, when set, is called after a check that passed was recorded: the
	// store's backoff ended (SetStoreStatus), so the writers should look for its
	// job now rather than at their next poll.
	Wake func()

	mu       sync.Mutex
	inflight map[tenants.StoreRef]bool
	again    map[tenants.StoreRef]bool // triggered while in flight: check once more
	wg       sync.WaitGroup
}

// StatusSource lists the stores' last readiness outcomes (package db implements
// it).
type StatusSource interface {
	StoreStatuses(ctx context.Context) (map[tenants.StoreRef]tenants.Status, error)
}

// RegisterReadinessGauge registers stateward_store_ready{tenant_id, kind, store}:
// 1 when the store's last check passed, 0 when it failed, absent until checked;
// and stateward_store_write_failing{tenant_id, kind, store}: 1 while the store's
// last write failed for a transport or authentication reason, else 0. It reads
// the database at each scrape, so every replica reports the checks and writes that
// any replica ran.
func RegisterReadinessGauge(reg prometheus.Registerer, src StatusSource) {
	labels := []string{"tenant_id", "kind", "store"}
	reg.MustRegister(readinessCollector{src: src,
		desc: prometheus.NewDesc("stateward_store_ready",
			"1 when the State Store's last readiness check passed, 0 when it failed.", labels, nil),
		writeDesc: prometheus.NewDesc("stateward_store_write_failing",
			"1 while the State Store's last write failed for a transport or authentication reason.", labels, nil)})
}

type readinessCollector struct {
	src             StatusSource
	desc, writeDesc *prometheus.Desc
}

func (c readinessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.writeDesc }

func (c readinessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	statuses, err := c.src.StoreStatuses(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err) // the scrape fails: unknown, not zero
		return
	}
	for ref, s := range statuses {
		failing := 0.0
		if s.WriteFailing() {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.writeDesc, prometheus.GaugeValue, failing, strconv.FormatInt(ref.TenantID, 10), ref.Kind, ref.Name)
		if !s.Known() {
			continue
		}
		v := 0.0
		if *s.Ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, strconv.FormatInt(ref.TenantID, 10), ref.Kind, ref.Name)
	}
}

// Check checks one store now and records the outcome.
func (r *Readiness) Check(ctx context.Context, ref tenants.StoreRef) error {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	started := now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.check(cctx, ref)
	if errors.Is(err, tenants.ErrNotFound) {
		return err // deleted meanwhile
	}
	if err != nil && classify(err) == failRateLimited {
		// The host answered, and asked to wait: that says nothing of whether
		// the store works, so the last status stands.
		r.Log.Info("store check rate limited by the host", "tenant_id", ref.TenantID, "kind", ref.Kind, "store", ref.Name, "reason", err.Error())
		return nil
	}
	msg := "ready"
	if err != nil {
		msg = err.Error()
		r.Log.Info("store not ready", "tenant_id", ref.TenantID, "kind", ref.Kind, "store", ref.Name, "reason", msg)
	}
	if err := r.Source.SetStoreStatus(ctx, ref.TenantID, ref.Kind, ref.Name, err == nil, msg, started); err != nil {
		return err
	}
	if err == nil && r.Wake != nil {
		r.Wake()
	}
	return nil
}

func (r *Readiness) check(ctx context.Context, ref tenants.StoreRef) error {
	var b Backend
	switch ref.Kind {
	case tenants.KindGit:
		s, err := r.Source.GitStore(ctx, ref.TenantID, ref.Name)
		if err != nil {
			return err
		}
		g, err := r.Factory.GitBackend(s)
		if err != nil {
			return err
		}
		b = g
	default:
		s, err := r.Source.BucketStore(ctx, ref.TenantID, ref.Name)
		if err != nil {
			return err
		}
		bk, err := r.Factory.BucketBackend(s)
		if err != nil {
			return err
		}
		b = bk
	}
	return b.Check(ctx)
}

// Trigger checks a store in the background (at most one check per store at a
// time), so a form submit never waits on a slow remote. A trigger that arrives
// while that store's check runs (a save during a check) makes it run once more
// afterwards, so the status shown is never that of the settings before the save.
func (r *Readiness) Trigger(ref tenants.StoreRef) {
	r.mu.Lock()
	if r.inflight == nil {
		r.inflight, r.again = map[tenants.StoreRef]bool{}, map[tenants.StoreRef]bool{}
	}
	if r.inflight[ref] {
		r.again[ref] = true
		r.mu.Unlock()
		return
	}
	r.inflight[ref] = true
	r.wg.Add(1)
	r.mu.Unlock()
	go r.checkLoop(ref)
}

func (r *Readiness) checkLoop(ref tenants.StoreRef) {
	defer r.wg.Done()
	for {
		if err := r.Check(context.Background(), ref); err != nil && !errors.Is(err, tenants.ErrNotFound) {
			r.Log.Error("record readiness", "tenant_id", ref.TenantID, "store", ref.Name, "err", err)
		}
		r.mu.Lock()
		if !r.again[ref] {
			delete(r.inflight, ref)
			r.mu.Unlock()
			return
		}
		delete(r.again, ref)
		r.mu.Unlock()
	}
}

// Run re-checks every store each Interval (when it is this replica's Turn) until
// ctx ends, then waits for checks in flight.
func (r *Readiness) Run(ctx context.Context) {
	interval := r.Interval
	if interval == 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if r.myTurn(ctx, interval) {
			refs, err := r.Source.AllStores(ctx)
			if err != nil && ctx.Err() == nil {
				r.Log.Error("list stores for readiness", "err", err)
			}
			for _, ref := range refs {
				r.Trigger(ref)
			}
		}
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return
		case <-t.C:
		}
	}
}

func (r *Readiness) myTurn(ctx context.Context, interval time.Duration) bool {
	if r.Turn == nil {
		return true
	}
	ok, err := r.Turn(ctx, interval)
	if err != nil && ctx.Err() == nil {
		r.Log.Error("readiness sweep turn", "err", err)
	}
	return ok
}

// Wait blocks until background checks in flight have finished (tests, shutdown).
func (r *Readiness) Wait() { r.wg.Wait() }
