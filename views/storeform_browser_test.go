package views

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/static"
	"github.com/stateward/stateward/testpeers"
)

// TestGitStoreFormShowsTheChosenAuthFields: in a real browser, without
// JavaScript of ours, choosing githubApp shows the GitHub App fields and hides
// basic auth and SSH; choosing basicAuth hides the GitHub App fields again.
// Commit signing is there for every method.
func TestGitStoreFormShowsTheChosenAuthFields(t *testing.T) {
	s := shell("editor", "stores")
	s.CSS = "/static/app.css"
	page := render(t, GitStoreFormPage(s, GitStoreFormProps{}))
	mux := http.NewServeMux()
	mux.Handle(static.Prefix, http.StripPrefix(static.Prefix, static.Handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := testpeers.Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	shown := func(name string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`(() => { const e = document.querySelector('[name="`+name+`"]'); return !!e && e.closest('fieldset').checkVisibility(); })()`))
		if err != nil {
			t.Fatalf("visibility of %s: %v", name, err)
		}
		return v
	}
	choose := func(method string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`(() => { const s = document.querySelector('select[name="spec.authMethod"]'); s.value = "`+method+`"; return true; })()`)); err != nil {
			t.Fatalf("choose %s: %v", method, err)
		}
	}
	for _, tc := range []struct {
		method string
		want   map[string]bool
	}{
		{"githubApp", map[string]bool{"appID": true, "privateKey": true, "spec.githubAPIURL": true, "password": false, "sshPrivateKey": false, "signingKey": true}},
		{"basicAuth", map[string]bool{"appID": false, "password": true, "sshPrivateKey": false, "signingKey": true}},
		{"none", map[string]bool{"appID": false, "password": false, "signingKey": true}},
		{"ssh", map[string]bool{"appID": false, "password": false, "sshPrivateKey": true, "signingKey": true}},
	} {
		choose(tc.method)
		for name, want := range tc.want {
			if got := shown(name); got != want {
				t.Errorf("authMethod %s: field %s shown = %v, want %v", tc.method, name, got, want)
			}
		}
	}
}
