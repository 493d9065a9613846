package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
	"github.com/stateward/stateward/web"
)

const teamASecret = "secret-of-team-a"

// urlFieldError is the message under the form's Repository URL field.
var urlFieldError = regexp.MustCompile(`id="f-spec-url-error"[^>]*>([^<]*)<`)

// victimCache gives team-a a Git store with Destination prod, writes a Work holding
// teamASecret and returns the path of team-a's clone cache under the data dir.
func (h *harness) victimCache(tok string) string {
	h.t.Helper()
	git := testpeers.GitHTTP(h.t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	yaml := git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, initWorkloads: {enabled: false}, filepath: {mode: none}, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != http.StatusOK {
		h.t.Fatalf("apply: %d %s", code, body)
	}
	h.submit(tok, filesWork("prod", "secret.yaml", teamASecret+"\n"))
	caches, _ := filepath.Glob(filepath.Join(h.CacheDir, "*", "git-*"))
	if len(caches) != 1 {
		h.t.Fatalf("clone caches under %s: %v, want one", h.CacheDir, caches)
	}
	return caches[0]
}

// refsOf lists a repository's refs and where they point.
func refsOf(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "for-each-ref", "--format=%(refname) %(objectname)").CombinedOutput()
	if err != nil {
		t.Fatalf("git for-each-ref in %s: %v: %s", dir, err, out)
	}
	return string(out)
}

// spellingsOf are the ways to name dir on the server's disk that are known to have
// reached it (the first two did) or that go-git or a reader takes for a local path.
func spellingsOf(t *testing.T, dir string) []string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "innocent.git")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	rel, err := filepath.Rel(cwd, dir)
	if err != nil {
		t.Fatal(err)
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	return []string{
		"/x@localhost:y/../.." + dir, "/x@127.0.0.1:y/../.." + dir, "/x@localhost:22/../.." + dir,
		dir, dir + "/", rel, "./" + rel, "file:" + dir, "file:" + rel, "file://localhost" + dir, "file://host" + dir,
		"FILE://" + dir, "file://" + dir, "file://" + dir + "/", "file://" + parent + "/../" + filepath.Base(parent) + "/" + base,
		"file://" + link, "file://" + filepath.Dir(parent), "file://" + strings.ReplaceAll(dir, "/", "//"),
		"file://" + strings.ReplaceAll(dir, "/", "/%2e/"),
	}
}

// TestNoTenantReachesTheServersDisk: on a production-style server (no local
// default) and in the local default, a tenant's Git store cannot name another
// tenant's clone cache (nor any path on the server's disk, in production) in any
// spelling — at apply, in the store form and on a store edit, 422 naming spec.url
// — and a store row that names one anyway (saved before this check existed) is
// refused by the writers: readiness, a dry run with diff and a Work neither read
// nor move the cache.
func TestNoTenantReachesTheServersDisk(t *testing.T) {
	for _, mode := range []struct {
		name  string
		local bool
	}{{"production", false}, {"local default", true}} {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarnessWith(t, nil, func(c *web.Config) {
				if mode.local {
					c.LocalRepos = &tenants.LocalRepos{}
				}
			})
			_, tokA := h.tenantWithToken("team-a", tenants.RoleEditor)
			_, tokB := h.tenantWithToken("team-b", tenants.RoleEditor)
			cache := h.victimCache(tokA)
			before := refsOf(t, cache)

			for _, raw := range spellingsOf(t, cache) {
				doc := fmt.Sprintf("apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: evil}\nspec: {url: %q, authMethod: none}\n", raw)
				code, a, body := h.apply(tokB, "team-b", doc)
				if code != http.StatusUnprocessableEntity || len(a.Errors) != 1 || a.Errors[0].Field != "spec.url" {
					t.Errorf("apply of url %q: %d %s", raw, code, body)
				}
			}
			h.formRefusals(t, spellingsOf(t, cache)[:6])

			// A store row naming the cache, as one saved before the check existed:
			// a dry run with diff, a Work and then readiness.
			h.storedAnyway(t, tokB, "/x@localhost:y/../.."+cache)
			code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-b/works?dryRun=true&diff=true", tokB,
				strings.NewReader(filesWork("evil", "secret.yaml", "x\n")))
			if code == http.StatusOK && !strings.Contains(out, "names a path on the server") || strings.Contains(out, teamASecret) {
				t.Errorf("dry run with diff on another tenant's cache: %d %s", code, out)
			}
			id := h.submitTo(t, tokB, "team-b", filesWork("evil", "secret.yaml", "overwritten\n"))
			h.waitFailed(t, tokB, "team-b", id)
			ten, _ := h.DB.TenantBySlug(context.Background(), "team-b")
			h.Ready.Trigger(tenants.StoreRef{TenantID: ten.ID, Kind: tenants.KindGit, Name: "evil"})
			ready, msg := h.statusAfterCheck(t, tokB, "evil")
			if ready || strings.Contains(msg, teamASecret) || !strings.Contains(msg, "names a path on the server") {
				t.Errorf("readiness of a store naming another tenant's cache: ready=%v %q", ready, msg)
			}
			if after := refsOf(t, cache); after != before {
				t.Errorf("team-b moved team-a's cache:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// formRefusals posts each URL in the Git store form of a new team, as a new store
// and as an edit of a valid one, and wants the URL field refused.
func (h *harness) formRefusals(t *testing.T, urls []string) {
	t.Helper()
	b := newBrowser(t)
	h.login(b, "owner@example.com")
	b.post(t, h.URL+"/teams", url.Values{"slug": {"forms"}, "name": {"Forms"}})
	form := func(u string) url.Values {
		return url.Values{"metadata.name": {"r"}, "spec.url": {u}, "spec.authMethod": {"none"}, "spec.branch": {"main"}}
	}
	if resp, page := b.post(t, h.URL+"/t/forms/stores/git", form("https://git.example.com/r.git")); resp.StatusCode >= 400 {
		t.Fatalf("a valid store: %d %.1000s", resp.StatusCode, page)
	}
	for _, u := range urls {
		for _, target := range []string{"/t/forms/stores/git", "/t/forms/stores/git/r"} {
			resp, page := b.post(t, h.URL+target, form(u))
			if m := urlFieldError.FindStringSubmatch(page); resp.StatusCode != http.StatusUnprocessableEntity || m == nil || strings.TrimSpace(m[1]) == "" {
				t.Errorf("form %s with url %q: %d %.600s", target, u, resp.StatusCode, page)
			}
		}
	}
	ten, err := h.DB.TenantBySlug(context.Background(), "forms")
	if err != nil {
		t.Fatal(err)
	}
	g, err := h.DB.GitStore(context.Background(), ten.ID, "r")
	if err != nil || g.URL != "https://git.example.com/r.git" {
		t.Errorf("the edited store: %+v %v, want its URL unchanged", g.URL, err)
	}
}

// storedAnyway gives team-b a valid Git store evil with Destination evil, then sets
// its URL to raw in the database directly (as a row saved before validation
// refused raw) and marks it unchecked and changed.
func (h *harness) storedAnyway(t *testing.T, tok, raw string) {
	t.Helper()
	doc := `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: evil}
spec: {url: "https://git.example.com/r.git", authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: evil, labels: {environment: evil}}
spec: {path: evil, initWorkloads: {enabled: false}, filepath: {mode: none}, stateStoreRef: {kind: GitStateStore, name: evil}}
`
	if code, _, body := h.apply(tok, "team-b", doc); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	driver, dsn := "sqlite3", h.dbOptions.Path
	if h.dbOptions.URL != "" {
		driver, dsn = "pgx", h.dbOptions.URL
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ten, err := h.DB.TenantBySlug(context.Background(), "team-b")
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Exec(`UPDATE git_stores SET url = $1, ready = NULL, last_checked = NULL, status_message = '', updated_at = $2
		WHERE tenant_id = $3 AND name = 'evil'`, raw, time.Now().UTC().Truncate(time.Millisecond), ten.ID)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("update the store row: %v (%d rows)", err, n)
	}
}

// statusAfterCheck polls store name of team-b until its readiness check finished.
func (h *harness) statusAfterCheck(t *testing.T, tok, name string) (bool, string) {
	t.Helper()
	return h.status(tok, "team-b", "gitstatestores/"+name)
}

// submitTo submits a Work to tenant and returns its id.
func (h *harness) submitTo(t *testing.T, tok, tenant, body string) int64 {
	t.Helper()
	code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/"+tenant+"/works", tok, strings.NewReader(body))
	var a workAnswer
	_ = json.Unmarshal([]byte(out), &a)
	if code != http.StatusAccepted || a.Work == 0 {
		t.Fatalf("submit: %d %s", code, out)
	}
	return a.Work
}

// waitFailed polls a Work until a placement records a failed write, and wants none
// written.
func (h *harness) waitFailed(t *testing.T, tok, tenant string, id int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		_, body = api(t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/works/"+strconv.FormatInt(id, 10), tok, nil)
		var w workAnswer
		_ = json.Unmarshal([]byte(body), &w)
		for _, p := range w.Placements {
			if p.State == tenants.StateWritten {
				t.Fatalf("work %d was written: %s", id, body)
			}
			if p.Error != "" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("work %d recorded no failed write within 60 s: %s", id, body)
}
