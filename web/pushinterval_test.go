package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestGitStorePushInterval: spec.pushInterval is an optional field of the store
// form (its placeholder the default), shown on the store page, refused with the
// field named when out of range, and round-tripped by apply, the API and export.
func TestGitStorePushInterval(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	repo := testpeers.GitHTTP(t, testpeers.GitOptions{})

	_, body := b.get(t, h.URL+"/t/team-a/stores/new")
	if !strings.Contains(body, `name="spec.pushInterval"`) || !strings.Contains(body, `placeholder="1s"`) {
		t.Errorf("the new store form lacks the push interval field with its default as placeholder: %s", snippet(body))
	}
	form := url.Values{"metadata.name": {"paced"}, "spec.url": {repo.URL()}, "spec.branch": {"main"}, "spec.insecure": {"true"},
		"spec.authMethod": {"none"}, "spec.pushInterval": {"11m"}}
	resp, body := b.post(t, h.URL+"/t/team-a/stores/git", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at most 10m0s") {
		t.Errorf("interval 11m: %d %s, want 422 naming the limit", resp.StatusCode, snippet(body))
	}
	form.Set("spec.pushInterval", "30s")
	resp, body = b.post(t, h.URL+"/t/team-a/stores/git", form)
	if resp.StatusCode != 200 || !strings.Contains(body, `data-testid="push-interval">30s<`) {
		t.Fatalf("create with interval 30s: %d %s", resp.StatusCode, snippet(body))
	}
	ctx := context.Background()
	ten, err := h.DB.TenantBySlug(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := h.DB.GitStore(ctx, ten.ID, "paced"); err != nil || s.PushInterval != "30s" {
		t.Errorf("stored interval %q, %v", s.PushInterval, err)
	}
	form.Set("spec.pushInterval", "")
	form.Set("metadata.name", "plain")
	_, body = b.post(t, h.URL+"/t/team-a/stores/git", form)
	if !strings.Contains(body, `data-testid="push-interval">1s (default)<`) {
		t.Errorf("a store without an interval does not show the default: %s", snippet(body))
	}

	_, tok := h.tenantWithToken("team-b", tenants.RoleEditor)
	yaml := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: gh}\n" +
		"spec: {url: '" + repo.URL() + "', insecure: true, branch: main, authMethod: none, pushInterval: %s}\n"
	apiB := func(method, path, body string) (int, string) {
		return api(t, method, h.URL+"/api/v1/tenants/team-b"+path, tok, strings.NewReader(body))
	}
	if code, out := apiB("POST", "/apply", strings.Replace(yaml, "%s", "-1s", 1)); code != http.StatusUnprocessableEntity ||
		!strings.Contains(out, `"spec.pushInterval"`) {
		t.Errorf("apply with a negative interval: %d %s", code, out)
	}
	if code, out := apiB("POST", "/apply", strings.Replace(yaml, "%s", "45s", 1)); code != 200 {
		t.Fatalf("apply: %d %s", code, out)
	}
	if code, out := apiB("GET", "/gitstatestores/gh", ""); code != 200 || !strings.Contains(out, `"pushInterval": "45s"`) {
		t.Errorf("GET store: %d %s", code, out)
	}
	if code, out := apiB("GET", "/export", ""); code != 200 || !strings.Contains(out, "pushInterval: 45s") {
		t.Errorf("export: %d %s", code, out)
	}
	if code, out := apiB("POST", "/apply", strings.Replace(yaml, "%s", "45s", 1)); code != 200 || !strings.Contains(out, `"unchanged"`) {
		t.Errorf("apply again: %d %s, want unchanged", code, out)
	}
}
