package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestStoreMovedByApplyAndByTheEditForm: pointing the Git store at a new bare
// repository, by apply, by the store's Edit form and by Import, writes the Work and
// the canary files there (the issue: the store turned ready, everything still
// showed written, and the new repository got no commit); apply's answer and the
// form's flash say what will be written where, and the old repository keeps its
// files.
func TestStoreMovedByApplyAndByTheEditForm(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	ctx := context.Background()
	ten, err := h.DB.TenantBySlug(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := h.DB.CreateToken(ctx, ten.ID, "test", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + raw
	repos := make([]*testpeers.GitServer, 3)
	for i := range repos {
		repos[i] = testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw", Empty: true})
	}
	store := func(u string) string {
		return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: default}
spec: {url: "%s", branch: main, path: destinations, insecure: true, secretRef: {name: creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {username: bot, password: pw}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {name: default, kind: GitStateStore}}
`, u)
	}
	if code, _, body := h.apply(tok, "team-a", store(repos[0].URL())); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(`{"promise": "redis",
		"resource": {"namespace": "default", "name": "my-request"}, "destinationSelectors": {"environment": "dev"},
		"files": [{"path": "redis.yaml", "content": "kind: ConfigMap\n"}]}`))
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	var sub struct{ Work int64 }
	if err := json.Unmarshal([]byte(body), &sub); err != nil {
		t.Fatal(err)
	}
	const key = "destinations/dev/resources/default/redis/my-request/5058f/redis.yaml"
	const canary = "destinations/dev/dependencies/kratix-canary-namespace.yaml"
	writtenIn := func(repo *testpeers.GitServer) {
		t.Helper()
		testpeers.WaitFor(t, time.Minute, func() (bool, string) {
			code, body := api(t, http.MethodGet, fmt.Sprintf("%s/api/v1/tenants/team-a/works/%d", h.URL, sub.Work), tok, nil)
			var v struct {
				Placements []struct{ State, Version string }
			}
			_ = json.Unmarshal([]byte(body), &v)
			files := repo.Files(t, "main")
			return code == http.StatusOK && len(v.Placements) == 1 && v.Placements[0].State == tenants.StateWritten &&
					v.Placements[0].Version == repo.Head(t, "main") && files[key] != "" && files[canary] != "",
				fmt.Sprintf("not written in %s: %d %s; files %v", repo.URL(), code, body, files)
		})
	}
	writtenIn(repos[0])

	code, a, body := h.applyWithMessages(tok, store(repos[1].URL()))
	if code != http.StatusOK {
		t.Fatalf("apply moving the store: %d %s", code, body)
	}
	want := "1 placement on 1 Destination will be written to the new location, canary files included; nothing is removed from the old one"
	if got := a.message(tenants.KindGit); got != want {
		t.Errorf("apply's message %q; want %q (%s)", got, want, body)
	}
	writtenIn(repos[1])

	form := url.Values{"spec.url": {repos[2].URL()}, "spec.branch": {"main"}, "spec.path": {"destinations"}, "spec.insecure": {"true"},
		"spec.authMethod": {"basicAuth"}, "secretRef": {"creds"}, "username": {"bot"}, "password": {"pw"}}
	resp, page := b.post(t, h.URL+"/t/team-a/stores/git/default", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
		t.Errorf("edit form: %d; want the flash %q: %s", resp.StatusCode, want, snippet(page))
	}
	writtenIn(repos[2])
	// The dashboard's Import shows the same message beside the action.
	resp, page = b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {store(repos[1].URL())}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-testid="import-message"`) || !strings.Contains(page, want) {
		t.Errorf("import: %d; want the message %q: %s", resp.StatusCode, want, snippet(page))
	}
	writtenIn(repos[1])
	if files := repos[0].Files(t, "main"); files[key] == "" || files[canary] == "" {
		t.Errorf("the first repository lost its files: %v", files)
	}

	// The Destination's Edit form: a new path is written there and removed from the old one.
	dest := url.Values{"spec.path": {"dev2"}, "spec.stateStoreRef": {tenants.KindGit + "/default"}, "spec.filepath.mode": {"nestedByMetadata"},
		"spec.cleanup": {"none"}, "spec.initWorkloads.enabled": {"true"}, "labelKey": {"environment"}, "labelValue": {"dev"}}
	resp, page = b.post(t, h.URL+"/t/team-a/destinations/worker-1", dest)
	if want := "1 placement will be written under the new path, canary files included, and removed from the old one"; resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
		t.Errorf("Destination edit form: %d; want the flash %q: %s", resp.StatusCode, want, snippet(page))
	}
	testpeers.WaitFor(t, time.Minute, func() (bool, string) {
		files := repos[1].Files(t, "main")
		moved := strings.Replace(key, "/dev/", "/dev2/", 1)
		return files[moved] != "" && files[key] == "",
			fmt.Sprintf("the Destination's new path is not written, or its old one not removed: %v", files)
	})
}

// messageAnswer is apply's answer with each result's message.
type messageAnswer struct {
	Results []struct{ Kind, Action, Message string }
}

func (a messageAnswer) message(kind string) string {
	for _, r := range a.Results {
		if r.Kind == kind {
			return r.Message
		}
	}
	return ""
}

func (h *harness) applyWithMessages(tok, yaml string) (int, messageAnswer, string) {
	h.t.Helper()
	code, body := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply", tok, strings.NewReader(yaml))
	var a messageAnswer
	_ = json.Unmarshal([]byte(body), &a)
	return code, a, body
}
