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

// TestSignedDeliveryAcrossReplicas: one signed delivery reaching several replicas
// at once submits once; the others are ErrReplayed. It is remembered until its
// signature no longer verifies, then pruned.
func TestSignedDeliveryAcrossReplicas(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		rs := append(replicas(t, tg, 2, c), d)
		ctx := context.Background()
		trig, _, _, err := d.CreateTrigger(ctx, tenants.Trigger{TenantID: tid, Name: "ci", RequireSignature: true})
		if err != nil {
			t.Fatal(err)
		}
		sig := &tenants.SignedDelivery{Digest: "d1", Until: c.now().Add(6 * time.Minute)}
		submitSigned := func(r *db.DB) error {
			del := tenants.Delivery{TriggerID: trig.ID, At: c.now(), Status: 202}
			_, _, err := r.SubmitHookWork(ctx, tid, resourceWork("a", "dev", "x.yaml", "1"), del, nil, sig,
				func(db.SubmitResult) []byte { return []byte("accepted") })
			return err
		}
		const n = 9
		var submitted, replayed atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				switch err := submitSigned(rs[i%len(rs)]); {
				case err == nil:
					submitted.Add(1)
				case errors.Is(err, tenants.ErrReplayed):
					replayed.Add(1)
				default:
					t.Errorf("SubmitHookWork: %v", err)
				}
			})
		}
		wg.Wait()
		if submitted.Load() != 1 || replayed.Load() != n-1 {
			t.Errorf("one signed delivery %d times: %d submitted, %d refused as replays; want 1 and %d", n,
				submitted.Load(), replayed.Load(), n-1)
		}
		if dels, err := d.Deliveries(ctx, tid, trig.ID, 100); err != nil || len(dels) != 1 {
			t.Errorf("deliveries logged with a Work: %d %v, want 1", len(dels), err)
		}

		c.add(5 * time.Minute)
		if _, err := d.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if err := submitSigned(d); !errors.Is(err, tenants.ErrReplayed) {
			t.Errorf("within its window, after a prune: %v, want ErrReplayed", err)
		}
		c.add(2 * time.Minute)
		if n, err := d.Prune(ctx); err != nil || n < 1 {
			t.Errorf("Prune past the window: %d rows, %v; want the signature's row gone", n, err)
		}
		if err := submitSigned(d); err != nil {
			t.Errorf("the same digest once its window is over: %v", err)
		}
	})
}
