package db

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestApplyReplansOnce: an apply of several Destinations and a store re-plans
// the team once, after the last document, not once a document (each re-plan
// reads and plans every Work of the team while its submits wait); the Works
// end where the applied configuration puts them, in a dry run too.
func TestApplyReplansOnce(t *testing.T) {
	d := countingDB(t, nil)
	ctx := context.Background()
	ten := gitDevTeam(t, d)
	for i := range 20 {
		if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, i, "a: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	// dev is relabelled away from the Works, and five new Destinations on
	// the store match env=dev: each Work goes to one of them.
	var y strings.Builder
	fmt.Fprintf(&y, "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: \"https://git.example.com/r.git\", branch: main, path: s2, authMethod: none}\n")
	fmt.Fprintf(&y, "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: dev, labels: {env: staging}}\nspec: {path: dev, stateStoreRef: {name: repo, kind: GitStateStore}}\n")
	for j := range 5 {
		fmt.Fprintf(&y, "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: extra-%d, labels: {env: dev}}\nspec: {path: extra-%d, stateStoreRef: {name: repo, kind: GitStateStore}}\n", j, j)
	}
	docs, errs := tenants.ParseKratixYAML([]byte(y.String()), tenants.ParseOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, dry := range []bool{true, false} {
		before := d.replans.Load()
		out, err := d.Apply(ctx, ten.ID, docs, tenants.ApplyOptions{DryRun: dry})
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		n := d.replans.Load() - before
		t.Logf("dry run %v: %d re-plans", dry, n)
		if n != 1 {
			t.Errorf("dry run %v: the apply of %d documents re-planned the team %d times; want once", dry, len(docs), n)
		}
		for _, r := range out.Results {
			if r.Action == tenants.ActionUnchanged {
				t.Errorf("dry run %v: %s %s unchanged; the test applies changes only", dry, r.Kind, r.Name)
			}
		}
	}
	var on struct {
		Dev   int `db:"dev"`
		Extra int `db:"extra"`
	}
	if err := d.r.GetContext(ctx, &on, `SELECT
		(SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND destination_name = 'dev' AND intent = 'write') AS dev,
		(SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND destination_name LIKE 'extra-%' AND intent = 'write') AS extra`,
		ten.ID, ten.ID); err != nil {
		t.Fatal(err)
	}
	if on.Dev != 0 || on.Extra != 20 { // a resource request goes to one matching Destination
		t.Errorf("after the apply: %d placements to write on dev, %d on the new Destinations; want 0 and 20", on.Dev, on.Extra)
	}
}
