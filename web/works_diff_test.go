package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

type diffPlacement struct {
	Destination string
	Paths       []string
	Diff        tenants.FileDiff
}

type diffAnswer struct {
	Work       int64
	Placements []diffPlacement
	Deletes    []diffPlacement
	Summary    string
}

// diffStores applies a bucket store on MinIO with Destination dev
// (nestedByMetadata) and a Git store with Destination prod (mode none).
func (h *harness) diffStores(tok string) (*testpeers.S3Server, string, *testpeers.GitServer) {
	h.t.Helper()
	s3 := testpeers.MinIO(h.t)
	bucket := s3.NewBucket(h.t)
	h.t.Cleanup(h.StopWriters)
	git := testpeers.GitHTTP(h.t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	yaml := s3.StoreYAML(bucket) + git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, initWorkloads: {enabled: false}, stateStoreRef: {kind: BucketStateStore, name: minio}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, initWorkloads: {enabled: false}, filepath: {mode: none}, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
		h.t.Fatalf("apply: %d %s", code, body)
	}
	return s3, bucket, git
}

// filesWork is a resource request r-<env> with files (path, content, ...).
func filesWork(env string, files ...string) string {
	var fs []string
	for i := 0; i < len(files); i += 2 {
		fs = append(fs, fmt.Sprintf(`{"path":%q,"content":%q}`, files[i], files[i+1]))
	}
	return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":"r-%s"},"destinationSelectors":{"environment":%q},"files":[%s]}`,
		env, env, strings.Join(fs, ","))
}

func (h *harness) submit(tok, body string) int64 {
	h.t.Helper()
	code, out := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(body))
	var a workAnswer
	_ = json.Unmarshal([]byte(out), &a)
	if code != http.StatusAccepted {
		h.t.Fatalf("submit: %d %s", code, out)
	}
	h.waitWritten(tok, "team-a", a.Work)
	return a.Work
}

func (h *harness) diff(tok, body string) diffAnswer {
	h.t.Helper()
	code, out := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works?dryRun=true&diff=true", tok, strings.NewReader(body))
	var d diffAnswer
	_ = json.Unmarshal([]byte(out), &d)
	if code != http.StatusOK || len(d.Placements) != 1 {
		h.t.Fatalf("diff: %d %s", code, out)
	}
	return d
}

// TestWorkDiffBeforeWrite: ?dryRun=true&diff=true answers, per placement, what
// would be added, changed (unified diff) and removed compared with what a real
// bucket and a real Git remote hold now, and writes nothing.
func TestWorkDiffBeforeWrite(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3, bucket, git := h.diffStores(tok)
	old := []string{"a.yaml", "a: 1\n", "b.yaml", "b: 1\nkeep: x\n", "c.yaml", "c: 1\n"}
	next := []string{"a.yaml", "a: 1\n", "b.yaml", "b: 2\nkeep: x\n", "d.yaml", "d: 1\n"}

	t.Run("bucket, nestedByMetadata", func(t *testing.T) {
		h.submit(tok, filesWork("dev", old...))
		before := s3.Objects(t, bucket, "")
		d := h.diff(tok, filesWork("dev", next...))
		dir := "clusters/dev/resources/default/redis/r-dev/5058f/"
		want := tenants.FileDiff{Added: []string{dir + "d.yaml"},
			Changed: []tenants.ChangedFile{{Path: dir + "b.yaml",
				Unified: "--- a/" + dir + "b.yaml\n+++ b/" + dir + "b.yaml\n@@ -1,2 +1,2 @@\n-b: 1\n+b: 2\n keep: x\n"}},
			Removed: []string{dir + "c.yaml"}}
		if !diffEqual(d.Placements[0].Diff, want) {
			t.Errorf("diff = %+v\nwant %+v", d.Placements[0].Diff, want)
		}
		if d.Summary != "1 added, 1 changed, 1 removed on 1 Destination" {
			t.Errorf("summary = %q", d.Summary)
		}
		if after := s3.Objects(t, bucket, ""); len(after) != len(before) || after[dir+"b.yaml"] != "b: 1\nkeep: x\n" {
			t.Errorf("a diff wrote to the bucket: %v", keysOf(after))
		}
	})

	t.Run("git, none", func(t *testing.T) {
		h.submit(tok, filesWork("prod", old...))
		commits := git.CommitCount(t, git.Branch())
		d := h.diff(tok, filesWork("prod", next...))
		got := d.Placements[0].Diff
		state := "gitops/prod/.kratix/default-redis-r-prod-default-"
		if !slices.Equal(got.Added, []string{"gitops/prod/d.yaml"}) || !slices.Equal(got.Removed, []string{"gitops/prod/c.yaml"}) ||
			len(got.Changed) != 2 || !strings.HasPrefix(got.Changed[0].Path, state) || got.Changed[1].Path != "gitops/prod/b.yaml" ||
			!strings.Contains(got.Changed[0].Unified, "-- prod/c.yaml\n+- prod/d.yaml\n") {
			t.Errorf("diff = %+v", got)
		}
		if n := git.CommitCount(t, git.Branch()); n != commits {
			t.Errorf("a diff made commits: %d → %d", commits, n)
		}
		// The same content again: nothing to change.
		same := h.diff(tok, filesWork("prod", old...))
		if g := same.Placements[0].Diff; len(g.Added)+len(g.Changed)+len(g.Removed) != 0 || same.Summary != "0 added, 0 changed, 0 removed on 0 Destinations" {
			t.Errorf("diff of the written content = %+v, %q", g, same.Summary)
		}
	})

	t.Run("moved to another Destination", func(t *testing.T) {
		work := func(env string) string {
			return `{"promise":"redis","resource":{"namespace":"default","name":"mover"},"destinationSelectors":{"environment":"` + env +
				`"},"files":[{"path":"m1.yaml","content":"m: 1\n"},{"path":"m2.yaml","content":"m: 2\n"}]}`
		}
		h.submit(tok, work("dev"))
		d := h.diff(tok, work("prod")) // the resource request moves from the bucket to Git
		dir := "clusters/dev/resources/default/redis/mover/5058f/"
		if len(d.Deletes) != 1 || d.Deletes[0].Destination != "dev" ||
			!slices.Equal(d.Deletes[0].Diff.Removed, []string{dir + "m1.yaml", dir + "m2.yaml"}) {
			t.Errorf("deletes = %+v, want dev's two files removed", d.Deletes)
		}
		if got := d.Placements[0].Diff; d.Placements[0].Destination != "prod" || len(got.Added) != 3 || len(got.Changed)+len(got.Removed) != 0 {
			t.Errorf("placement = %+v, want prod with two files and a state file added", d.Placements[0])
		}
		if d.Summary != "3 added, 0 changed, 2 removed on 2 Destinations" {
			t.Errorf("summary = %q", d.Summary)
		}
	})

	t.Run("store unreachable", func(t *testing.T) {
		git.SetDown(true)
		defer git.SetDown(false)
		code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works?dryRun=true&diff=true", tok,
			strings.NewReader(filesWork("prod", next...)))
		if code != http.StatusBadGateway || !strings.Contains(out, `cannot read what the State Store holds: read GitStateStore \"repo\"`) {
			t.Errorf("diff against an unreachable store: %d %s, want 502 naming the store", code, out)
		}
	})

	t.Run("dashboard plan", func(t *testing.T) {
		b := newBrowser(t)
		h.login(b, "alice@example.com")
		team, _ := h.DB.TenantBySlug(t.Context(), "team-a")
		if err := h.DB.AddMember(t.Context(), team.ID, "alice@example.com", tenants.RoleEditor); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"promise": {"redis"}, "resource.namespace": {"default"}, "resource.name": {"r-dev"},
			"destinationSelectors": {"environment=dev"}, "filePath": {"a.yaml", "b.yaml", "d.yaml"},
			"fileContent": {"a: 1\n", "b: 2\nkeep: x\n", "d: 1\n"}}
		_, page := b.post(t, h.URL+"/t/team-a/works/plan", form)
		for _, s := range []string{`data-testid="plan-summary"`, "1 added, 1 changed, 1 removed on 1 Destination",
			`data-testid="diff-changed"`, "+b: 2", `data-testid="diff-removed"`} {
			if !strings.Contains(page, s) {
				t.Errorf("plan panel lacks %q: %s", s, snippet(page))
			}
		}
		// An unreachable store: the plan still shows, with why there is no comparison.
		git.SetDown(true)
		defer git.SetDown(false)
		form.Set("destinationSelectors", "environment=prod")
		form.Set("resource.name", "r-prod")
		_, page = b.post(t, h.URL+"/t/team-a/works/plan", form)
		if !strings.Contains(page, `data-testid="plan-diff-error"`) || !strings.Contains(page, `data-testid="plan-placement"`) {
			t.Errorf("plan panel with an unreachable store: %s", snippet(page))
		}
	})
}

// TestWorkDiffThousandFiles: a diff of a 1,000-file Work against a store that
// holds it (ten files changed) answers in under a second, on Git and on MinIO.
func TestWorkDiffThousandFiles(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	h.diffStores(tok)
	var files, changed []string
	for i := range 1000 {
		name, content := fmt.Sprintf("m/file-%04d.yaml", i), fmt.Sprintf("kind: ConfigMap\nmetadata: {name: f%d}\ndata: {n: %q}\n", i, strings.Repeat("x", i%50))
		files = append(files, name, content)
		if i%100 == 0 {
			content += "extra: true\n"
		}
		changed = append(changed, name, content)
	}
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			h.submit(tok, filesWork(env, files...))
			h.diff(tok, filesWork(env, changed...)) // warm the Git cache's fetch like any later diff
			start := time.Now()
			d := h.diff(tok, filesWork(env, changed...))
			took := time.Since(start)
			got := d.Placements[0].Diff
			if len(got.Added) != 0 || len(got.Removed) != 0 || len(got.Changed) != 10 {
				t.Errorf("diff: %d added, %d changed, %d removed; want 0, 10, 0", len(got.Added), len(got.Changed), len(got.Removed))
			}
			t.Logf("diff of 1,000 files on %s: %v", env, took)
			if took > time.Second {
				t.Errorf("diff of 1,000 files took %v, want under 1 s", took)
			}
		})
	}
}

func diffEqual(a, b tenants.FileDiff) bool {
	return slices.Equal(a.Added, b.Added) && slices.Equal(a.Changed, b.Changed) && slices.Equal(a.Removed, b.Removed)
}
