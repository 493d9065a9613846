package db_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// prTeam gives tenantID a pull-request store "gitops" with a Destination
// "stage" (env=stage) on it, and submits n Works there.
func prTeam(t *testing.T, d *db.DB, tenantID int64, n int) {
	t.Helper()
	ctx := context.Background()
	g := tenants.GitStateStore{TenantID: tenantID, Name: "gitops", URL: "https://git.example.com/gitops.git",
		PullRequest: &tenants.PullRequestSpec{Provider: tenants.ProviderGitea}}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	dest := tenants.Destination{TenantID: tenantID, Name: "stage", Labels: map[string]string{"env": "stage"}, Path: "stage",
		StoreKind: tenants.KindGit, StoreName: "gitops"}
	dest.Normalize()
	if _, err := d.SaveDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		submit(t, d, tenantID, resourceWork("r"+string(rune('a'+i)), "stage", "cm.yaml", "kind: ConfigMap\n"), false)
	}
}

// setStates puts a tenant's placements on store gitops in the given states, in
// Work order (what the writers and PRClosed do, without a Git host).
func setStates(t *testing.T, tg target, tenantID int64, states ...string) {
	t.Helper()
	raw := rawDB(t, tg)
	defer raw.Close()
	for i, st := range states {
		q := fmt.Sprintf(`UPDATE placements SET state = '%s' WHERE id = (SELECT id FROM placements WHERE tenant_id = %d
			AND store_name = 'gitops' ORDER BY id LIMIT 1 OFFSET %d)`, st, tenantID, i)
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestPRStoresCountsOneTenantsPullRequests: the dashboard's view of
// pull-request stores lists only the tenant's own pull-request stores (not one
// that pushes, not another tenant's store of the same name) with the open pull
// request and its placements counted by state; one store by name the same; and
// the rejected placements of the tenant alone.
func TestPRStoresCountsOneTenantsPullRequests(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, a, _ := worksDB(t, tg)
		ctx := context.Background()
		other, err := d.CreateTenant(ctx, "team-b", "", "")
		if err != nil {
			t.Fatal(err)
		}
		prTeam(t, d, a, 4)
		prTeam(t, d, other.ID, 3)
		submit(t, d, a, resourceWork("pushed", "dev", "cm.yaml", "kind: ConfigMap\n"), false)
		setStates(t, tg, a, "proposed", "proposed", "rejected", "written")
		setStates(t, tg, other.ID, "rejected", "rejected", "proposed")
		ref := tenants.StoreRef{TenantID: a, Kind: tenants.KindGit, Name: "gitops"}
		if err := d.RecordPR(ctx, ref, 7, "https://git.example.com/gitops/pulls/7", "h"); err != nil {
			t.Fatal(err)
		}

		got, err := d.PRStores(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		want := []tenants.PRStoreView{{Store: "gitops", Number: 7, URL: "https://git.example.com/gitops/pulls/7", Proposed: 2, Rejected: 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PRStores = %+v, want %+v", got, want)
		}
		one, err := d.PRStore(ctx, a, "gitops")
		if err != nil || one != want[0] {
			t.Errorf("PRStore(gitops) = %+v, %v; want %+v", one, err, want[0])
		}
		if _, err := d.PRStore(ctx, a, "repo"); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("PRStore of a store that pushes: err = %v, want not found", err)
		}
		b, err := d.PRStores(ctx, other.ID)
		if err != nil || len(b) != 1 || b[0].Number != 0 || b[0].Proposed != 1 || b[0].Rejected != 2 {
			t.Errorf("team-b's PRStores = %+v, %v; want gitops with no pull request, 1 proposed, 2 rejected", b, err)
		}
		if n, err := d.RejectedPlacements(ctx, a); err != nil || n != 1 {
			t.Errorf("RejectedPlacements(team-a) = %d, %v; want 1", n, err)
		}
	})
}
