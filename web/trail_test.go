package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// trailStore applies a Git store with a commit message template and
// authorFromRequester, and Destination dev on it.
func (h *harness) trailStore(tok string) *testpeers.GitServer {
	h.t.Helper()
	h.t.Cleanup(h.StopWriters)
	git := testpeers.GitHTTP(h.t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	yaml := strings.Replace(git.StoreYAML("bot", "pw"), "path: gitops,", `path: gitops, authorFromRequester: true,
  commitMessage: "{{range .Works}}{{index .Labels \"jira\"}} {{end}}{{.Summary}}",`, 1) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
		h.t.Fatalf("apply: %d %s", code, body)
	}
	return git
}

type trailWork struct {
	Labels        map[string]string
	RequestedBy   string
	CorrelationID string
	Placements    []struct{ Version, State string }
	Versions      []struct {
		Destination, StoreName, Version, URL string
		Generation                           int64
	}
}

// submitWithKey posts body to the API with an Idempotency-Key.
func submitWithKey(t *testing.T, h *harness, tok, body, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", strings.NewReader(body))
	req.Header.Set("Authorization", tok)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWorkTrail: labels and the requester travel from the API and the form to
// the Work (GET …/works/{id}, the Work page), the store's template and
// authorFromRequester round-trip through export, and the Work page lists the
// commit that carried each placement's version.
func TestWorkTrail(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	ctx := context.Background()
	team, err := h.DB.TenantBySlug(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := h.DB.CreateToken(ctx, team.ID, "ci-bot", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + raw
	h.trailStore(tok)

	_, exported := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/export", tok, nil)
	for _, want := range []string{"authorFromRequester: true", `commitMessage: '{{range .Works}}{{index .Labels "jira"}} {{end}}{{.Summary}}'`} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %s:\n%s", want, exported)
		}
	}

	body := `{"promise":"redis","resource":{"namespace":"default","name":"api"},"labels":{"jira":"JIRA-7","team.example.com/cost":"a1"},
"destinationSelectors":{"environment":"dev"},"files":[{"path":"redis.yaml","content":"a: 1\n"}]}`
	code, out := submitWithKey(t, h, tok, body, "deploy-123")
	var ans workAnswer
	if err := json.Unmarshal([]byte(out), &ans); code != 202 || err != nil {
		t.Fatalf("API submit: %d %s", code, out)
	}
	h.waitWritten(tok, "team-a", ans.Work)
	_, out = api(t, http.MethodGet, h.URL+fmt.Sprintf("/api/v1/tenants/team-a/works/%d", ans.Work), tok, nil)
	var w trailWork
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatal(err)
	}
	if w.Labels["jira"] != "JIRA-7" || w.Labels["team.example.com/cost"] != "a1" || w.RequestedBy != "ci-bot" || w.CorrelationID != "deploy-123" {
		t.Errorf("GET work: labels %v, requestedBy %q, correlationId %q; want the submitted labels, ci-bot, deploy-123", w.Labels, w.RequestedBy, w.CorrelationID)
	}
	if len(w.Versions) != 1 || len(w.Placements) != 1 || w.Versions[0].Version != w.Placements[0].Version || w.Versions[0].Destination != "dev" {
		t.Errorf("versions %+v, want the one commit that wrote placement %+v", w.Versions, w.Placements)
	}

	// A webhook: the trigger asked, with the delivery's X-Request-Id.
	trig := h.trigger(tok, "team-a", `{"name": "ci-hook", "requireSignature": false}`)
	r := post(t, trig.URL, "application/json", strings.Replace(body, `"name":"api"`, `"name":"hook"`, 1), "X-Request-Id", "gh-delivery-5")
	var hookAns workAnswer
	if err := json.Unmarshal([]byte(r.Body), &hookAns); r.Code != 202 || err != nil {
		t.Fatalf("webhook: %d %s", r.Code, r.Body)
	}
	_, out = api(t, http.MethodGet, h.URL+fmt.Sprintf("/api/v1/tenants/team-a/works/%d", hookAns.Work), tok, nil)
	var hw trailWork
	if err := json.Unmarshal([]byte(out), &hw); err != nil || hw.RequestedBy != "ci-hook" || hw.CorrelationID != "gh-delivery-5" || hw.Labels["jira"] != "JIRA-7" {
		t.Errorf("webhook Work: %s, want requestedBy ci-hook, correlationId gh-delivery-5 and the labels", out)
	}

	code, out = api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(
		strings.Replace(body, `"jira":"JIRA-7"`, `"jira":"not a value!"`, 1)))
	if code != http.StatusUnprocessableEntity || !strings.Contains(out, `"field": "labels"`) {
		t.Errorf("a bad label: %d %s, want 422 naming labels", code, out)
	}

	// The form: labels in, shown on the Work page with the commit list.
	resp, page := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "resource.namespace": {"default"},
		"resource.name": {"form"}, "destinationSelectors": {"environment=dev"}, "labels": {"jira=JIRA-8"},
		"filePath": {"redis.yaml"}, "fileContent": {"a: 1"}})
	if resp.StatusCode != 200 {
		t.Fatalf("form submit: %d %s", resp.StatusCode, page)
	}
	workURL := b.lastVisited("/t/team-a/works/")
	var id int64
	if _, err := fmt.Sscanf(workURL.Path, "/t/team-a/works/%d", &id); err != nil {
		t.Fatalf("form went to %s", workURL)
	}
	written := h.waitWritten(tok, "team-a", id)
	_, page = b.get(t, h.URL+workURL.Path)
	for _, want := range []string{`data-testid="work-label">jira=JIRA-8<`, `data-testid="work-requested-by">alice@example.com`, `data-testid="work-commit"`,
		`data-testid="work-commit-version">` + written.Placements[0].Version[:12] + "<"} {
		if !strings.Contains(page, want) {
			t.Errorf("Work page lacks %s", want)
		}
	}
	resp, page = b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "resource.namespace": {"default"},
		"resource.name": {"form"}, "destinationSelectors": {"environment=dev"}, "labels": {"jira=no spaces"},
		"filePath": {"redis.yaml"}, "fileContent": {"a: 1"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "label") {
		t.Errorf("a bad label in the form: %d, want 422 with the error", resp.StatusCode)
	}
}

// TestCommitMessageTemplateRefusedAtApply: a template that does not parse, or
// fails on a sample commit, is a 422 naming spec.commitMessage.
func TestCommitMessageTemplateRefusedAtApply(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	for _, tmpl := range []string{`{{.Works`, `{{.NoSuchField}}`, `{{index .Works 5}}`, `{{"  "}}`} {
		yaml := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo}
spec: {url: "https://git.example.com/r.git", authMethod: none, commitMessage: %q}
`, tmpl)
		code, _, body := h.apply(tok, "team-a", yaml)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"field": "spec.commitMessage"`) {
			t.Errorf("template %q: %d %s, want 422 naming spec.commitMessage", tmpl, code, body)
		}
	}
}
