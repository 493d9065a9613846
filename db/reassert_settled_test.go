package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// TestReassertReadsWrittenPlacementsSettled, on both databases and both kinds
// of store: a full rewrite reads each placement written at the store's
// version, with its version recorded, as Settled at that version, and its
// finish, finding nothing to change, leaves the Works as they were; a
// placement submitted again is not Settled. (A bucket's full rewrite read its
// placements inside the claim, Settled never, until it read them after it as
// a Git store's does.)
func TestReassertReadsWrittenPlacementsSettled(t *testing.T) {
	for _, kind := range []string{tenants.KindGit, tenants.KindBucket} {
		t.Run(kind, func(t *testing.T) {
			eachDialect(t, func(t *testing.T, tg target) { reassertReadsSettled(t, tg, kind) })
		})
	}
}

func reassertReadsSettled(t *testing.T, tg target, kind string) {
	d, tid, clock := clockedMoveDB(t, tg, kind)
	ctx := context.Background()
	ids := map[string]int64{}
	for _, name := range []string{"a", "b", "c"} {
		ids[name] = submit(t, d, tid, resourceWork(name, "dev", "x.yaml", "1"), false).Work
	}
	placementOf := func(name string) tenants.PlacementView {
		t.Helper()
		v, err := d.Work(ctx, tid, ids[name])
		if err != nil || len(v.Placements) != 1 {
			t.Fatalf("Work %s: %+v, %v", name, v, err)
		}
		return v.Placements[0]
	}
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	writeAll(t, ctx, d, job)
	before := placementOf("a")
	clock.add(time.Minute)
	if _, err := d.RequeueAll(ctx); err != nil {
		t.Fatal(err)
	}
	submit(t, d, tid, resourceWork("c", "dev", "x.yaml", "2"), false)
	job, ok, err = d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok || !job.Full {
		t.Fatalf("claim of the re-assert: %v %v", ok, err)
	}
	settled := 0
	for _, w := range job.Writes {
		switch {
		case w.Settled && w.Version == "v1":
			settled++
		case w.Settled:
			t.Errorf("%s settled at %q, want v1", w.Name, w.Version)
		}
	}
	if settled != 2 || len(job.Writes) != 3 {
		t.Fatalf("%d of %d placements read settled, want a and b of 3", settled, len(job.Writes))
	}
	writeAll(t, ctx, d, job)
	if after := placementOf("a"); !after.UpdatedAt.Equal(before.UpdatedAt) || after.State != tenants.StateWritten {
		t.Errorf("a settled placement after the re-assert: %+v, was %+v", after, before)
	}
	if c := placementOf("c"); c.State != tenants.StateWritten || !c.UpdatedAt.After(before.UpdatedAt) {
		t.Errorf("the placement submitted again, written by the re-assert: %+v", c)
	}
}
