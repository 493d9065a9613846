package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/web"
)

// TestAPIRoutesRefuseUnknownQuery walks every route of the router: each one under
// /api/v1 and /hooks/ refuses a query parameter it does not document with 400
// naming it, before doing anything. A new route without its allow-list fails here.
func TestAPIRoutesRefuseUnknownQuery(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleOwner)
	srv := web.New(web.Deps{Config: h.Cfg, Store: h.DB, Works: h.DB, Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	routes, err := web.Routes(srv)
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[a-z]+\}`)
	checked := 0
	for _, rt := range routes {
		method, pattern := rt[0], rt[1]
		if !strings.HasPrefix(pattern, "/api/v1/") && !strings.HasPrefix(pattern, "/hooks/") {
			continue
		}
		path := strings.Replace(pattern, "{tenant}", "team-a", 1)
		path = param.ReplaceAllString(path, "1")
		checked++
		code, body := api(t, method, h.URL+path+"?x=1", tok, strings.NewReader("{}"))
		var e struct{ Error, Field string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || e.Error != `unknown query parameter "x"` || e.Field != "x" {
			t.Errorf("%s %s?x=1: %d %s, want 400 naming x", method, pattern, code, body)
		}
	}
	if checked < 20 {
		t.Errorf("only %d API routes walked", checked)
	}
}

// TestDocumentedQueryAccepted: the parameters a route documents still work, and a
// typo of one is not silently a real write.
func TestDocumentedQueryAccepted(t *testing.T) {
	h := newHarness(t, nil)
	ten, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	base := h.URL + "/api/v1/tenants/team-a"
	for _, u := range []string{"/works?limit=5&state=failed&q=x&destination=d&before=", "/destinations?labelSelector=env%3Ddev",
		"/audit?limit=5", "/gitstatestores", "/export"} {
		if code, body := api(t, http.MethodGet, base+u, tok, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", u, code, body)
		}
	}
	dest := "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: w}\nspec: {path: w, stateStoreRef: {kind: GitStateStore, name: s}}\n"
	if code, body := api(t, http.MethodPost, base+"/apply?dryrun=true", tok, strings.NewReader(dest)); code != http.StatusBadRequest ||
		!strings.Contains(body, `"field": "dryrun"`) {
		t.Errorf("apply?dryrun=true: %d %s, want 400", code, body)
	}
	if code, body := api(t, http.MethodPost, base+"/apply?dryRun=yes", tok, strings.NewReader(dest)); code != http.StatusUnprocessableEntity ||
		!strings.Contains(body, `"field": "dryRun"`) {
		t.Errorf("apply?dryRun=yes: %d %s, want 422 naming dryRun", code, body)
	}
	if _, err := h.DB.Destination(context.Background(), ten.ID, "w"); err == nil {
		t.Error("a refused request applied the Destination")
	}
	if code, body := api(t, http.MethodPost, base+"/apply?dryRun=true&diff=true&strict=true", tok, strings.NewReader(dest)); code != http.StatusOK {
		t.Errorf("apply?dryRun=true&diff=true&strict=true: %d %s", code, body)
	}
	if code, body := api(t, http.MethodPost, base+"/works?dryRun=true&diff=true", tok,
		strings.NewReader(`{"promise":"p","files":[{"path":"a.yaml","content":"a: 1\n"}]}`)); code != http.StatusOK {
		t.Errorf("works?dryRun=true&diff=true: %d %s", code, body)
	}
}
