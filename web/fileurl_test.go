package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestFileURLRefusedOutsideTheLocalDefault: a file:// Git store reaches the server's
// own disk, so a shared deployment (AllowFileURLs unset) refuses it at apply time and
// in the form, naming the field.
func TestFileURLRefusedOutsideTheLocalDefault(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	doc := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: r}\nspec: {url: \"file:///srv/r.git\", authMethod: none}\n"
	code, a, body := h.apply(tok, "team-a", doc)
	if code != http.StatusUnprocessableEntity || len(a.Errors) != 1 || a.Errors[0].Field != "spec.url" ||
		!strings.Contains(a.Errors[0].Message, "only allowed in the local default") {
		t.Errorf("apply of a file:// store: %d %s", code, body)
	}

	b := newBrowser(t)
	h.login(b, "owner@example.com")
	b.post(t, h.URL+"/teams", url.Values{"slug": {"files"}, "name": {"Files"}})
	_, page := b.post(t, h.URL+"/t/files/stores/git", url.Values{"metadata.name": {"r"}, "spec.url": {"file:///srv/r.git"}, "spec.authMethod": {"none"}, "spec.branch": {"main"}})
	if !strings.Contains(page, "only allowed in the local default") {
		t.Errorf("the Git store form accepted a file:// URL:\n%.2000s", page)
	}
}
