package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestImportNeverEchoesSecrets: a file with a Secret in any YAML or JSON spelling
// is not shown back when a later document is bad; a file without one is.
func TestImportNeverEchoesSecrets(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	bad := "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: w}\nspec: {pathh: x}\n"
	for name, secret := range map[string]string{
		"quoted":       "apiVersion: v1\nkind: \"Secret\"\nmetadata: {name: s}\nstringData: {password: hunter2-PW}\n",
		"two spaces":   "apiVersion: v1\nkind:  Secret\nmetadata: {name: s}\nstringData: {password: hunter2-PW}\n",
		"tab":          "apiVersion: v1\nkind:\tSecret\nmetadata: {name: s}\nstringData: {password: hunter2-PW}\n",
		"single quote": "apiVersion: v1\nkind: 'Secret'\nmetadata: {name: s}\nstringData: {password: hunter2-PW}\n",
		"json":         `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2-PW"}}` + "\n",
		"flow":         "{apiVersion: v1, kind: Secret, metadata: {name: s}, stringData: {password: hunter2-PW}}\n",
	} {
		resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {secret + bad}})
		if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(body, "hunter2-PW") {
			t.Errorf("%s: %d, the page shows the password: %v", name, resp.StatusCode, strings.Contains(body, "hunter2-PW"))
		}
	}
	resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {"# no secret here\n" + bad}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "no secret here") {
		t.Errorf("a file without a Secret is shown again for fixing: %d", resp.StatusCode)
	}
}
