package writers

import (
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestReassertAfterAnotherWriteKeepsEachVersion, with a real Git remote and a
// real MinIO bucket: Work a written, then Work b written (the store's version
// moved on), then a re-assert that finds the store as written leaves a's row
// as it was — the version that wrote it and the time it was written. The
// writer says it changed nothing (no commit, no PUT), and the finish records
// nothing; before, it rewrote every placement not at the new version (at a
// million Works, every row of every store written since the last re-assert).
func TestReassertAfterAnotherWriteKeepsEachVersion(t *testing.T) {
	for _, kind := range []string{tenants.KindGit, tenants.KindBucket} {
		t.Run(kind, func(t *testing.T) {
			e := newEngine(t)
			if kind == tenants.KindGit {
				e.trailStore(t, gitPeer(t, false), nil)
			} else {
				e.bucketStore(t, testpeers.MinIO(t), "store", "")
				e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindBucket, StoreName: "store"})
			}
			a := e.submit(t, work("a", nil, "a.yaml", "a: 1\n")).Work
			_, reassert := startCountingTrails(t, e)
			b := e.submit(t, work("b", nil, "b.yaml", "b: 1\n")).Work
			e.drain(t, time.Minute)
			aBefore, bBefore := e.placement(t, a), e.placement(t, b)
			if aBefore.Version == "" || aBefore.Version == bBefore.Version {
				t.Fatalf("versions: a %q, b %q; want b's write to name a version of its own", aBefore.Version, bBefore.Version)
			}
			reassert()
			for _, c := range []struct {
				name   string
				before tenants.PlacementView
				after  tenants.PlacementView
			}{{"a", aBefore, e.placement(t, a)}, {"b", bBefore, e.placement(t, b)}} {
				if c.after.State != tenants.StateWritten || c.after.Version != c.before.Version || !c.after.UpdatedAt.Equal(c.before.UpdatedAt) {
					t.Errorf("%s after a re-assert that found nothing to change: %s, version %q, updated %v; was version %q, updated %v",
						c.name, c.after.State, c.after.Version, c.after.UpdatedAt, c.before.Version, c.before.UpdatedAt)
				}
			}
		})
	}
}
