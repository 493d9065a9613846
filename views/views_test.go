package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/stateward/stateward/tenants"
)

var (
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	yes  = true
	no   = false
	team = &tenants.Tenant{ID: 1, Slug: "platform", Name: "Platform Team", AllowedDomain: "example.com"}
)

func shell(role tenants.Role, nav string) Shell {
	return Shell{
		Title: "Test", Email: "ada@example.com", Current: team, Role: role, Nav: nav,
		Teams: []tenants.Membership{{Tenant: *team, Role: role}, {Tenant: tenants.Tenant{Slug: "other", Name: "Other"}, Role: tenants.RoleViewer}},
		CSS:   "/static/app.1.css", JS: "/static/app.1.js", HTMX: "/static/htmx.min.1.js",
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

func contains(t *testing.T, html string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(html, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func lacks(t *testing.T, html string, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(html, n) {
			t.Errorf("output contains %q", n)
		}
	}
}

// fieldHTML returns the rendered wrapper of the field called name (up to the next
// field's wrapper).
func fieldHTML(t *testing.T, html, name string) string {
	t.Helper()
	start := strings.Index(html, `data-testid="field-`+name+`"`)
	if start < 0 {
		t.Fatalf("no field %q", name)
	}
	rest := html[start:]
	if next := strings.Index(rest, `<div class="field field-`); next >= 0 {
		return rest[:next]
	}
	return rest
}

func TestLayoutSignedIn(t *testing.T) {
	html := render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), OverviewProps{}))
	contains(t, html,
		`data-testid="user-email"`, "ada@example.com",
		`<form method="post" action="/logout"`, `data-testid="sign-out"`,
		`href="/static/app.1.css"`, `src="/static/htmx.min.1.js"`,
		`href="/t/platform/stores"`, `href="/t/platform/tokens"`, `href="/t/other/"`,
		`aria-current="page"`, `aria-live="polite"`, "<main", "Stateward",
		"<title>Test · Platform Team · Stateward</title>")
}

func TestTeamNewShowsHeaderAndErrors(t *testing.T) {
	s := shell(tenants.RoleViewer, "")
	s.Current, s.Teams = nil, nil
	html := render(t, TeamNewPage(s, TeamNewProps{
		Slug: "Bad_Slug", NoTeam: true, ValidateURL: "/teams/validate",
		Errors: tenants.ValidationErrors{{Field: "slug", Message: "not a valid slug"}},
	}))
	contains(t, html, `data-testid="user-email"`, `data-testid="sign-out"`, `data-testid="no-team"`,
		`action="/teams"`, "like a Kubernetes namespace", `value="Bad_Slug"`,
		`hx-post="/teams/validate"`, `hx-trigger="change"`, `hx-target="#f-slug-error"`, `hx-swap="outerHTML"`)
	slug := fieldHTML(t, html, "slug")
	contains(t, slug, "not a valid slug", `aria-invalid="true"`, `aria-describedby="f-slug-help f-slug-error"`)
	lacks(t, fieldHTML(t, html, "name"), `data-testid="field-error"`)
}

func TestLandingPage(t *testing.T) {
	html := render(t, LandingPage(Shell{CSS: "/a.css"}, LandingProps{}))
	contains(t, html, `data-testid="sign-in"`, `href="/login"`)
	lacks(t, html, `data-testid="user-email"`, `action="/logout"`)
}

func TestFieldFragment(t *testing.T) {
	html := render(t, Field(FieldProps{Name: "spec.url", Label: "URL", Value: "http://x", Error: "use https", ValidateURL: "/v", Mono: true}))
	if !strings.HasPrefix(html, `<div class="field field-text invalid"`) {
		t.Errorf("fragment starts %q, want the field wrapper", html[:min(60, len(html))])
	}
	contains(t, html, `id="f-spec-url"`, `name="spec.url"`, `value="http://x"`, "use https", `class="mono"`)
}

func TestMembersPageOwnerAndViewer(t *testing.T) {
	p := MembersProps{AllowedDomain: "example.com", SelfUserID: 1, Members: []tenants.Member{
		{UserID: 1, Email: "ada@example.com", Role: tenants.RoleOwner, AddedAt: t0},
		{UserID: 2, Email: "bob@example.com", Name: "Bob", Role: tenants.RoleViewer, AddedAt: t0},
	}}
	owner := render(t, MembersPage(shell(tenants.RoleOwner, "members"), p))
	contains(t, owner, `data-testid="add-member"`, `action="/t/platform/members"`,
		`action="/t/platform/members/role"`, `action="/t/platform/members/remove"`, `name="email" value="bob@example.com"`,
		`hx-confirm="Remove bob@example.com from Platform Team?`, "@example.com", `href="/t/platform/settings"`)
	if got := strings.Count(owner, `action="/t/platform/members/remove"`); got != 1 {
		t.Errorf("%d remove buttons, want 1 (none on one's own row)", got)
	}
	viewer := render(t, MembersPage(shell(tenants.RoleViewer, "members"), p))
	contains(t, viewer, "bob@example.com")
	lacks(t, viewer, `data-testid="add-member"`, "members/remove", "members/role")
}

func TestTokensPageNewTokenOnce(t *testing.T) {
	p := TokensProps{NewToken: "swt_SECRET123", BaseURL: "https://sw.example.com/", Tokens: []tenants.Token{
		{ID: 7, Name: "ci", Role: tenants.RoleEditor, CreatedAt: t0},
		{ID: 8, Name: "old", Role: tenants.RoleViewer, CreatedAt: t0, RevokedAt: &t0},
	}}
	html := render(t, TokensPage(shell(tenants.RoleOwner, "tokens"), p))
	contains(t, html, `data-testid="new-token"`, `data-copy="swt_SECRET123"`,
		`curl -H &#34;Authorization: Bearer swt_SECRET123&#34; https://sw.example.com/api/v1/tenants/platform/destinations`,
		`action="/t/platform/tokens/7/revoke"`, `hx-confirm=`, `action="/t/platform/tokens"`, "revoked", "never")
	lacks(t, html, "tokens/8/revoke")
	p.NewToken = ""
	lacks(t, render(t, TokensPage(shell(tenants.RoleOwner, "tokens"), p)), `data-testid="new-token"`)
}

func TestSettingsPage(t *testing.T) {
	p := SettingsProps{Name: "Platform Team", AllowedDomain: "example.com", Errors: tenants.ValidationErrors{{Field: "allowedDomain", Message: "not a domain"}}}
	html := render(t, SettingsPage(shell(tenants.RoleOwner, "settings"), p))
	contains(t, html, `action="/t/platform/settings"`, `value="example.com"`, "not a domain")
	viewer := render(t, SettingsPage(shell(tenants.RoleViewer, "settings"), p))
	lacks(t, viewer, `action="/t/platform/settings"`)
	contains(t, viewer, "Only owners")
}

func TestErrorPages(t *testing.T) {
	for _, code := range []int{401, 403, 404, 500} {
		html := render(t, ErrorPage(shell(tenants.RoleViewer, ""), code, "", ""))
		contains(t, html, `data-status="`+itoa(code)+`"`, templ.EscapeString(errorTitle(code)))
	}
	html := render(t, ErrorPage(Shell{}, 404, "No such store", "Store x does not exist."))
	contains(t, html, "No such store", "Store x does not exist.", `href="/login"`)
}

func TestOverviewPage(t *testing.T) {
	empty := render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), OverviewProps{}))
	contains(t, empty, `data-testid="empty"`, "/t/platform/stores/new?kind=git", `data-testid="no-activity"`)
	html := render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), OverviewProps{
		StoresReady: 2, StoresNotReady: 1, Destinations: 3, WorksPending: 4, WorksFailed24h: 5,
		Attention: []AttentionItem{{Kind: tenants.KindGit, Name: "main-repo", Message: "authentication required", At: &t0}},
		Activity:  []ActivityItem{{WorkID: 9, Work: "redis-default-my-request", Destination: "dev", State: tenants.StateWritten, Version: "0123456789abcdef0123456789abcdef01234567", At: t0}},
	}))
	contains(t, html, "authentication required", `href="/t/platform/stores/git/main-repo"`, `href="/t/platform/works/9"`,
		"0123456789", `datetime="2026-03-01T12:00:00Z"`, "✓")
	lacks(t, html, `data-testid="empty"`)
	capped := render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), OverviewProps{StoresReady: 1,
		WorksPending: 10000, WorksPendingCapped: true}))
	contains(t, capped, "<strong>10000+</strong> pending")
}

func TestRoleHidesEditButtons(t *testing.T) {
	html := render(t, StoresPage(shell(tenants.RoleViewer, "stores"), StoresProps{Git: []tenants.GitStateStore{{Name: "a", URL: "https://x"}}}))
	lacks(t, html, "New Git store", "/check")
}
