package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/web"
)

// TestGroupsMapToRoles: through a real OIDC provider library (mockoidc, which
// sends the groups claim only when the "groups" scope is asked for), an owner maps
// a group to a role in the settings; a person in the group gets that role at
// sign-in and loses it at the next sign-in without the group.
func TestGroupsMapToRoles(t *testing.T) {
	h := newHarnessWith(t, nil, func(c *web.Config) { c.GroupsClaim, c.GroupsScope = "groups", true })
	alice := h.signedInTeam()
	resp, body := alice.post(t, h.URL+"/t/team-a/settings", url.Values{"name": {"Team A"},
		"groupRoles": {"platform-editors = editor\r\n# comment\r\nauditors = viewer"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "platform-editors = editor") {
		t.Fatalf("save group mapping: %d %s", resp.StatusCode, snippet(body))
	}
	if resp, body := alice.post(t, h.URL+"/t/team-a/settings", url.Values{"name": {"Team A"}, "groupRoles": {"admins = god"}}); resp.StatusCode != 422 || !strings.Contains(body, "line 1") {
		t.Errorf("bad role: %d %s", resp.StatusCode, snippet(body))
	}

	signIn := func(groups ...string) *browser {
		b := newBrowser(t)
		h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "bob", Email: "bob@example.com", EmailVerified: true, Groups: groups})
		b.get(t, h.URL+"/login")
		return b
	}
	role := func(b *browser) (int, string) {
		resp, body := b.get(t, h.URL+"/api/v1/tenants/team-a/")
		var out struct{ Role string }
		_ = json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out.Role
	}
	bob := signIn("platform-editors", "unrelated")
	if code, r := role(bob); code != 200 || r != "editor" {
		t.Errorf("in platform-editors: %d %q, want editor", code, r)
	}
	if resp, _ := bob.get(t, h.URL+"/t/team-a/stores/new"); resp.StatusCode != 200 {
		t.Errorf("editor from a group opens the store form: %d", resp.StatusCode)
	}
	bob = signIn("unrelated")
	if code, _ := role(bob); code != http.StatusNotFound {
		t.Errorf("next sign-in without the group: %d, want 404", code)
	}
	if resp, _ := bob.get(t, h.URL+"/t/team-a/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("dashboard without the group: %d, want 404", resp.StatusCode)
	}

	// The API: owners read and replace the mapping; editors may not.
	tok := ownerToken(t, h)
	code, out := api(t, http.MethodPut, h.URL+"/api/v1/tenants/team-a/grouproles", tok,
		strings.NewReader(`{"items":[{"group":"unrelated","role":"viewer"}]}`))
	if code != 200 || !strings.Contains(out, `"unrelated"`) {
		t.Fatalf("PUT grouproles: %d %s", code, out)
	}
	if code, r := role(signIn("unrelated")); code != 200 || r != "viewer" {
		t.Errorf("after the API mapping: %d %q, want viewer", code, r)
	}
	code, out = api(t, http.MethodPut, h.URL+"/api/v1/tenants/team-a/grouproles", tok, strings.NewReader(`{"items":[{"group":"x","role":"root"}]}`))
	if code != http.StatusUnprocessableEntity || !strings.Contains(out, `"field": "items"`) {
		t.Errorf("PUT with a bad role: %d %s", code, out)
	}
	if code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/grouproles", tok, nil); code != 200 || !strings.Contains(out, `"role": "viewer"`) {
		t.Errorf("GET grouproles: %d %s", code, out)
	}
}

// TestGroupsNeedTheScope: without STATEWARD_OIDC_GROUPS_CLAIM the groups scope is
// not requested, mockoidc sends no groups, and a mapping grants nothing.
func TestGroupsNeedTheScope(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.signedInTeam()
	alice.post(t, h.URL+"/t/team-a/settings", url.Values{"name": {"Team A"}, "groupRoles": {"platform-editors = editor"}})
	b := newBrowser(t)
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"platform-editors"}})
	b.get(t, h.URL+"/login")
	if resp, _ := b.get(t, h.URL+"/t/team-a/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("group access without the groups scope: %d", resp.StatusCode)
	}
}

func ownerToken(t *testing.T, h *harness) string {
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := h.DB.CreateToken(context.Background(), team.ID, "owner", tenants.RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}
