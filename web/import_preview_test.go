package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestImportPreviewChangesNothing: the Import page's Preview answers the fragment
// with what each document would do and which fields would change — a Secret's
// only as "changed", never its value — and imports nothing.
func TestImportPreviewChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	t.Cleanup(h.StopWriters)
	store := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://git.example.com/r.git', secretRef: {name: git}}\n---\n"
	secret := func(pw string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: git}\nstringData: {username: bot, password: " + pw + "}\n"
	}
	if resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {store + secret("old-value-1")}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %s", resp.StatusCode, snippet(body))
	}
	dest := "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: worker-1}\nspec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}\n"
	resp, body := b.post(t, h.URL+"/t/team-a/import/preview", url.Values{"yaml": {store + secret("new-value-2") + dest}})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(body), `<div id="import-preview"`) {
		t.Fatalf("preview: %d %s", resp.StatusCode, snippet(body))
	}
	for _, want := range []string{"nothing has been imported yet", "data[password]", "secret value changed", "credentials[password]", "spec.path"} {
		if !strings.Contains(body, want) {
			t.Errorf("preview lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, "value-1") || strings.Contains(body, "value-2") {
		t.Errorf("the preview shows a secret value: %s", body)
	}
	team, _ := h.DB.TenantBySlug(context.Background(), "team-a")
	if _, err := h.DB.Destination(context.Background(), team.ID, "worker-1"); err == nil {
		t.Error("the preview imported worker-1")
	}
	if data, _, _ := h.DB.Secret(context.Background(), team.ID, "git"); data["password"] != "old-value-1" {
		t.Errorf("the preview changed the Secret: password %q", data["password"])
	}
}
