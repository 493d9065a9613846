package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestSubmitOnPostgresIsTwoRoundTrips: on PostgreSQL a submit's clash checks
// go with its COMMIT as guards, so a Work submitted through SubmitWorkAs costs
// two round trips (the Work's upsert, then everything else with the COMMIT) —
// also when it shares an aggregatedYAML file with other Works (a shared claim
// is no clash, so no guard fails). A real clash fails the guard, and the
// submit runs again to answer the conflict by name, as SQLite does.
func TestSubmitOnPostgresIsTwoRoundTrips(t *testing.T) {
	tg, proxy := proxiedPostgres(t)
	d, tid, _ := worksDB(t, tg)
	ctx := context.Background()
	agg := tenants.Destination{TenantID: tid, Name: "agg", Labels: map[string]string{"env": "agg"}, Path: "agg",
		StoreKind: tenants.KindGit, StoreName: "repo", Mode: tenants.ModeAggregated}
	agg.Normalize()
	if _, err := d.SaveDestination(ctx, agg); err != nil {
		t.Fatal(err)
	}
	actor := tenants.Actor{Kind: tenants.ActorPerson, Name: "ada"}
	trips := func(w *tenants.Work) (int64, tenants.SubmitResult, error) {
		before := proxy.Sent()
		res, err := d.SubmitWorkAs(ctx, tid, w, actor, "write")
		return proxy.Sent() - before, res, err
	}
	for _, env := range []string{"dev", "agg", "prod"} {
		// Warm-up: the pool's connections prepare each statement once (pgx
		// describes a new statement in a round trip of its own).
		for i := range 8 {
			if _, _, err := trips(resourceWork(fmt.Sprintf("warm-%s-%d", env, i), env, fmt.Sprintf("warm-%d.yaml", i), "x")); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			n, res, err := trips(resourceWork(fmt.Sprintf("w-%s-%d", env, i), env, fmt.Sprintf("f-%d.yaml", i), "x"))
			if err != nil {
				t.Fatalf("%s: %v", env, err)
			}
			if n > 2 {
				t.Errorf("a submit to %s took %d round trips, want 2", env, n)
			}
			if len(res.Placements) != 1 || res.Placements[0].Job == nil {
				t.Errorf("%s: placements %+v, want one with its job", env, res.Placements)
			}
		}
	}
	// prod writes its files at the Destination's root (mode none): the same
	// file from another Work clashes.
	n, _, err := trips(resourceWork("clasher", "prod", "f-0.yaml", "y"))
	if !errors.Is(err, tenants.ErrConflict) || !strings.Contains(err.Error(), "w-prod-0") {
		t.Fatalf("a clashing submit: %v, want the conflict naming Work w-prod-0", err)
	}
	t.Logf("a clashing submit: %d round trips (the guarded one, then the one that reads the claims)", n)
	w, err := d.WorksPage(ctx, tid, db.WorkQuery{Search: "clasher"})
	if err != nil || w.Total != 0 {
		t.Errorf("the refused Work was kept: %+v %v", w, err)
	}
}
