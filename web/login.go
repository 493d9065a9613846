package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stateward/stateward/tenants"
)

// oidcAuth is the relying party. Discovery happens at the first login (and again
// after a failure), so the server can start before its issuer answers — which the
// embedded development issuer, served by this very process, needs.
type oidcAuth struct {
	cfg Config

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCAuth(cfg Config) *oidcAuth { return &oidcAuth{cfg: cfg} }

func (a *oidcAuth) ctx(ctx context.Context) context.Context {
	if a.cfg.OIDCClient != nil {
		return oidc.ClientContext(ctx, a.cfg.OIDCClient)
	}
	return ctx
}

func (a *oidcAuth) setup(ctx context.Context) (*oidc.Provider, oauth2.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.provider == nil {
		p, err := oidc.NewProvider(a.ctx(ctx), a.cfg.OIDCIssuer)
		if err != nil {
			return nil, oauth2.Config{}, fmt.Errorf("OIDC discovery at %s: %w", a.cfg.OIDCIssuer, err)
		}
		a.provider = p
	}
	return a.provider, oauth2.Config{
		ClientID:     a.cfg.OIDCClientID,
		ClientSecret: a.cfg.OIDCClientSecret,
		Endpoint:     a.provider.Endpoint(),
		RedirectURL:  a.cfg.PublicURL + "/auth/callback",
		Scopes:       a.scopes(),
	}, nil
}

// scopes are the scopes a sign-in asks for; "groups" when the operator set a
// groups claim (STATEWARD_OIDC_GROUPS_CLAIM).
func (a *oidcAuth) scopes() []string {
	s := []string{oidc.ScopeOpenID, "email", "profile"}
	if a.cfg.GroupsScope {
		s = append(s, "groups")
	}
	return s
}

// groupsClaim is the ID token claim that lists the user's groups.
func (a *oidcAuth) groupsClaim() string {
	if a.cfg.GroupsClaim == "" {
		return "groups"
	}
	return a.cfg.GroupsClaim
}

// login starts the authorization code flow with PKCE (S256), state and nonce, and
// binds it to this browser with a short-lived cookie that the callback checks: a
// callback URL produced in one browser cannot sign another browser in (login CSRF).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	_, oc, err := s.auth.setup(r.Context())
	if err != nil {
		s.log.Warn("OIDC discovery failed", "issuer", s.cfg.OIDCIssuer, "err", err)
		s.fail(w, r, errIdPUnreachable{issuer: s.cfg.OIDCIssuer})
		return
	}
	state, _ := tenants.NewSecret()
	nonce, _ := tenants.NewSecret()
	browser := s.loginBrowser(w, r)
	verifier := oauth2.GenerateVerifier()
	attempt := tenants.LoginAttempt{Nonce: nonce, Verifier: verifier, ReturnTo: localPath(r.URL.Query().Get("return")), Browser: browser}
	if err := s.store.SaveLoginAttempt(r.Context(), state, attempt); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (s *Server) loginCookieName() string {
	if s.secure {
		return "__Host-stateward_login"
	}
	return "stateward_login"
}

// loginBrowser returns this browser's login binding and (re)sets its cookie for
// as long as a sign-in may take. One value serves every sign-in started in the
// browser, so two tabs signing in at once both finish.
func (s *Server) loginBrowser(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(s.loginCookieName()); err == nil && len(c.Value) >= 32 {
		v = c.Value
	} else {
		v, _ = tenants.NewSecret()
	}
	http.SetCookie(w, &http.Cookie{Name: s.loginCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(tenants.LoginAttemptTTL.Seconds())})
	return v
}

// sameBrowser reports whether the callback came to the browser that started attempt.
func (s *Server) sameBrowser(r *http.Request, attempt tenants.LoginAttempt) bool {
	c, err := r.Cookie(s.loginCookieName())
	if err != nil || c.Value == "" || attempt.Browser == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tenants.HashSecret(c.Value)), []byte(attempt.Browser)) == 1
}

// errLogin is a failed login; the message is safe to show.
type errLogin struct{ msg string }

func (e errLogin) Error() string { return e.msg }

// errIdPUnreachable is a login that could not reach the identity provider (503).
type errIdPUnreachable struct{ issuer string }

func (e errIdPUnreachable) Error() string {
	return "the identity provider at " + e.issuer + " is unreachable; please try again in a moment"
}

var errStaleLogin = errLogin{"this sign-in link has expired, was already used or was started in another browser; please sign in again"}

// callback finishes the flow: the state is taken once and must belong to this
// browser, the code exchanged with the PKCE verifier, the ID token's signature,
// issuer, audience, expiry and nonce verified; then a brand-new session is created.
// An error from the issuer is shown only for a live sign-in of this browser: the
// text of a forged callback is never displayed.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	attempt, err := s.store.TakeLoginAttempt(r.Context(), q.Get("state"))
	if err != nil || !s.sameBrowser(r, attempt) {
		s.fail(w, r, errStaleLogin)
		return
	}
	if e := q.Get("error"); e != "" {
		s.fail(w, r, errLogin{fmt.Sprintf("the identity provider refused the sign-in: %s %s", e, q.Get("error_description"))})
		return
	}
	user, verified, err := s.exchange(r.Context(), q.Get("code"), attempt)
	if err != nil {
		s.log.Warn("login failed", "err", err)
		s.fail(w, r, errLogin{"sign-in failed: " + err.Error()})
		return
	}
	user, err = s.store.UpsertUser(r.Context(), user, verified)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.startSession(w, r, user, attempt.ReturnTo)
}

func (s *Server) exchange(ctx context.Context, code string, a tenants.LoginAttempt) (tenants.User, bool, error) {
	provider, oc, err := s.auth.setup(ctx)
	if err != nil {
		return tenants.User{}, false, err
	}
	ctx = s.auth.ctx(ctx)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return tenants.User{}, false, fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return tenants.User{}, false, errors.New("the token response has no id_token")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: s.cfg.OIDCClientID}).Verify(ctx, raw)
	if err != nil {
		return tenants.User{}, false, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != a.Nonce {
		return tenants.User{}, false, errors.New("ID token nonce does not match this sign-in")
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
		Name     string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return tenants.User{}, false, fmt.Errorf("ID token claims: %w", err)
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return tenants.User{}, false, fmt.Errorf("ID token claims: %w", err)
	}
	if claims.Email == "" {
		return tenants.User{}, false, errors.New("the identity provider sent no email claim; request the email scope")
	}
	u := tenants.User{Issuer: idt.Issuer, Subject: idt.Subject, Email: strings.ToLower(claims.Email), Name: claims.Name,
		Groups: tenants.GroupsFromClaim(all[s.auth.groupsClaim()])}
	return u, claims.Verified != nil && *claims.Verified, nil
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u tenants.User, returnTo string) {
	// A planted session cookie is dropped: the id always changes at login.
	if old, ok := s.sessionID(r); ok {
		_ = s.store.DeleteSession(r.Context(), old)
	}
	id, err := s.store.CreateSession(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setSessionCookie(w, id)
	if returnTo == "" {
		returnTo = "/"
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// logout kills the server-side session and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if id, ok := s.sessionID(r); ok {
		if err := s.store.DeleteSession(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.clearSessionCookie(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath accepts only a clean path on this site ("/t/x?y"): never "//evil",
// "/\\evil", a URL, or any control character or blank a browser might drop or
// rewrite ("/\t/evil" becomes "//evil"). Anything else means "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	for _, c := range p {
		if c <= ' ' || c == 0x7f || c == '\\' || !unicode.IsPrint(c) {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return p
}
