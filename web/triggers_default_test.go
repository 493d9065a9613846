package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestTriggerRequiresSignatureByDefault: a trigger created with defaults refuses
// unsigned calls (300 anonymous calls made 300 Works); one created with
// requireSignature: false takes them, and the API's answer says that is a risk.
// The dashboard form's checkbox is checked by default, with the risk beside it.
func TestTriggerRequiresSignatureByDefault(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-b", tenants.RoleEditor)
	body := workBody("dev", "x", "a: b\n")
	for _, tc := range []struct {
		create      string
		require     bool
		unsigned    int
		wantWarning bool
	}{
		{`{"name": "default"}`, true, 401, false},
		{`{"name": "signed", "requireSignature": true}`, true, 401, false},
		{`{"name": "open", "requireSignature": false}`, false, 202, true},
	} {
		code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-b/triggers", tok, strings.NewReader(tc.create))
		var created struct {
			URL              string
			RequireSignature bool
			Warning          string
		}
		if err := json.Unmarshal([]byte(out), &created); err != nil || code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", tc.create, code, out)
		}
		if created.RequireSignature != tc.require || (created.Warning != "") != tc.wantWarning ||
			(tc.wantWarning && !strings.Contains(created.Warning, "anyone")) {
			t.Errorf("create %s: requireSignature %v, warning %q; want %v, a warning %v", tc.create, created.RequireSignature,
				created.Warning, tc.require, tc.wantWarning)
		}
		if r := post(t, created.URL, "application/json", body); r.Code != tc.unsigned {
			t.Errorf("an unsigned call to %s: %d %s, want %d", tc.create, r.Code, r.Body, tc.unsigned)
		}
	}

	b := h.signedInTeam() // team-a
	_, page := b.get(t, h.URL+"/t/team-a/triggers")
	if !strings.Contains(page, `name="requireSignature" value="true" checked`) && !strings.Contains(page, `value="true" checked`) {
		t.Errorf("the create form's signature checkbox is not checked by default: %s", snippet(page))
	}
	if !strings.Contains(page, "anyone who learns the URL") {
		t.Errorf("the create form does not say what unchecking it risks: %s", snippet(page))
	}
	resp, page := b.post(t, h.URL+"/t/team-a/triggers", map[string][]string{"name": {"open"}})
	if resp.StatusCode != 200 || !strings.Contains(page, `data-testid="unsigned-risk"`) {
		t.Errorf("a trigger created unchecked: %d, want its page to show the risk: %s", resp.StatusCode, snippet(page))
	}
}
