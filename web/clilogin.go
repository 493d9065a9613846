package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// cliLoginRequest is what `stateward login` sends in the sign-in URL: the port of
// its listener on 127.0.0.1, a random state it checks on the way back, and,
// optionally, the team and the name of the machine (for the token's name).
type cliLoginRequest struct {
	Port, State, Host, Tenant string
}

var (
	cliState = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)
	cliHost  = regexp.MustCompile(`^[A-Za-z0-9._-]{0,63}$`)
)

func parseCLILogin(v url.Values) (cliLoginRequest, error) {
	in := cliLoginRequest{Port: v.Get("port"), State: v.Get("state"), Host: v.Get("host"), Tenant: strings.TrimSpace(v.Get("tenant"))}
	if p, err := strconv.Atoi(in.Port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != in.Port {
		return in, tenants.Invalid("port", "must be the CLI's port on 127.0.0.1 (1–65535); run stateward login again")
	}
	if !cliState.MatchString(in.State) {
		return in, tenants.Invalid("state", "must be the CLI's random state (16–128 letters, digits, - or _); run stateward login again")
	}
	if !cliHost.MatchString(in.Host) {
		in.Host = ""
	}
	return in, nil
}

// cliLogin is GET /cli/login: the confirmation page. It changes nothing: a link
// that someone else made can at most show this page.
func (s *Server) cliLogin(w http.ResponseWriter, r *http.Request) {
	in, err := parseCLILogin(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, _ := userFrom(r.Context())
	teams, err := s.store.Memberships(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Tenant != "" {
		teams = onlyTeam(teams, in.Tenant)
		if len(teams) == 0 {
			s.fail(w, r, tenants.NotFound("team", in.Tenant))
			return
		}
	}
	s.render(w, r, http.StatusOK, views.CLILoginPage(s.shell(r, "Sign in the CLI", ""),
		views.CLILoginProps{Port: in.Port, State: in.State, Host: in.Host, Tenant: in.Tenant, Teams: teams}))
}

func onlyTeam(teams []tenants.Membership, slug string) []tenants.Membership {
	for _, m := range teams {
		if m.Tenant.Slug == slug {
			return []tenants.Membership{m}
		}
	}
	return nil
}

// cliLoginConfirm is POST /cli/login (same-origin only, like every POST): it mints
// an API token with the person's role in the chosen team, bound to them (it never
// does more than their current role, and nothing once they leave the team), named
// after them and the machine so that it can be found and revoked on the tokens
// page, and sends
// the browser to the CLI's listener on 127.0.0.1 — never to another host.
func (s *Server) cliLoginConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := parseCLILogin(r.PostForm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, _ := userFrom(r.Context())
	teams, err := s.store.Memberships(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	team := onlyTeam(teams, in.Tenant)
	if len(team) == 0 {
		s.fail(w, r, tenants.NotFound("team", in.Tenant))
		return
	}
	m := team[0]
	_, secret, err := s.mintCLIToken(r, u, m, in.Host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	back := url.URL{Scheme: "http", Host: "127.0.0.1:" + in.Port, Path: "/callback",
		RawQuery: url.Values{"state": {in.State}, "token": {secret}, "tenant": {m.Tenant.Slug}}.Encode()}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

// mintCLIToken creates the token of a CLI sign-in and records who made it.
func (s *Server) mintCLIToken(r *http.Request, u tenants.User, m tenants.Membership, host string) (tenants.Token, string, error) {
	name := "cli: " + u.Email
	if host != "" {
		name += " on " + host
	}
	if len(name) > 100 {
		name = strings.ToValidUTF8(name[:100], "")
	}
	tok, secret, err := s.store.CreatePersonToken(r.Context(), m.Tenant.ID, u.ID, name, m.Role)
	if err != nil {
		return tok, "", err
	}
	p := tenants.Principal{Tenant: m.Tenant, Role: m.Role, UserID: u.ID, Email: u.Email}
	s.audit(r.WithContext(tenants.WithPrincipal(r.Context(), p)), "create",
		tenants.AuditObject{Kind: tenants.AuditToken, ID: tok.ID, Name: name}, "role "+string(m.Role)+", by stateward login")
	return tok, secret, nil
}
