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
	SetStoreStatus(ctx context.Context, tenantID int64, kind, name string, ready bool, message string) error
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
	// Gauge, when set, holds 1 (ready) or 0 per store (see NewReadinessGauge).
	Gauge *prometheus.GaugeVec

	mu       sync.Mutex
	inflight map[tenants.StoreRef]bool
	again    map[tenants.StoreRef]bool // triggered while in flight: check once more
	wg       sync.WaitGroup
}

// NewReadinessGauge registers stateward_store_ready{tenant_id, kind, store}.
func NewReadinessGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stateward_store_ready", Help: "1 when the State Store's last readiness check passed, 0 when it failed.",
	}, []string{"tenant_id", "kind", "store"})
	reg.MustRegister(g)
	return g
}

// Check checks one store now and records the outcome.
func (r *Readiness) Check(ctx context.Context, ref tenants.StoreRef) error {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.check(cctx, ref)
	if errors.Is(err, tenants.ErrNotFound) {
		return err // deleted meanwhile
	}
	msg := "ready"
	if r.Gauge != nil {
		v := 1.0
		if err != nil {
			v = 0
		}
		r.Gauge.WithLabelValues(strconv.FormatInt(ref.TenantID, 10), ref.Kind, ref.Name).Set(v)
	}
	if err != nil {
		msg = err.Error()
		r.Log.Info("store not ready", "tenant_id", ref.TenantID, "kind", ref.Kind, "store", ref.Name, "reason", msg)
	}
	return r.Source.SetStoreStatus(ctx, ref.TenantID, ref.Kind, ref.Name, err == nil, msg)
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

// Run re-checks every store each Interval until ctx ends, then waits for checks
// in flight.
func (r *Readiness) Run(ctx context.Context) {
	interval := r.Interval
	if interval == 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		refs, err := r.Source.AllStores(ctx)
		if err != nil && ctx.Err() == nil {
			r.Log.Error("list stores for readiness", "err", err)
		}
		for _, ref := range refs {
			r.Trigger(ref)
		}
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// Wait blocks until background checks in flight have finished (tests, shutdown).
func (r *Readiness) Wait() { r.wg.Wait() }
