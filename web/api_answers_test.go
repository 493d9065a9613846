package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSmallAPIAnswers: an empty apply says there were no documents (not 200 with no
// results); a malformed JSON body says so once; JSON answers keep "<" as is.
func TestSmallAPIAnswers(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", "editor")
	if code, _, body := h.apply(tok, "team-a", "# only a comment\n"); code != 422 || !strings.Contains(body, "no documents") {
		t.Errorf("empty apply: %d %s", code, body)
	}
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(`{"promise": `))
	if code != 400 || strings.Count(body, "malformed JSON") != 1 {
		t.Errorf("malformed JSON: %d %s", code, body)
	}
	code, body = api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(`{"promise": "<b>"}`))
	if code != 422 || strings.Contains(body, `\u003c`) || !strings.Contains(body, `<b>`) {
		t.Errorf("a message with <: %d %s", code, body)
	}
}
