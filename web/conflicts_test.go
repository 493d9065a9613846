package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// flatYAML is a Git store with a Destination in filepath mode none.
func flatYAML(git *testpeers.GitServer) string {
	return git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: flat, labels: {environment: flat}}
spec: {path: flat, filepath: {mode: none}, stateStoreRef: {kind: GitStateStore, name: repo}}
`
}

func fileWork(name, path string) string {
	return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":%q},
"destinationSelectors":{"environment":"flat"},"files":[{"path":%q,"content":"x: 1\n"}]}`, name, path)
}

// TestKeyConflictIs409: a Work whose file is another Work's directory on the same
// Destination is refused with 409 naming both Works and both paths, through the
// API, a webhook and the dashboard's form alike.
func TestKeyConflictIs409(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	t.Cleanup(h.StopWriters)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	if code, _, body := h.apply(tok, "team-a", flatYAML(git)); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	works := h.URL + "/api/v1/tenants/team-a/works"
	if code, body := api(t, http.MethodPost, works, tok, strings.NewReader(fileWork("r1", "app"))); code != http.StatusAccepted {
		t.Fatalf("first Work: %d %s", code, body)
	}
	code, body := api(t, http.MethodPost, works, tok, strings.NewReader(fileWork("r2", "app/config.yaml")))
	for _, part := range []string{"redis-r1-default-03171", "redis-r2-default-c237c", "gitops/flat/app/config.yaml", `\"gitops/flat/app\"`} {
		if code != http.StatusConflict || !strings.Contains(body, part) {
			t.Errorf("API: %d %s; want 409 naming %s", code, body, part)
		}
	}
	if code, body := api(t, http.MethodPost, works+"?dryRun=true", tok, strings.NewReader(fileWork("r2", "app/config.yaml"))); code != http.StatusConflict {
		t.Errorf("dry run: %d %s, want 409", code, body)
	}
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	if r := post(t, trig.URL, "application/json", fileWork("r3", "app/x.yaml")); r.Code != http.StatusConflict || !strings.Contains(r.Body, "redis-r1-default-03171") {
		t.Errorf("webhook: %d %s, want 409 naming the other Work", r.Code, r.Body)
	}
}

// TestKeyConflictInTheForm: the dashboard's New Work form shows the conflict.
func TestKeyConflictInTheForm(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	t.Cleanup(h.StopWriters)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	if resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {flatYAML(git)}}); resp.StatusCode != 200 {
		t.Fatalf("import: %d %s", resp.StatusCode, snippet(body))
	}
	form := func(name, path string) url.Values {
		return url.Values{"promise": {"redis"}, "resource.namespace": {"default"}, "resource.name": {name},
			"destinationSelectors": {"environment=flat"}, "filePath": {path}, "fileContent": {"x: 1"}}
	}
	if resp, body := b.post(t, h.URL+"/t/team-a/works", form("r1", "app")); resp.StatusCode >= 400 {
		t.Fatalf("first Work: %d %s", resp.StatusCode, snippet(body))
	}
	resp, body := b.post(t, h.URL+"/t/team-a/works", form("r2", "app/config.yaml"))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "redis-r1-default-03171") || !strings.Contains(body, "gitops/flat/app/config.yaml") {
		t.Errorf("form: %d %s; want 409 naming the other Work and the path", resp.StatusCode, snippet(body))
	}
}
