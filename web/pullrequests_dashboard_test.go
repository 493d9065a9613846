package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// prForm is the Git store form of a pull-request store on gh.
func prForm(gh *testpeers.GitHubAPI, secret string) url.Values {
	return url.Values{"metadata.name": {"gitops"}, "spec.url": {gh.RepoURL()}, "spec.branch": {"main"},
		"spec.authMethod": {tenants.AuthBasic}, "username": {"x-access-token"}, "password": {gh.Token()}, "spec.insecure": {"true"},
		"spec.pullRequest.provider": {tenants.ProviderGitHub}, "spec.pullRequest.apiURL": {gh.APIURL()},
		"spec.pullRequest.headBranch": {""}, "spec.pullRequest.merge": {tenants.MergeManual},
		"spec.pullRequest.labels": {" gitops, stateward ,gitops"}, "webhookSecret": {secret}}
}

// placementState polls the Work's placements until one is in state, and
// returns that placement's pull request.
func (h *harness) prPlacement(t *testing.T, tok string, id int64, state string) tenants.PlacementPR {
	t.Helper()
	var pr tenants.PlacementPR
	testpeers.WaitFor(t, 45*time.Second, func() (bool, string) {
		code, body := api(t, http.MethodGet, fmt.Sprintf("%s/api/v1/tenants/team-a/works/%d", h.URL, id), tok, nil)
		var v tenants.WorkView
		if code == http.StatusOK && json.Unmarshal([]byte(body), &v) == nil && len(v.Placements) == 1 {
			pl := v.Placements[0]
			if pl.State == state && pl.PullRequest != nil && pl.PullRequest.Number != 0 {
				pr = *pl.PullRequest
				return true, ""
			}
		}
		return false, fmt.Sprintf("Work %d: no placement %s with its pull request; last answer: %s", id, state, snippet(body))
	})
	return pr
}

// TestPullRequestStoreOnTheDashboard: a pull-request store made with the
// dashboard's form exports its spec.pullRequest exactly; an edit with the
// webhook secret left blank keeps it; a Work written to it (through a local
// GitHub in front of a real repository) shows proposed with its pull request
// on the Work page, the store page shows the pull request, the counts and the
// webhook URL, the Overview lists the pull request awaiting review; closed
// unmerged, the placement shows rejected everywhere.
func TestPullRequestStoreOnTheDashboard(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	tok := h.token("team-a", tenants.RoleEditor)
	gh := testpeers.GitHubRepo(t, testpeers.GitHTTP(t, testpeers.GitOptions{}), testpeers.GitHubAPIOptions{})
	t.Cleanup(h.StopWriters) // before the host closes: nothing calls it after

	// Inline validation answers for the new fields, and a failed submit shows
	// each problem next to its field.
	bad := prForm(gh, "s3cret")
	bad.Set("spec.pullRequest.headBranch", "main")
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/t/team-a/stores/git/validate", strings.NewReader(bad.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Trigger-Name", "spec.pullRequest.headBranch")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frag := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(frag, "must differ from spec.branch") {
		t.Errorf("inline validation of headBranch: %d %s", resp.StatusCode, frag)
	}
	bad.Set("spec.pullRequest.labels", "ok, "+strings.Repeat("x", 51))
	resp, page := b.post(t, h.URL+"/t/team-a/stores/git", bad)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid pull-request store: %d, want 422", resp.StatusCode)
	}
	for field, msg := range map[string]string{"spec.pullRequest.headBranch": "must differ from spec.branch",
		"spec.pullRequest.labels": "a label is at most 50 characters"} {
		if f := fieldOf(page, field); !strings.Contains(html.UnescapeString(f), msg) {
			t.Errorf("field %s: want %q next to it, got %s", field, msg, snippet(f))
		}
	}
	if !strings.Contains(fieldOf(page, "webhookSecret"), "type it again") {
		t.Errorf("the typed webhook secret is not asked for again: %s", snippet(fieldOf(page, "webhookSecret")))
	}

	// Created with the form: the API shows spec.pullRequest as entered (trimmed,
	// labels once each, merge filled in).
	if resp, page := b.post(t, h.URL+"/t/team-a/stores/git", prForm(gh, "s3cret")); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page, `data-testid="store-pr"`) {
		t.Fatalf("create pull-request store: %d %s", resp.StatusCode, snippet(page))
	}
	want := map[string]any{"provider": "github", "apiURL": gh.APIURL(), "merge": "manual", "labels": []any{"gitops", "stateward"}}
	storeJSON := func() (map[string]any, map[string]any) {
		code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/gitstatestores/gitops", tok, nil)
		var obj struct {
			Spec   map[string]any
			Status map[string]any
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &obj) != nil {
			t.Fatalf("GET gitstatestores/gitops: %d %s", code, body)
		}
		return obj.Spec, obj.Status
	}
	spec, status := storeJSON()
	if !reflect.DeepEqual(spec["pullRequest"], want) {
		t.Errorf("spec.pullRequest = %#v, want %#v", spec["pullRequest"], want)
	}
	hookURL, _ := status["webhookURL"].(string)
	if !strings.HasPrefix(hookURL, h.URL+"/hooks/git/") {
		t.Errorf("status.webhookURL = %q, want one under %s/hooks/git/", hookURL, h.URL)
	}
	_, exported := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/export", tok, nil)
	if !strings.Contains(exported, "pullRequest:") || !strings.Contains(exported, "apiURL: "+gh.APIURL()) {
		t.Errorf("export lacks the pull request spec:\n%s", exported)
	}

	// Edited with the webhook secret blank: kept; the merge policy changes.
	edit := prForm(gh, "")
	edit.Set("password", "")
	edit.Set("spec.pullRequest.merge", tenants.MergeAuto)
	if resp, page := b.post(t, h.URL+"/t/team-a/stores/git/gitops", edit); resp.StatusCode != http.StatusOK {
		t.Fatalf("edit: %d %s", resp.StatusCode, snippet(page))
	}
	g, err := h.DB.GitStore(t.Context(), h.tenantID("team-a"), "gitops")
	if err != nil {
		t.Fatal(err)
	}
	if g.Credentials.WebhookSecret != "s3cret" || g.Credentials.Password != gh.Token() || g.PullRequest.Merge != tenants.MergeAuto {
		t.Errorf("after an edit with blank secrets: webhookSecret %q, password kept %v, merge %q; want s3cret, true, auto",
			g.Credentials.WebhookSecret, g.Credentials.Password == gh.Token(), g.PullRequest.Merge)
	}
	edit.Set("spec.pullRequest.merge", tenants.MergeManual) // a person merges below
	if resp, _ := b.post(t, h.URL+"/t/team-a/stores/git/gitops", edit); resp.StatusCode != http.StatusOK {
		t.Fatalf("edit back to manual: %d", resp.StatusCode)
	}

	// A Work on it is proposed, in pull request #n.
	if code, _, body := h.apply(tok, "team-a", `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: stage
  labels:
    environment: stage
spec:
  path: stage
  stateStoreRef:
    kind: GitStateStore
    name: gitops
`); code != http.StatusOK {
		t.Fatalf("apply destination: %d %s", code, body)
	}
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(workBody("stage", "my-request", "kind: ConfigMap\n")))
	var w workAnswer
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &w) != nil {
		t.Fatalf("submit: %d %s", code, body)
	}
	pr := h.prPlacement(t, tok, w.Work, tenants.StateProposed)

	_, workPage := b.get(t, fmt.Sprintf("%s/t/team-a/works/%d", h.URL, w.Work))
	_, frag = b.get(t, fmt.Sprintf("%s/t/team-a/works/%d/placements", h.URL, w.Work))
	for name, page := range map[string]string{"Work page": workPage, "placements fragment": frag} {
		if !strings.Contains(page, fmt.Sprintf(`href="%s" data-testid="placement-pr">PR #%d</a>`, pr.URL, pr.Number)) ||
			!strings.Contains(page, "◷</span> proposed") {
			t.Errorf("%s lacks the proposed placement and its PR #%d link: %s", name, pr.Number, snippet(page))
		}
	}
	_, storePage := b.get(t, h.URL+"/t/team-a/stores/git/gitops")
	for _, want := range []string{fmt.Sprintf(`<a href="%s" data-testid="pr-link">#%d</a>`, pr.URL, pr.Number),
		`<span class="mono">stateward/gitops</span> → <span class="mono">main</span>`, "1 proposed",
		`data-copy="` + hookURL + `"`} {
		if !strings.Contains(storePage, want) {
			t.Errorf("store page lacks %q", want)
		}
	}
	_, overview := b.get(t, h.URL+"/t/team-a/")
	line := fmt.Sprintf(`<a href="%s" data-testid="attention-pr-link">pull request #%d</a>`, pr.URL, pr.Number)
	if !strings.Contains(overview, line) || !strings.Contains(overview, "awaits review — 1 placement proposed") ||
		!strings.Contains(overview, `href="/t/team-a/stores/git/gitops"`) {
		t.Errorf("Overview lacks the pull request awaiting review: %s", snippet(overview[strings.Index(overview, "Needs attention"):]))
	}

	// Closed unmerged: rejected, with who closed it, on every page.
	gh.Close(t, pr.Number, "ada")
	h.prPlacement(t, tok, w.Work, tenants.StateRejected)
	_, frag = b.get(t, fmt.Sprintf("%s/t/team-a/works/%d/placements", h.URL, w.Work))
	if !strings.Contains(frag, "✗</span> rejected") || !strings.Contains(frag, "closed without merging by ada") {
		t.Errorf("placements fragment lacks the rejected placement and its error: %s", snippet(frag))
	}
	_, overview = b.get(t, h.URL+"/t/team-a/")
	if !strings.Contains(overview, `<a href="/t/team-a/works?state=rejected">1 placement rejected</a>`) ||
		strings.Contains(overview, `data-testid="attention-pr"`) {
		t.Errorf("Overview after the close: want the rejected count and no open pull request")
	}
	_, list := b.get(t, h.URL+"/t/team-a/works?state=rejected")
	if !strings.Contains(list, `data-testid="work-rejected">✗ 1 rejected</span>`) {
		t.Errorf("Works list ?state=rejected lacks the Work: %s", snippet(list))
	}
	_, list = b.get(t, h.URL+"/t/team-a/works?state=proposed")
	if strings.Contains(list, `data-testid="work"`) {
		t.Errorf("Works list ?state=proposed still lists the Work")
	}
}

// fieldOf is the rendered wrapper of one form field.
func fieldOf(page, name string) string {
	start := strings.Index(page, `data-testid="field-`+name+`"`)
	if start < 0 {
		return ""
	}
	rest := page[start:]
	if next := strings.Index(rest[1:], `<div class="field field-`); next >= 0 {
		return rest[:next+1]
	}
	return rest
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
