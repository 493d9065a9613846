package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// contents is every row of every table, as text, per table: what a dry run must
// leave exactly as it was.
func contents(t *testing.T, tg target) map[string][]string {
	t.Helper()
	driver, dsn, list := "sqlite3", "file:"+tg.path+"?mode=ro",
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if tg.dialect == "postgres" {
		driver, dsn, list = "pgx", tg.url, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	}
	c, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string][]string{}
	for _, table := range queryStrings(t, c, list) {
		rows, err := c.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprintf("%v", vals))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// applyYAML parses, resolves and applies y as the web handler does.
func applyYAML(t *testing.T, d *db.DB, tid int64, y string, opts tenants.ApplyOptions) tenants.Applied {
	t.Helper()
	ctx := context.Background()
	docs, errs := tenants.ParseKratixYAML([]byte(y), tenants.ParseOptions{})
	if len(errs) == 0 {
		errs = tenants.ResolveSecrets(docs, func(name string) (tenants.Secret, bool) {
			data, ok, err := d.Secret(ctx, tid, name)
			if err != nil {
				t.Fatal(err)
			}
			return tenants.Secret{Name: name, Data: data}, ok
		})
	}
	if len(errs) > 0 {
		t.Fatalf("documents refused: %v", errs)
	}
	out, err := d.Apply(ctx, tid, docs, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return out
}

const dryRunFirst = `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: creds}
spec: {url: 'https://git.example.com/c.git', secretRef: {name: git-creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: git-creds}
stringData: {username: bot, password: first-password}
`

// dryRunSecond changes the Secret (and so the store's credentials), moves the Git
// store "repo" to another branch (re-planning its placements), adds a Destination
// waiting for a store, and carries a Promise and a duplicate.
const dryRunSecond = `apiVersion: v1
kind: Secret
metadata: {name: git-creds}
stringData: {username: bot, password: second-password}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: creds}
spec: {url: 'https://git.example.com/c.git', secretRef: {name: git-creds}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: redis}
spec: {}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo}
spec: {url: 'https://git.example.com/r.git', path: s, branch: other, authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: waits, labels: {env: qa}}
spec: {path: qa, stateStoreRef: {kind: BucketStateStore, name: later}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: waits, labels: {env: staging}}
spec: {path: qa, stateStoreRef: {kind: BucketStateStore, name: later}}
`

// TestApplyDryRunChangesNothing: a dry run runs the real apply and rolls it back:
// not one row of any table changes (jobs, placements, sealed credentials, audit
// included), and it reports exactly what the real apply then does, diffs included,
// with secret values never shown.
func TestApplyDryRunChangesNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "a: 1\n"), false)
		applyYAML(t, d, tid, dryRunFirst, tenants.ApplyOptions{})

		before := contents(t, tg)
		dry := applyYAML(t, d, tid, dryRunSecond, tenants.ApplyOptions{DryRun: true, Diff: true})
		if after := contents(t, tg); !reflect.DeepEqual(before, after) {
			for table := range after {
				if !reflect.DeepEqual(before[table], after[table]) {
					t.Errorf("dry run changed table %s:\nbefore %q\nafter  %q", table, before[table], after[table])
				}
			}
		}
		if !dry.DryRun || len(dry.Revived) != 0 {
			t.Errorf("dry run answer: DryRun %v, Revived %v", dry.DryRun, dry.Revived)
		}
		js, _ := json.Marshal(dry)
		if strings.Contains(string(js), "password\":\"") || strings.Contains(string(js), "first-password") || strings.Contains(string(js), "second-password") {
			t.Errorf("a secret value is in the answer: %s", js)
		}
		wantActions := []string{"updated", "updated", "skipped", "updated", "skipped", "created"}
		for i, res := range dry.Results {
			if res.Action != wantActions[i] || res.Index != i+1 {
				t.Errorf("result %d: %+v, want action %s", i, res, wantActions[i])
			}
		}
		secretDiff := []tenants.FieldChange{{Field: "data[password]", Old: tenants.SecretHidden, New: tenants.SecretHidden, Secret: "changed"}}
		if !reflect.DeepEqual(dry.Results[0].Diff, secretDiff) {
			t.Errorf("Secret diff %+v, want %+v", dry.Results[0].Diff, secretDiff)
		}
		credsDiff := []tenants.FieldChange{{Field: "credentials[password]", Old: tenants.SecretHidden, New: tenants.SecretHidden, Secret: "changed"}}
		if !reflect.DeepEqual(dry.Results[1].Diff, credsDiff) {
			t.Errorf("store credentials diff %+v, want %+v", dry.Results[1].Diff, credsDiff)
		}
		if want := []tenants.FieldChange{{Field: "spec.authMethod", Old: "basicAuth", New: "none"}, {Field: "spec.branch", Old: "main", New: "other"}}; !reflect.DeepEqual(dry.Results[3].Diff, want) {
			t.Errorf("store diff %+v, want %+v", dry.Results[3].Diff, want)
		}
		if got := dry.Results[2].Diff; got == nil || len(got) != 0 {
			t.Errorf("a skipped document's diff: %+v, want []", got)
		}
		if want := (tenants.FieldChange{Field: "metadata.labels.env", New: "staging"}); !slices.Contains(dry.Results[5].Diff, want) {
			t.Errorf("the last duplicate's diff %+v lacks %+v", dry.Results[5].Diff, want)
		}
		var msgs []string
		for _, w := range dry.Warnings {
			msgs = append(msgs, fmt.Sprintf("%d %s", w.Index, w.Message))
		}
		joined := strings.Join(msgs, "\n")
		for _, want := range []string{"3 Promise `redis` skipped", "6 referenced BucketStateStore \"later\" does not exist yet",
			"6 documents 5 and 6 are both Destination `waits`: as with kubectl, the last one wins; document 5 is skipped"} {
			if !strings.Contains(joined, want) {
				t.Errorf("warnings %q lack %q", msgs, want)
			}
		}

		real := applyYAML(t, d, tid, dryRunSecond, tenants.ApplyOptions{Diff: true})
		real.DryRun = true
		if !reflect.DeepEqual(dry, real) {
			t.Errorf("the dry run disagrees with the apply:\ndry  %+v\nreal %+v", dry, real)
		}
		if after := contents(t, tg); reflect.DeepEqual(before, after) {
			t.Error("the real apply changed nothing: the comparison cannot fail")
		}
		// Applied again, the same folder changes nothing, duplicates included.
		again := applyYAML(t, d, tid, dryRunSecond, tenants.ApplyOptions{DryRun: true, Diff: true})
		for i, res := range again.Results {
			if want := map[bool]string{true: "skipped", false: "unchanged"}[i == 2 || i == 4]; res.Action != want || len(res.Diff) != 0 {
				t.Errorf("after the apply, result %d: %+v, want %s and no diff", i, res, want)
			}
		}
	})
}
