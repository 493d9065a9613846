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
// Commit signing is there for every method. The pull-request settings show
// only once a provider is chosen.
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
	pick := func(sel, value string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`(() => { const s = document.querySelector('select[name="`+sel+`"]'); s.value = "`+value+`"; return true; })()`)); err != nil {
			t.Fatalf("choose %s %s: %v", sel, value, err)
		}
	}
	choose := func(method string) { t.Helper(); pick("spec.authMethod", method) }
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
	// The pull-request settings show only with a provider.
	for _, tc := range []struct {
		provider string
		shown    bool
	}{{"none", false}, {"github", true}, {"gitea", true}, {"none", false}} {
		pick("spec.pullRequest.provider", tc.provider)
		for _, name := range []string{"spec.pullRequest.apiURL", "spec.pullRequest.headBranch", "webhookSecret"} {
			if got := shown(name); got != tc.shown {
				t.Errorf("provider %s: field %s shown = %v, want %v", tc.provider, name, got, tc.shown)
			}
		}
		if !shown("spec.pullRequest.provider") {
			t.Errorf("provider %s: the provider select is hidden", tc.provider)
		}
	}
}
