package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/stateward/stateward/tenants"
)

func TestCreateTeam(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")

	cases := []struct {
		name, slug string
		wantCode   int
		wantText   string
	}{
		{"upper case and underscore", "Bad_Slug", http.StatusUnprocessableEntity, "not a valid slug"},
		{"empty", "", http.StatusUnprocessableEntity, "is required"},
		{"too long", strings.Repeat("a", 64), http.StatusUnprocessableEntity, "not a valid slug"},
		{"valid", "team-a", http.StatusOK, "Team team-a created"},
		{"duplicate", "team-a", http.StatusUnprocessableEntity, "is taken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := b.post(t, h.URL+"/teams", url.Values{"slug": {c.slug}, "name": {"Team A"}})
			if resp.StatusCode != c.wantCode || !strings.Contains(body, c.wantText) {
				t.Errorf("slug %q: got %d, want %d with %q in %q", c.slug, resp.StatusCode, c.wantCode, c.wantText, snippet(body))
			}
		})
	}
	ms, err := h.DB.Memberships(context.Background(), 1)
	if err != nil || len(ms) != 1 || ms[0].Role != tenants.RoleOwner || ms[0].Tenant.Slug != "team-a" {
		t.Errorf("memberships = %+v, %v; want owner of team-a", ms, err)
	}
}

func TestMembershipAndIsolation(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob := newBrowser(t), newBrowser(t)
	h.login(alice, "alice@example.com")
	alice.post(t, h.URL+"/teams", url.Values{"slug": {"team-a"}})
	h.login(bob, "bob@example.com")

	if resp, _ := bob.get(t, h.URL+"/t/team-a/"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("non-member sees team-a: %d, want 404", resp.StatusCode)
	}
	if resp, _ := bob.get(t, h.URL+"/t/no-such-team/"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown team: %d, want 404", resp.StatusCode)
	}
	// Bad input on the member form is a message, not a 500.
	resp, body := alice.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"not-an-email"}, "role": {"viewer"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not an email address") {
		t.Errorf("bad email: got %d %q", resp.StatusCode, snippet(body))
	}
	resp, body = alice.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"bob@example.com"}, "role": {"root"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must be one of owner, editor, viewer") {
		t.Errorf("bad role: got %d %q", resp.StatusCode, snippet(body))
	}
	resp, _ = alice.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"bob@example.com"}, "role": {"viewer"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add bob: %d", resp.StatusCode)
	}
	resp, body = bob.get(t, h.URL+"/t/team-a/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "bob@example.com") {
		t.Fatalf("bob after invite: %d", resp.StatusCode)
	}
	// A viewer cannot add members.
	resp, _ = bob.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"eve@example.com"}, "role": {"owner"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer adds member: %d, want 403", resp.StatusCode)
	}
	// Unknown member: a clear message, not a 500.
	resp, body = alice.post(t, h.URL+"/t/team-a/members/role", url.Values{"email": {"nobody@example.com"}, "role": {"editor"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "nobody@example.com") {
		t.Errorf("unknown member: got %d %q", resp.StatusCode, snippet(body))
	}
	// The last owner cannot demote herself.
	resp, body = alice.post(t, h.URL+"/t/team-a/members/role", url.Values{"email": {"alice@example.com"}, "role": {"viewer"}})
	if !strings.Contains(body, "last owner") {
		t.Errorf("last owner demoted: %d %q", resp.StatusCode, snippet(body))
	}
}

func TestAllowedDomainAdmitsAutomatically(t *testing.T) {
	h := newHarness(t, nil)
	alice := newBrowser(t)
	h.login(alice, "alice@example.com")
	alice.post(t, h.URL+"/teams", url.Values{"slug": {"team-a"}})
	resp, body := alice.post(t, h.URL+"/t/team-a/settings", url.Values{"name": {"Team A"}, "allowedDomain": {"not a domain"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a domain") {
		t.Fatalf("bad domain: %d", resp.StatusCode)
	}
	alice.post(t, h.URL+"/t/team-a/settings", url.Values{"name": {"Team A"}, "allowedDomain": {"example.com"}})
	carol := newBrowser(t)
	resp, _ = h.login(carol, "carol@example.com")
	if resp.Request.URL.Path != "/t/team-a/" {
		t.Errorf("carol landed on %s, want /t/team-a/ (admitted by domain)", resp.Request.URL.Path)
	}
	dave := newBrowser(t)
	resp, _ = h.login(dave, "dave@other.example")
	if resp.Request.URL.Path != "/teams/new" {
		t.Errorf("dave (other domain) landed on %s, want /teams/new", resp.Request.URL.Path)
	}
}

func TestTokenAuth(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a, err := h.DB.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.CreateTenant(ctx, "team-b", "", ""); err != nil {
		t.Fatal(err)
	}
	_, tokA, _ := h.DB.CreateToken(ctx, a.ID, "ci", tenants.RoleEditor)
	revoked, tokRevoked, _ := h.DB.CreateToken(ctx, a.ID, "old", tenants.RoleEditor)
	if err := h.DB.RevokeToken(ctx, a.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tenant, header string
		want                 int
	}{
		{"valid", "team-a", "Bearer " + tokA, 200},
		{"lower-case scheme", "team-a", "bearer " + tokA, 200},
		{"no header", "team-a", "", 401},
		{"malformed header", "team-a", tokA, 401},
		{"empty bearer", "team-a", "Bearer ", 401},
		{"unknown token", "team-a", "Bearer swt_nope", 401},
		{"revoked token", "team-a", "Bearer " + tokRevoked, 401},
		{"other tenant", "team-b", "Bearer " + tokA, 404},
		{"unknown tenant", "team-zz", "Bearer " + tokA, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/"+c.tenant+"/", c.header, nil)
			if code != c.want {
				t.Fatalf("got %d %s, want %d", code, body, c.want)
			}
			if code != 200 && !strings.Contains(body, `"error"`) {
				t.Errorf("error body %q is not {\"error\": …}", body)
			}
		})
	}
}

// TestInlineValidationAnswersOnlyTheMessage: htmx answers are 200 fragments with
// the field's message, never the input (which would overwrite what is typed).
func TestInlineValidationAnswersOnlyTheMessage(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	b.post(t, h.URL+"/teams", url.Values{"slug": {"taken"}})
	cases := []struct{ slug, want string }{
		{"Bad_Slug", "not a valid slug"},
		{"taken", "is taken"},
		{"fine", "hidden"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/teams/validate", strings.NewReader(url.Values{"slug": {c.slug}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Trigger-Name", "slug")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := new(strings.Builder)
		_, _ = io.Copy(buf, resp.Body)
		resp.Body.Close()
		body := buf.String()
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, c.want) || strings.Contains(body, "<input") ||
			!strings.Contains(body, `id="f-slug-error"`) {
			t.Errorf("validate %q: %d %q, want 200 with %q and no input", c.slug, resp.StatusCode, body, c.want)
		}
	}
}

// TestSlugValidationDoesNotListTeams: the inline check does not tell a non-member
// that a team exists.
func TestSlugValidationDoesNotListTeams(t *testing.T) {
	h := newHarness(t, nil)
	alice := newBrowser(t)
	h.login(alice, "alice@example.com")
	alice.post(t, h.URL+"/teams", url.Values{"slug": {"secret-team"}})
	bob := newBrowser(t)
	h.login(bob, "bob@example.com")
	for _, slug := range []string{"secret-team", "no-such-team"} {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/teams/validate", strings.NewReader(url.Values{"slug": {slug}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Trigger-Name", "slug")
		resp, err := bob.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := new(strings.Builder)
		_, _ = io.Copy(buf, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(buf.String(), "taken") {
			t.Errorf("validate %q as a non-member: %d %q, want no word on existence", slug, resp.StatusCode, buf.String())
		}
	}
}

// TestUnverifiedEmailRefusedWithReason: a person whose email the IdP has not
// verified cannot create a team (it would never be theirs) and is told why an
// invitation to that email does not apply.
func TestUnverifiedEmailRefusedWithReason(t *testing.T) {
	h := newHarness(t, nil)
	owner := h.signedInTeam() // alice, owner of team-a
	owner.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"carol@example.com"}, "role": {"editor"}})

	carol := newBrowser(t)
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "carol", Email: "carol@example.com", EmailVerified: false})
	resp, body := carol.get(t, h.URL+"/login")
	if resp.Request.URL.Path != "/teams/new" || !strings.Contains(body, `data-testid="unverified-email"`) ||
		!strings.Contains(body, "invitations to carol@example.com do not apply") {
		t.Errorf("unverified sign-in landed on %s without the reason: %s", resp.Request.URL.Path, snippet(body))
	}
	resp, body = carol.post(t, h.URL+"/teams", url.Values{"slug": {"carols-team"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "has not verified your email") {
		t.Errorf("team creation by an unverified email: %d %s", resp.StatusCode, snippet(body))
	}
	if _, err := h.DB.TenantBySlug(context.Background(), "carols-team"); err == nil {
		t.Error("the team was created for an unverified email")
	}
	if resp, _ := carol.get(t, h.URL+"/t/team-a/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unverified invitee reached the team: %d", resp.StatusCode)
	}
}
