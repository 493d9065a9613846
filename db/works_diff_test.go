package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// TestPlanWrites: a dry run's planned writes carry what each placement would leave
// in its store (the aggregatedYAML file rebuilt with every live placement on the
// Destination, mode none's state file), and nothing is kept.
func TestPlanWrites(t *testing.T) {
	d, tid, _ := worksDB(t)
	ctx := context.Background()
	agg := tenants.Destination{TenantID: tid, Name: "agg", Labels: map[string]string{"env": "agg"}, Path: "agg",
		StoreKind: tenants.KindGit, StoreName: "repo", Mode: tenants.ModeAggregated}
	agg.Normalize()
	if _, err := d.SaveDestination(ctx, agg); err != nil {
		t.Fatal(err)
	}
	submit(t, d, tid, resourceWork("b", "agg", "x.yaml", "B"), false)

	res, writes, err := d.PlanWrites(ctx, tid, resourceWork("a", "agg", "y.yaml", "A1", "z.yaml", "A2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 || len(res.Placements) != 1 {
		t.Fatalf("writes %+v for placements %+v", writes, res.Placements)
	}
	w := writes[0]
	// placements by name: redis-a-default-… before redis-b-default-…
	want := []pathing.File{{Path: "s/agg/aggregated.yaml", Content: []byte("A1\n---\nA2\n---\nB")}}
	if w.Placement != res.Placements[0].Name || w.Root != "s/agg" || w.StorePath != "s" || !slices.EqualFunc(w.Puts, want, sameFile) {
		t.Errorf("planned write %+v, want root s/agg and puts %q", w, want)
	}

	_, writes, err = d.PlanWrites(ctx, tid, resourceWork("c", "prod", "y.yaml", "Y"))
	if err != nil {
		t.Fatal(err)
	}
	if w := writes[0]; len(w.Puts) != 2 || w.Puts[1].Path != w.StateFile || string(w.Puts[1].Content) != "files:\n- prod/y.yaml\n" {
		t.Errorf("mode none planned write %+v", w)
	}
	// Removing b, the only placement on agg, removes the aggregated file.
	del := &tenants.Work{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "b"}, Deleted: true}
	res, writes, err = d.PlanWrites(ctx, tid, del)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deletes) != 1 || len(writes) != 1 || len(writes[0].Puts) != 0 || !slices.Contains(writes[0].Written, "s/agg/aggregated.yaml") {
		t.Errorf("removal of the last aggregated placement: %+v", writes)
	}
	// Nothing of the dry runs was kept: the Works list holds only b.
	list, err := d.Works(ctx, tid)
	if err != nil || len(list) != 1 {
		t.Errorf("works after dry runs: %+v, %v", list, err)
	}
}

func sameFile(a, b pathing.File) bool {
	return a.Path == b.Path && string(a.Content) == string(b.Content)
}
