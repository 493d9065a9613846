package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestWaitingWorkStandsOut: a Work placed nowhere is not reported as accepted and
// being written; it is marked on the list, listed under the Overview's Needs
// attention and found by the list's "waiting" filter, in the dashboard and the API.
func TestWaitingWorkStandsOut(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	resp, page := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "resource.namespace": {"default"},
		"resource.name": {"lost"}, "destinationSelectors": {"env=prod"}, "filePath": {"a.yaml"}, "fileContent": {"a: b"}})
	if resp.StatusCode != 200 || !strings.Contains(page, "flash-error") || !strings.Contains(page, "not written anywhere") ||
		strings.Contains(page, "writing it now") {
		t.Errorf("the form's answer for a Work placed nowhere: %d %s", resp.StatusCode, snippet(page))
	}
	if !strings.Contains(page, `data-testid="unscheduled"`) || !strings.Contains(page, "Waiting — not written anywhere") {
		t.Errorf("the Work page does not lead with the waiting box: %s", snippet(page))
	}
	_, list := b.get(t, h.URL+"/t/team-a/works")
	if !strings.Contains(list, `data-testid="work-waiting"`) || !strings.Contains(list, "placed nowhere") {
		t.Errorf("the Works list does not mark the waiting Work: %s", snippet(list))
	}
	_, overview := b.get(t, h.URL+"/t/team-a/")
	if !strings.Contains(overview, `data-testid="attention-waiting"`) || !strings.Contains(overview, "redis-lost-default-") {
		t.Errorf("the Overview does not list the waiting Work: %s", snippet(overview))
	}
	_, filtered := b.get(t, h.URL+"/t/team-a/works?state=waiting&q=lost")
	if !strings.Contains(filtered, "redis-lost-default-") || !strings.Contains(filtered, "1 Work match") {
		t.Errorf("filter waiting+lost: %s", snippet(filtered))
	}
	_, none := b.get(t, h.URL+"/t/team-a/works?state=failed")
	if strings.Contains(none, "redis-lost-default-") || !strings.Contains(none, "0 Works match") {
		t.Errorf("filter failed shows the waiting Work: %s", snippet(none))
	}
	if resp, body := b.get(t, h.URL+"/t/team-a/works?state=asleep"); resp.StatusCode != 422 || !strings.Contains(body, "state") {
		t.Errorf("unknown state filter: %d %s", resp.StatusCode, snippet(body))
	}
}

func TestAPIWorksListFiltersAndPages(t *testing.T) {
	h := newHarness(t, nil)
	ten, tok := h.tenantWithToken("team-a", tenants.RoleViewer)
	_, raw, err := h.DB.CreateToken(context.Background(), ten.ID, "editor", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	edit := "Bearer " + raw
	for _, name := range []string{"one", "two", "three"} {
		body := `{"promise": "redis", "resource": {"namespace": "default", "name": "` + name + `"},
			"destinationSelectors": {"env": "dev"}, "files": [{"path": "a.yaml", "content": "a: b\n"}]}`
		if code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", edit, strings.NewReader(body)); code != 202 {
			t.Fatalf("submit %s: %d %s", name, code, out)
		}
	}
	var page struct {
		Items []struct{ Name string }
		Total int
		Next  string
	}
	get := func(query string) {
		t.Helper()
		code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works"+query, tok, nil)
		page.Items, page.Next = nil, ""
		if err := json.Unmarshal([]byte(out), &page); code != 200 || err != nil {
			t.Fatalf("GET works%s: %d %s", query, code, out)
		}
	}
	get("")
	if len(page.Items) != 3 || page.Total != 3 || page.Next != "" {
		t.Errorf("all: %+v, want 3 items and no next page", page)
	}
	get("?limit=2")
	if len(page.Items) != 2 || page.Next == "" || !strings.HasPrefix(page.Items[0].Name, "redis-three-default-") {
		t.Fatalf("page 1: %+v", page)
	}
	get("?limit=2&before=" + url.QueryEscape(page.Next))
	if len(page.Items) != 1 || !strings.HasPrefix(page.Items[0].Name, "redis-one-default-") || page.Next != "" {
		t.Errorf("page 2: %+v", page)
	}
	get("?q=tw&state=waiting")
	if len(page.Items) != 1 || !strings.HasPrefix(page.Items[0].Name, "redis-two-default-") {
		t.Errorf("search two, waiting: %+v", page)
	}
	if code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?limit=0", tok, nil); code != 422 || !strings.Contains(out, `"field": "limit"`) {
		t.Errorf("limit=0: %d %s", code, out)
	}
}

// TestWorksSearchTooLongIs422: any viewer's over-long search (or one of too many
// words) is invalid input naming q and the limit, in the API and on the dashboard;
// it answered 500 (SQLite's LIKE pattern and expression depth limits).
func TestWorksSearchTooLongIs422(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	if resp, page := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "resource.namespace": {"default"},
		"resource.name": {"one"}, "filePath": {"a.yaml"}, "fileContent": {"a: b"}}); resp.StatusCode != 200 {
		t.Fatalf("submit a Work: %d %s", resp.StatusCode, snippet(page))
	}
	ten, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := h.DB.CreateToken(context.Background(), ten.ID, "viewer", tenants.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + raw
	// The search box refuses longer input before it is sent.
	if _, page := b.get(t, h.URL+"/t/team-a/works"); !strings.Contains(page, fmt.Sprintf(`name="q" value="" placeholder="promise, namespace or name" maxlength="%d"`, db.MaxSearch)) {
		t.Errorf("the Works search box has no maxlength %d: %s", db.MaxSearch, snippet(page))
	}
	for name, tc := range map[string]struct{ q, limit string }{
		"long":  {strings.Repeat("a", 60_000), "at most 1000 characters"},
		"words": {strings.Repeat("a ", 500), "at most 20 words"},
	} {
		code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?q="+url.QueryEscape(tc.q), tok, nil)
		if code != 422 || !strings.Contains(out, `"field": "q"`) || !strings.Contains(out, tc.limit) {
			t.Errorf("%s: API GET works?q=…: %d %s", name, code, snippet(out))
		}
		resp, page := b.get(t, h.URL+"/t/team-a/works?q="+url.QueryEscape(tc.q))
		if resp.StatusCode != 422 || !strings.Contains(page, tc.limit) {
			t.Errorf("%s: dashboard works?q=…: %d %s", name, resp.StatusCode, snippet(page))
		}
	}
}
