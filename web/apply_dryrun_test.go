package web_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// rows is every row of every table of h's database, as text: what a dry run must
// leave exactly as it was.
func (h *harness) rows() map[string][]string {
	t := h.t
	t.Helper()
	driver, dsn, list := "sqlite3", "file:"+h.dbOptions.Path+"?mode=ro",
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if h.dbOptions.URL != "" {
		driver, dsn, list = "pgx", h.dbOptions.URL, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	}
	c, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var tables []string
	rs, err := c.Query(list)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var name string
		_ = rs.Scan(&name)
		tables = append(tables, name)
	}
	rs.Close()
	out := map[string][]string{}
	for _, table := range tables {
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
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// observed is what a user can see of a tenant through the API.
func (h *harness) observed(tok, tenant string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	for _, p := range []string{"export", "gitstatestores", "bucketstatestores", "destinations", "works", "audit"} {
		code, body := api(h.t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/"+p, tok, nil)
		if code != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", p, code, body)
		}
		out[p] = body
	}
	return out
}

type dryAnswer struct {
	DryRun  *bool `json:"dryRun"`
	Results []struct {
		Index      int
		Kind, Name string
		Action     string
		Diff       []tenants.FieldChange `json:"diff"`
	}
	Warnings []struct {
		Index   int
		Message string
	}
}

// TestApplyDryRunChangesNothing applies a Kratix folder's shape (two stores on two
// Git servers sharing one Secret, as Kratix's own samples do, a Destination and a
// Work written to it), then dry-runs a change with a diff: the answer says what
// would change, Secret values never shown, and nothing changes — not a row, not
// an audit entry, no readiness check. The real apply then answers the same.
func TestApplyDryRunChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	git1 := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "gitea_admin", Password: "first"})
	git2 := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "gitea_admin", Password: "first"})
	folder := func(password, branch, extra string) string {
		return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: default}
spec: {url: "%s", branch: %s, insecure: true, secretRef: {name: gitea-credentials}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: destination-git-test-store}
spec: {url: "%s", insecure: true, secretRef: {name: gitea-credentials}}
---
apiVersion: v1
kind: Secret
metadata: {name: gitea-credentials}
stringData: {username: gitea_admin, password: %s}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: default}}
%s`, git1.URL(), branch, git2.URL(), password, extra)
	}
	code, _, body := h.apply(tok, "team-a", folder("first", "main", ""))
	if code != http.StatusOK {
		t.Fatalf("first apply: %d %s", code, body)
	}
	work := `{"promise":"redis","destinationSelectors":{"environment":"dev"},"files":[{"path":"redis.yaml","content":"kind: Redis\n"}]}`
	if code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(work)); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	h.StopWriters() // the rows must hold still; this also waits for the readiness checks
	before, seen := h.rows(), h.observed(tok, "team-a")

	change := folder("second", "other", `---
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: redis}
spec: {}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-2, labels: {environment: qa}}
spec: {path: qa, stateStoreRef: {kind: BucketStateStore, name: later}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-2, labels: {environment: staging}}
spec: {path: qa, stateStoreRef: {kind: BucketStateStore, name: later}}
`)
	code, dryBody := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply?dryRun=true&diff=true", tok, strings.NewReader(change))
	if code != http.StatusOK {
		t.Fatalf("dry run: %d %s", code, dryBody)
	}
	h.Ready.Wait() // a readiness check started by the dry run would be done now
	if after := h.rows(); !reflect.DeepEqual(before, after) {
		for table := range after {
			if !reflect.DeepEqual(before[table], after[table]) {
				t.Errorf("the dry run changed table %s:\nbefore %q\nafter  %q", table, before[table], after[table])
			}
		}
	}
	if now := h.observed(tok, "team-a"); !reflect.DeepEqual(seen, now) {
		t.Errorf("the dry run changed what the API shows:\nbefore %v\nafter  %v", seen, now)
	}
	if strings.Contains(dryBody, "second") || strings.Contains(dryBody, "first") {
		t.Errorf("a secret value is in the answer: %s", dryBody)
	}
	var dry dryAnswer
	if err := json.Unmarshal([]byte(dryBody), &dry); err != nil || dry.DryRun == nil || !*dry.DryRun {
		t.Fatalf("answer without dryRun true: %v %s", err, dryBody)
	}
	actions := []string{"updated", "updated", "updated", "unchanged", "skipped", "skipped", "created"}
	for i, r := range dry.Results {
		if i >= len(actions) || r.Action != actions[i] {
			t.Errorf("result %d: %s %s %s, want %s", i+1, r.Kind, r.Name, r.Action, actions[min(i, len(actions)-1)])
		}
	}
	if got, want := dry.Results[2].Diff, []tenants.FieldChange{{Field: "data[password]", Old: tenants.SecretHidden, New: tenants.SecretHidden, Secret: "changed"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Secret diff %+v, want %+v", got, want)
	}
	if got := dry.Results[0].Diff; len(got) != 2 || got[0].Field != "credentials[password]" || got[0].Secret != "changed" ||
		got[1] != (tenants.FieldChange{Field: "spec.branch", Old: "main", New: "other"}) {
		t.Errorf("store diff %+v, want its password changed and spec.branch main → other", got)
	}
	if got := dry.Results[3].Diff; got == nil || len(got) != 0 {
		t.Errorf("unchanged Destination: diff %+v, want []", got)
	}
	var warnings []string
	for _, w := range dry.Warnings {
		warnings = append(warnings, fmt.Sprintf("%d %s", w.Index, w.Message))
	}
	for _, want := range []string{"5 Promise `redis` skipped: Stateward does not run Promises", `7 referenced BucketStateStore "later" does not exist yet`,
		"7 documents 6 and 7 are both Destination `worker-2`: as with kubectl, the last one wins; document 6 is skipped"} {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}

	code, realBody := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply?diff=true", tok, strings.NewReader(change))
	if code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, realBody)
	}
	if want := strings.Replace(dryBody, `"dryRun": true`, `"dryRun": false`, 1); realBody != want {
		t.Errorf("the dry run disagrees with the apply:\ndry  %s\nreal %s", dryBody, realBody)
	}
	if reflect.DeepEqual(before, h.rows()) {
		t.Error("the real apply changed nothing either: the comparison cannot fail")
	}
	if _, audit := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/audit", tok, nil); !strings.Contains(audit, "worker-2") {
		t.Errorf("the real apply left no audit entry for worker-2: %s", audit)
	}
	// Right after the apply, a dry run of the same folder finds nothing to change.
	_, againBody := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply?dryRun=true&diff=true", tok, strings.NewReader(change))
	var again dryAnswer
	_ = json.Unmarshal([]byte(againBody), &again)
	for _, r := range again.Results {
		if r.Action != "unchanged" && r.Action != "skipped" || len(r.Diff) != 0 {
			t.Errorf("dry run right after the apply: document %d %s %s %s %+v, want no change", r.Index, r.Kind, r.Name, r.Action, r.Diff)
		}
	}
}
