package db_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// replicas opens n handles on one database (n replicas) sharing the clock c.
func replicas(t *testing.T, tg target, n int, c *clock) []*db.DB {
	t.Helper()
	s, _ := db.NewSealer(key(1))
	out := make([]*db.DB, n)
	for i := range out {
		d, err := db.Open(context.Background(), tg.options(s, c.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		out[i] = d
	}
	return out
}

// TestSweepTurnOncePerPeriod: replicas asking for a sweep's turn at once get one
// turn per period between them.
func TestSweepTurnOncePerPeriod(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		rs := replicas(t, tg, 3, c)
		ctx := context.Background()
		turns := func() int {
			var n atomic.Int32
			var wg sync.WaitGroup
			for i, d := range rs {
				for range 3 {
					wg.Go(func() {
						ok, err := d.TakeTurn(ctx, db.SweepPrune, "replica-"+string(rune('a'+i)), time.Hour)
						if err != nil {
							t.Errorf("TakeTurn: %v", err)
						}
						if ok {
							n.Add(1)
						}
					})
				}
			}
			wg.Wait()
			return int(n.Load())
		}
		if n := turns(); n != 1 {
			t.Fatalf("first period: %d turns, want 1", n)
		}
		c.add(50 * time.Minute)
		if n := turns(); n != 0 {
			t.Fatalf("50 minutes later: %d turns, want 0", n)
		}
		c.add(5 * time.Minute) // 55 min: within the tenth of slack
		if n := turns(); n != 1 {
			t.Fatalf("next period: %d turns, want 1", n)
		}
		if ok, err := rs[0].TakeTurn(ctx, db.SweepReadiness, "replica-a", time.Hour); err != nil || !ok {
			t.Fatalf("another sweep has its own turn: %v %v", ok, err)
		}
	})
}

// TestRateLimitSharedByReplicas: a trigger limited to 5 deliveries a second
// accepts 5 (its burst) across all replicas at one instant, then 5 per second.
func TestRateLimitSharedByReplicas(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		rs := replicas(t, tg, 3, c)
		ctx := context.Background()
		ten, err := rs[0].CreateTenant(ctx, "team-a", "", "")
		if err != nil {
			t.Fatal(err)
		}
		trig, _, _, err := rs[0].CreateTrigger(ctx, tenants.Trigger{TenantID: ten.ID, Name: "ci", RatePerSecond: 5})
		if err != nil {
			t.Fatal(err)
		}
		allowed := func(calls int) int {
			var n atomic.Int32
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() {
					ok, err := rs[i%len(rs)].AllowDelivery(ctx, trig.ID, trig.RatePerSecond)
					if err != nil {
						t.Errorf("AllowDelivery: %v", err)
					}
					if ok {
						n.Add(1)
					}
				})
			}
			wg.Wait()
			return int(n.Load())
		}
		if n := allowed(30); n != 5 {
			t.Fatalf("30 deliveries at once through 3 replicas: %d allowed, want the burst of 5", n)
		}
		c.add(200 * time.Millisecond)
		if n := allowed(10); n != 1 {
			t.Fatalf("200ms later: %d allowed, want 1 (5/s)", n)
		}
		c.add(time.Second)
		if n := allowed(30); n != 5 {
			t.Fatalf("a second later: %d allowed, want 5", n)
		}
		if ok, err := rs[0].AllowDelivery(ctx, trig.ID, 0); err != nil || !ok {
			t.Fatalf("rate 0 is unlimited: %v %v", ok, err)
		}
	})
}

// TestIdempotencyKeyAcrossReplicas: deliveries with one Idempotency-Key reaching
// several replicas at once submit once; the others get the stored answer.
func TestIdempotencyKeyAcrossReplicas(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		rs := append(replicas(t, tg, 2, c), d)
		ctx := context.Background()
		trig, _, _, err := d.CreateTrigger(ctx, tenants.Trigger{TenantID: tid, Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		idem := &tenants.HookIdempotency{Key: "delivery-1", BodyHash: "h1"}
		const n = 9
		var submitted atomic.Int32
		answers := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				del := tenants.Delivery{TriggerID: trig.ID, At: c.now(), Status: 202}
				_, body, err := rs[i%len(rs)].SubmitHookWork(ctx, tid, resourceWork("a", "dev", "x.yaml", "1"), del, idem, nil,
					func(res db.SubmitResult) []byte { return []byte("accepted") })
				var answered *tenants.AnsweredError
				switch {
				case err == nil:
					submitted.Add(1)
					answers <- string(body)
				case errors.As(err, &answered):
					answers <- answered.Answer.Response
				default:
					t.Errorf("SubmitHookWork: %v", err)
				}
			})
		}
		wg.Wait()
		close(answers)
		if got := submitted.Load(); got != 1 {
			t.Errorf("%d deliveries of one Idempotency-Key submitted, want 1", got)
		}
		for a := range answers {
			if a != "accepted" {
				t.Errorf("answer %q, want the first delivery's", a)
			}
		}
		dels, err := d.Deliveries(ctx, tid, trig.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(dels) != 1 {
			t.Errorf("%d deliveries logged with a Work, want 1", len(dels))
		}
	})
}

// TestOlderCheckNeverOverwritesANewerOne: a readiness check that finishes late
// (another replica's slow check) changes nothing when a newer check was recorded
// or the store's settings changed after it started.
func TestOlderCheckNeverOverwritesANewerOne(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		status := func() tenants.Status {
			t.Helper()
			g, err := d.GitStore(ctx, tid, "repo")
			if err != nil {
				t.Fatal(err)
			}
			return g.Status
		}
		slowStart := c.now()
		c.add(time.Second)
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "ready", c.now()); err != nil {
			t.Fatal(err)
		}
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", false, "timeout", slowStart); err != nil {
			t.Fatal(err)
		}
		if s := status(); s.Ready == nil || !*s.Ready || s.Message != "ready" {
			t.Fatalf("after a late older check: %+v, want the newer ready", s)
		}
		checkStart := c.now()
		c.add(time.Second)
		g, _ := d.GitStore(ctx, tid, "repo")
		g.Branch = "other"
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "ready", checkStart); err != nil {
			t.Fatal(err)
		}
		if s := status(); s.Ready != nil {
			t.Fatalf("a check of the old settings was recorded after a save: %+v, want unknown", s)
		}
		c.add(time.Second)
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", false, "branch not found", c.now()); err != nil {
			t.Fatal(err)
		}
		if s := status(); s.Ready == nil || *s.Ready || s.Message != "branch not found" {
			t.Fatalf("a check of the new settings: %+v, want its failure", s)
		}
		all, err := d.StoreStatuses(ctx)
		if s := all[tenants.StoreRef{TenantID: tid, Kind: tenants.KindGit, Name: "repo"}]; err != nil || len(all) != 1 || s.Message != "branch not found" {
			t.Fatalf("StoreStatuses = %+v, %v; want repo's failure", all, err)
		}
	})
}
