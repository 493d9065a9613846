package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// postImport sends the import form as the browser does (multipart) with the text
// pasted into "yaml".
func postImport(t *testing.T, b *browser, u, yaml string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("yaml", yaml)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", u[:strings.Index(u, "/t/")])
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// TestImportTooLargeKeepsTheText: a paste over the limit comes back in the form
// with a message naming the limit (the API's), not as a bare 413 page; the form
// states the limit before anything is sent.
func TestImportTooLargeKeepsTheText(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	_, form := b.get(t, h.URL+"/t/team-a/import")
	if !strings.Contains(form, `data-max-bytes="4194304"`) || !strings.Contains(form, "At most 4 MiB, as for the API") {
		t.Errorf("the import form does not state its limit: %s", snippet(form))
	}
	marker := "# the end of a very long paste\n"
	big := strings.Repeat("# padding line\n", (5<<20)/15) + marker
	code, page := postImport(t, b, h.URL+"/t/team-a/import", big)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than 4 MiB, the limit for one import") ||
		!strings.Contains(page, marker) || !strings.Contains(page, `data-testid="import-form"`) {
		t.Errorf("5 MiB paste: %d, want the form back with the text and the limit: %s", code, snippet(page))
	}
	// Past what the form may carry at all, the page still names the limit.
	huge := strings.Repeat("# padding line\n", (17<<20)/15)
	code, page = postImport(t, b, h.URL+"/t/team-a/import", huge)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than 4 MiB") || !strings.Contains(page, `data-testid="import-form"`) {
		t.Errorf("17 MiB paste: %d %s", code, snippet(page))
	}
}
