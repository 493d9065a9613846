package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormValidationSpeaksTheFormsLanguage: a failed Destination form names its
// problems with the form's labels in sentences, never API paths or regular
// expressions; a missing store reference is one problem; a bad label value is
// reported next to a bad key; the bad inputs are marked.
func TestFormValidationSpeaksTheFormsLanguage(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	resp, page := b.post(t, h.URL+"/t/team-a/destinations", url.Values{
		"metadata.name": {"Bad_Name"}, "spec.path": {"dev"}, "spec.stateStoreRef": {""},
		"labelKey": {"bad key!"}, "labelValue": {"bad value!"},
	})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	summary := page[strings.Index(page, `data-testid="error-summary"`):]
	summary = summary[:strings.Index(summary, "</div>")]
	for _, want := range []string{
		`&#34;Bad_Name&#34; is not a valid name: use lower-case letters, digits, &#39;-&#39; and &#39;.&#39;; start and end with a letter or digit`,
		"State Store is required",
		`label key &#34;bad key!&#34;`,
		`label &#34;bad key!&#34; value &#34;bad value!&#34;`,
		`href="#f-metadata-name"`, `href="#label-rows"`,
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %s:\n%s", want, summary)
		}
	}
	for _, bad := range []string{"metadata.name", "spec.stateStoreRef", "regex", "[a-z0-9]"} {
		if strings.Contains(summary, bad) {
			t.Errorf("summary shows %q:\n%s", bad, summary)
		}
	}
	if n := strings.Count(summary, "<li>"); n != 4 {
		t.Errorf("summary has %d problems, want 4 (name, store, label key, label value):\n%s", n, summary)
	}
	for _, want := range []string{
		`name="labelKey" value="bad key!" class="mono bad" aria-label="Label key" aria-invalid="true"`,
		`name="labelValue" value="bad value!" class="mono bad" aria-label="Label value" aria-invalid="true"`,
		`class="field field-text invalid" data-testid="field-metadata.name"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the marked input %s", want)
		}
	}
	// The Git store form: "Name is required", not "metadata.name: is required".
	_, git := b.post(t, h.URL+"/t/team-a/stores/git", url.Values{"spec.url": {"https://example.com/r.git"}, "spec.authMethod": {"none"}})
	if !strings.Contains(git, "Name is required") || strings.Contains(git, "metadata.name:") || strings.Contains(git, ">metadata.name<") {
		t.Errorf("git form without a name: %s", snippet(git))
	}
}

// TestStoreFormAsksForThePasswordAgain: after a validation error the password field
// comes back empty (secrets are never sent to the browser) and says so, instead of
// silently dropping what was typed.
func TestStoreFormAsksForThePasswordAgain(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	_, page := b.post(t, h.URL+"/t/team-a/stores/git", url.Values{"metadata.name": {"Bad_Name"},
		"spec.url": {"https://example.com/r.git"}, "spec.authMethod": {"basicAuth"}, "password": {"s3cret-token"}})
	if strings.Contains(page, "s3cret-token") {
		t.Fatal("the password was sent back to the browser")
	}
	if !strings.Contains(page, "Password or token was not kept: secrets are never sent back to the browser, so type it again") ||
		!strings.Contains(page, `data-testid="field-password"`) {
		t.Errorf("the form does not ask for the password again: %s", snippet(page))
	}
}
