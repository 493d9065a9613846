package db_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestDestinationIsItsListEntry: Destination(name) reads one row, yet answers
// exactly what Destinations lists for that name — on a checked store, a missing
// store and a store waiting for its Secret — and another team's Destination, or
// none, is ErrNotFound. DestinationsOn, the names of those on one store, agrees
// with the list too.
func TestDestinationIsItsListEntry(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", true, "reachable", c.now()); err != nil {
			t.Fatal(err)
		}
		docs, errs := tenants.ParseKratixYAML([]byte(`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: on-missing}
spec: {path: m, stateStoreRef: {kind: BucketStateStore, name: absent}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: b}
spec: {endpoint: s3.example.com, bucketName: kratix, secretRef: {name: s}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: on-secretless}
spec: {path: w, stateStoreRef: {kind: BucketStateStore, name: b}}
`), tenants.ParseOptions{})
		if len(errs) == 0 {
			errs = tenants.ResolveSecrets(docs, func(string) (tenants.Secret, bool) { return tenants.Secret{}, false })
		}
		if len(errs) > 0 {
			t.Fatalf("documents refused: %v", errs)
		}
		if _, err := d.Apply(ctx, tid, docs, tenants.ApplyOptions{}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		all, err := d.Destinations(ctx, tid, nil)
		if err != nil || len(all) != 4 {
			t.Fatalf("Destinations: %d, %v; want 4", len(all), err)
		}
		waiting := 0
		for _, want := range all {
			got, err := d.Destination(ctx, tid, want.Name)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("Destination(%q) = %+v, %v\nwant its list entry %+v", want.Name, got, err, want)
			}
			if want.Waiting != "" {
				waiting++
			}
		}
		if waiting != 2 {
			t.Errorf("%d Destinations wait, want 2 (missing store, missing Secret): %+v", waiting, all)
		}

		other, err := d.CreateTenant(ctx, "team-b", "", "")
		if err != nil {
			t.Fatal(err)
		}
		g := tenants.GitStateStore{TenantID: other.ID, Name: "repo", URL: "https://git.example.com/b.git", Path: "s"}
		g.Normalize()
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		dest := tenants.Destination{TenantID: other.ID, Name: "theirs", Path: "t", StoreKind: tenants.KindGit, StoreName: "repo"}
		dest.Normalize()
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"theirs", "nowhere"} {
			if _, err := d.Destination(ctx, tid, name); !errors.Is(err, tenants.ErrNotFound) {
				t.Errorf("Destination(%q) of team-a: %v, want ErrNotFound", name, err)
			}
		}
		if got, err := d.Destination(ctx, other.ID, "theirs"); err != nil || got.Name != "theirs" || got.TenantID != other.ID {
			t.Errorf("team-b's own Destination: %+v, %v", got, err)
		}

		// DestinationsOn is the list filtered by store, and only the team's.
		for _, st := range []struct{ kind, name string }{{tenants.KindGit, "repo"}, {tenants.KindBucket, "b"}, {tenants.KindBucket, "absent"}, {tenants.KindGit, "none"}} {
			want := []string{}
			for _, dest := range all {
				if dest.StoreKind == st.kind && dest.StoreName == st.name {
					want = append(want, dest.Name)
				}
			}
			if got, err := d.DestinationsOn(ctx, tid, st.kind, st.name); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("DestinationsOn(%s %q) = %q, %v; want %q", st.kind, st.name, got, err, want)
			}
		}
	})
}
