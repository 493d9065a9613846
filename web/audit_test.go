package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

type auditAnswer struct {
	Items []struct {
		Actor  struct{ Kind, Name string }
		Action string
		Object struct {
			Kind string
			ID   int64
			Name string
		}
		Detail string
	}
	Next string
}

func getAudit(t *testing.T, h *harness, tenant, tok, query string) auditAnswer {
	t.Helper()
	code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/audit"+query, tok, nil)
	var a auditAnswer
	if err := json.Unmarshal([]byte(out), &a); code != 200 || err != nil {
		t.Fatalf("GET audit%s: %d %s", query, code, out)
	}
	return a
}

// TestWhoWroteAWork: the same Work written by a person (the form), an API token
// and a trigger keeps each write, with who made it, on the Work's page and in the
// tenant's audit log (newest first, paginated with ?before), which another tenant
// cannot read.
func TestWhoWroteAWork(t *testing.T) {
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

	resp, _ := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "resource.namespace": {"default"},
		"resource.name": {"cache"}, "destinationSelectors": {"environment=dev"}, "filePath": {"redis.yaml"}, "fileContent": {"a: 1"}})
	if resp.StatusCode != 200 {
		t.Fatalf("form submit: %d", resp.StatusCode)
	}
	if code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(workBody("dev", "cache", "a: 2\n"))); code != 202 {
		t.Fatalf("API submit: %d %s", code, out)
	}
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	if r := post(t, trig.URL, "application/json", workBody("dev", "cache", "a: 3\n")); r.Code != 202 {
		t.Fatalf("webhook: %d %s", r.Code, r.Body)
	}
	var ans struct{ Work int64 }
	r := post(t, trig.URL, "application/json", workBody("dev", "cache", "a: 3\n"))
	_ = json.Unmarshal([]byte(r.Body), &ans)

	history := getAudit(t, h, "team-a", tok, "?kind=Work&id="+itoa64(ans.Work))
	var who []string
	for _, ev := range history.Items {
		who = append(who, ev.Actor.Kind+" "+ev.Actor.Name+" "+ev.Action)
	}
	want := []string{"trigger ci write", "trigger ci write", "token ci-bot write", "person alice@example.com write"}
	if strings.Join(who, "|") != strings.Join(want, "|") {
		t.Errorf("history of the Work = %q, want %q", who, want)
	}

	_, page := b.get(t, h.URL+"/t/team-a/works/"+itoa64(ans.Work))
	hist := page[strings.Index(page, `data-testid="work-history"`):]
	for _, s := range []string{"alice@example.com", "ci-bot", ">ci</a>", "API token", "person"} {
		if !strings.Contains(hist, s) {
			t.Errorf("the Work page's history lacks %q", s)
		}
	}
	if !strings.Contains(page, "trigger ci") || strings.Contains(page, "the dashboard or the API") {
		t.Errorf("last written by: %s", snippet(page[strings.Index(page, "Last written by"):]))
	}

	// The tenant's log, two at a time, newest first, down to the team's creation.
	var all []string
	q := "?limit=2"
	for range 10 {
		a := getAudit(t, h, "team-a", tok, q)
		if len(a.Items) > 2 {
			t.Fatalf("page of %d items with limit=2", len(a.Items))
		}
		for _, ev := range a.Items {
			all = append(all, ev.Action+" "+ev.Object.Kind+" "+ev.Object.Name)
		}
		if a.Next == "" {
			break
		}
		q = "?limit=2&before=" + a.Next
	}
	cache := (&tenants.Work{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "cache"}}).Name()
	wantAll := []string{"write Work " + cache, "write Work " + cache, "create Trigger ci",
		"write Work " + cache, "write Work " + cache, "create Team team-a"}
	if strings.Join(all, "|") != strings.Join(wantAll, "|") {
		t.Errorf("audit log = %q\nwant %q", all, wantAll)
	}
	_, auditPage := b.get(t, h.URL+"/t/team-a/audit")
	if strings.Count(auditPage, `data-testid="audit-event"`) != 6 || !strings.Contains(auditPage, "Audit log") {
		t.Errorf("the audit page: %s", snippet(auditPage))
	}

	// Another tenant sees none of it.
	_, other := h.tenantWithToken("team-b", tenants.RoleOwner)
	if a := getAudit(t, h, "team-b", other, ""); len(a.Items) != 0 {
		t.Errorf("team-b reads %d events of team-a", len(a.Items))
	}
	if code, _ := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/audit", other, nil); code != http.StatusNotFound {
		t.Errorf("team-b's token on team-a's audit: %d, want 404", code)
	}
	if code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/audit?before=x", tok, nil); code != 422 || !strings.Contains(out, "before") {
		t.Errorf("bad cursor: %d %s", code, out)
	}

	// Deleting the Work by its id is on its history too; another tenant's token
	// finds no Work to delete.
	if code, out := api(t, http.MethodDelete, h.URL+"/api/v1/tenants/team-a/works/"+itoa64(ans.Work), other, nil); code != http.StatusNotFound {
		t.Errorf("team-b's token deleting team-a's Work: %d %s, want 404", code, out)
	}
	if code, out := api(t, http.MethodDelete, h.URL+"/api/v1/tenants/team-a/works/"+itoa64(ans.Work), tok, nil); code != 202 {
		t.Fatalf("DELETE the Work: %d %s", code, out)
	}
	if ev := getAudit(t, h, "team-a", tok, "?kind=Work&id="+itoa64(ans.Work)).Items[0]; ev.Actor.Name+" "+ev.Action+" "+ev.Object.Name != "ci-bot delete "+cache {
		t.Errorf("newest event of the Work = %+v, want ci-bot delete %s", ev, cache)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
