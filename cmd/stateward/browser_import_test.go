package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// TestBrowserImportPreview: on the Import page, Preview shows what each document
// would do, the warnings and the fields that would change, and imports nothing;
// Import then applies it.
func TestBrowserImportPreview(t *testing.T) {
	in := start(t)
	ctx := testpeers.Browser(t)
	signIn(t, ctx, in.URL, "dev@example.com")
	createTeam(t, ctx, "platform", "Platform")
	tok, err := in.cli(t, "token", "create", "--tenant", "platform")
	if err != nil {
		t.Fatal(err)
	}
	yaml := `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: default}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: redis}
spec: {}
`
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/import"),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name="yaml"]`)),
		chromedp.SetValue(chromedp.CSS(`textarea[name="yaml"]`), yaml),
		chromedp.Click(chromedp.CSS(`[data-testid="import-preview-button"]`))); err != nil {
		t.Fatal(err)
	}
	got := waitText(t, ctx, `[data-testid="import-preview"]`, "Promise `redis` skipped")
	for _, want := range []string{"nothing has been imported yet", "created", "skipped", "spec.path", "dev",
		`referenced GitStateStore "default" does not exist yet`} {
		if !strings.Contains(got, want) {
			t.Errorf("preview lacks %q:\n%s", want, got)
		}
	}
	shot(t, ctx, "import-preview")
	destination := func() int {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/api/v1/tenants/platform/destinations/worker-1", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := destination(); code != http.StatusNotFound {
		t.Fatalf("after the preview, worker-1 answers %d, want 404: the preview imported it", code)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="import-form"] button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `[data-testid="import-results"]`, "Imported")
	if code := destination(); code != http.StatusOK {
		t.Errorf("after Import, worker-1 answers %d, want 200", code)
	}
}
