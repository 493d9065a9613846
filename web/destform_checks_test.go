package web_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestDestinationPreviewFlagsOverlap: the live preview and the path field's
// inline validation show the overlap with another Destination on the same store
// that Create answers — the same words, from the same check — and a Destination
// being edited never overlaps itself.
func TestDestinationPreviewFlagsOverlap(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	yaml := `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: default}
spec: {url: 'https://127.0.0.1:1/r.git', authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: other}
spec: {url: 'https://127.0.0.1:1/o.git', authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: default}}
`
	if resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {yaml}}); resp.StatusCode != 200 {
		t.Fatalf("import: %d %s", resp.StatusCode, snippet(body))
	}
	form := func(name, path, store string) url.Values {
		return url.Values{"metadata.name": {name}, "spec.path": {path}, "spec.stateStoreRef": {"GitStateStore/" + store},
			"spec.filepath.mode": {"nestedByMetadata"}, "spec.cleanup": {"none"}, "spec.initWorkloads.enabled": {"true"}}
	}
	conflict := regexp.MustCompile(`data-testid="preview-conflict">([^<]*)<`)
	fieldErr := `&#34;dev/team-a&#34; overlaps Destination &#34;dev&#34; (path &#34;dev&#34;) on the same State Store`

	// Create refuses it: the words the preview must show.
	resp, created := b.post(t, h.URL+"/t/team-a/destinations", form("team-a", "dev/team-a", "default"))
	if resp.StatusCode != 422 || !strings.Contains(created, fieldErr) {
		t.Fatalf("create over an overlapping path: %d, want 422 naming Destination dev: %s", resp.StatusCode, snippet(created))
	}
	for _, name := range []string{"team-a", ""} { // with and without a name typed yet
		_, preview := b.post(t, h.URL+"/t/team-a/destinations/preview", form(name, "dev/team-a", "default"))
		m := conflict.FindStringSubmatch(preview)
		if m == nil || !strings.Contains(created, m[1]) || !strings.Contains(html.UnescapeString(m[1]), `overlaps Destination "dev"`) {
			t.Errorf("preview (name %q) of an overlapping path: conflict %q, want Create's message: %s", name, m, snippet(preview))
		}
		if !strings.Contains(preview, "kratix-canary-configmap.yaml") {
			t.Errorf("preview with a conflict no longer shows the paths: %s", snippet(preview))
		}
	}
	validate := func(f url.Values) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/t/team-a/destinations/validate", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Trigger-Name", "spec.path")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	field := validate(form("team-a", "dev/team-a", "default"))
	if !strings.Contains(field, fieldErr) {
		t.Errorf("inline validation of an overlapping path: %s", snippet(field))
	}
	// No conflict: the Destination's own path while editing it, another store, a
	// path beside it.
	for _, f := range []url.Values{form("dev", "dev", "default"), form("team-a", "dev/team-a", "other"), form("team-a", "devx", "default")} {
		if _, preview := b.post(t, h.URL+"/t/team-a/destinations/preview", f); strings.Contains(preview, "preview-conflict") {
			t.Errorf("preview of %v flags a conflict: %s", f, snippet(preview))
		}
		if field := validate(f); strings.Contains(field, "overlaps") {
			t.Errorf("validation of %v flags a conflict", f)
		}
	}
}

// TestPlanNamesFieldsAsWriteDoes: Preview plan and Write name a bad file by the
// form's words ("path"), never by the API's internal path
// (workloadGroups[0].files[0].path), with the same message.
func TestPlanNamesFieldsAsWriteDoes(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	msg := regexp.MustCompile(`data-testid="field-error">path: ([^<]*)<`)
	for _, bad := range []string{"../x.yaml", ".git/config", "a.yaml\x00"} {
		form := url.Values{"promise": {"redis"}, "filePath": {"ok.yaml", bad}, "fileContent": {"a: b", "a: b"}}
		resp, page := b.post(t, h.URL+"/t/team-a/works", form)
		m := msg.FindStringSubmatch(page)
		if resp.StatusCode != 422 || m == nil {
			t.Errorf("write %q: %d, want 422 with a path error next to the row: %s", bad, resp.StatusCode, snippet(page))
			continue
		}
		_, plan := b.post(t, h.URL+"/t/team-a/works/plan", form)
		if want := "file 2: path: " + m[1]; !strings.Contains(plan, want) {
			t.Errorf("plan of %q: want %q: %s", bad, want, snippet(plan))
		}
		for what, body := range map[string]string{"write": page, "plan": plan} {
			if i := strings.Index(body, "workloadGroups"); i >= 0 {
				t.Errorf("%s of %q names an internal field: %s", what, bad, snippet(body[max(i-100, 0):]))
			}
		}
	}
}
