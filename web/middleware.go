package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
)

type userKey struct{}

// userFrom returns the signed-in user set by withUser.
func userFrom(ctx context.Context) (tenants.User, bool) {
	u, ok := ctx.Value(userKey{}).(tenants.User)
	return u, ok
}

// withUser resolves the session cookie (if any) into the signed-in user.
func (s *Server) withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := s.sessionID(r); ok {
			u, err := s.store.SessionUser(r.Context(), id)
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
			} else if !errors.Is(err, tenants.ErrUnauthenticated) {
				s.fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requireUser sends a signed-out visitor to the login.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := userFrom(r.Context()); !ok {
			s.fail(w, r, tenants.ErrUnauthenticated)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// dashboardTenant checks that the signed-in user is a member of the tenant in the
// route and carries the principal in the context. Not a member → 404, so the
// existence of other teams never leaks.
func (s *Server) dashboardTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := userFrom(r.Context())
		t, err := s.store.TenantBySlug(r.Context(), chi.URLParam(r, "tenant"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		role, err := s.store.RoleOf(r.Context(), t.ID, u.ID)
		if err != nil {
			s.fail(w, r, teamNotFound(err, t.Slug))
			return
		}
		p := tenants.Principal{Tenant: t, Role: role, UserID: u.ID, Email: u.Email}
		next.ServeHTTP(w, r.WithContext(tenants.WithPrincipal(r.Context(), p)))
	})
}

// apiTenant authenticates the API: a Bearer token (or a dashboard session) for the
// tenant in the route. Unknown or revoked token, or a token of `stateward login`
// whose person is no longer in the team → 401; a token or user of another tenant
// → 404.
func (s *Server) apiTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.apiPrincipal(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(tenants.WithPrincipal(r.Context(), p)))
	})
}

func (s *Server) apiPrincipal(r *http.Request) (tenants.Principal, error) {
	slug := chi.URLParam(r, "tenant")
	h := r.Header.Get("Authorization")
	if h == "" {
		if u, ok := userFrom(r.Context()); ok {
			t, err := s.store.TenantBySlug(r.Context(), slug)
			if err != nil {
				return tenants.Principal{}, err
			}
			role, err := s.store.RoleOf(r.Context(), t.ID, u.ID)
			if err != nil {
				return tenants.Principal{}, teamNotFound(err, slug)
			}
			return tenants.Principal{Tenant: t, Role: role, UserID: u.ID, Email: u.Email}, nil
		}
		return tenants.Principal{}, tenants.ErrUnauthenticated
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return tenants.Principal{}, tenants.ErrUnauthenticated
	}
	// The token and its team in one query (one round trip to a distant
	// database): a token of another team, or of no such team, is a 404.
	tok, t, err := s.store.TokenAndTenant(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return tenants.Principal{}, err
	}
	if t.Slug != slug {
		return tenants.Principal{}, tenants.NotFound("team", slug)
	}
	s.teams.put(t)
	// A token of `stateward login` acts for its person: tok.Role is already the
	// lower of the token's and the person's current role.
	return tenants.Principal{Tenant: t, Role: tok.Role, Token: tok.ID, TokenName: tok.Name, UserID: tok.UserID, Email: tok.Person}, nil
}

// apiSubmitAuth authenticates a submit (POST …/works, not a dry run) whose
// Bearer token's team this server has seen lately (teamCache): the token is
// then checked by the submit's own transaction, in its first round trip
// (apiSubmitWork, SubmitWorkWithToken), which keeps the Work only if the token
// may write it then — where a check before the transaction leaves a moment
// for a revocation between the two. Anything else goes through apiTenant.
func (s *Server) apiSubmitAuth(next http.Handler) http.Handler {
	checked := s.apiTenant(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		secret = strings.TrimSpace(secret)
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || r.URL.Query().Get("dryRun") == "true" {
			checked.ServeHTTP(w, r)
			return
		}
		t, known := s.teams.get(chi.URLParam(r, "tenant"))
		if !known {
			checked.ServeHTTP(w, r)
			return
		}
		// No role yet: only the transaction's check grants one.
		ctx := tenants.WithPrincipal(r.Context(), tenants.Principal{Tenant: t})
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, pendingTokenKey{}, secret)))
	})
}

// pendingTokenKey carries, for apiSubmitWork, the secret of a token that its
// transaction is to check.
type pendingTokenKey struct{}

// pendingToken is the secret apiSubmitAuth left for the submit to check.
func pendingToken(r *http.Request) (string, bool) {
	v, ok := r.Context().Value(pendingTokenKey{}).(string)
	return v, ok
}

// checkPendingToken checks the pending token now, as apiTenant would have,
// before a submit that will not reach its transaction answers anything else.
func (s *Server) checkPendingToken(r *http.Request, secret string, need tenants.Role) error {
	slug := chi.URLParam(r, "tenant")
	tok, t, err := s.store.TokenAndTenant(r.Context(), secret)
	switch {
	case err != nil:
		return err
	case t.Slug != slug:
		return tenants.NotFound("team", slug)
	case !tok.Role.Allows(need):
		return tenants.ErrForbidden
	}
	return nil
}

// teamCache remembers the teams tokens were seen for (slug → team), so that a
// submit can leave the token's check to its transaction. A team's id never
// changes; a team deleted (or made anew under its slug) is found out by that
// check, which compares both. Entries last teamCacheTTL.
type teamCache struct {
	mu sync.Mutex
	m  map[string]cachedTeam
}

type cachedTeam struct {
	t  tenants.Tenant
	at time.Time
}

const (
	teamCacheTTL = 5 * time.Minute
	teamCacheMax = 10_000
)

func (c *teamCache) get(slug string) (tenants.Tenant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[slug]
	if !ok || time.Since(e.at) > teamCacheTTL {
		return tenants.Tenant{}, false
	}
	return e.t, true
}

func (c *teamCache) put(t tenants.Tenant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= teamCacheMax {
		c.m = map[string]cachedTeam{} // forget them all rather than grow without bound
	}
	c.m[t.Slug] = cachedTeam{t: t, at: time.Now()}
}

// teamNotFound is the answer to a team lookup that failed: not found (not a
// member, no such team) hides whether the team exists; anything else — the
// database unavailable above all — is said as it is, never as "not found",
// which a client takes for good.
func teamNotFound(err error, slug string) error {
	if errors.Is(err, tenants.ErrNotFound) {
		return tenants.NotFound("team", slug)
	}
	return err
}

// principal returns the caller, which the tenant middleware has always set.
func principal(r *http.Request) tenants.Principal {
	p, _ := tenants.PrincipalFrom(r.Context())
	return p
}

// authorize returns ErrForbidden unless the caller's role allows need.
func authorize(r *http.Request, need tenants.Role) error {
	if !principal(r).Can(need) {
		return tenants.ErrForbidden
	}
	return nil
}
