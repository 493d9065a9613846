// Package web is Stateward's HTTP surface: the dashboard (templ + htmx), OIDC login
// and server-side sessions, the JSON API under /api/v1, and health and metrics
// endpoints. Handlers run straight down — parse, authorize, act, render — and every
// error goes through one function that maps domain errors to status codes.
package web

import (
	"github.com/stateward/stateward/pressure"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/tenants"
)

// Config is what the web layer needs to know about its deployment.
type Config struct {
	// PublicURL is the absolute base URL users reach (no trailing slash).
	PublicURL string
	// OIDC provider settings; with the embedded development issuer these point at
	// PublicURL + "/dev/oidc".
	OIDCIssuer, OIDCClientID, OIDCClientSecret string
	// DevIssuer, when non-nil, is mounted at /dev/oidc (local default only).
	DevIssuer http.Handler
	// OIDCClient is the HTTP client used to talk to the issuer (nil = default).
	OIDCClient *http.Client
	// Egress vets State Store endpoints (literal addresses) at save time.
	Egress Egress
	// LocalRepos admits file:// Git stores outside the server's own files (local
	// default only); nil refuses them.
	LocalRepos *tenants.LocalRepos
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (STATEWARD_METRICS_TOKEN): the metrics name tenants and stores.
	MetricsToken string
	// GroupsClaim is the ID token claim listing the user's groups ("" = "groups");
	// GroupsScope requests the "groups" scope at sign-in.
	GroupsClaim string
	GroupsScope bool
}

// Server holds every dependency of the handlers.
type Server struct {
	teams   teamCache // the teams tokens were seen for (apiSubmitAuth)
	cfg     Config
	store   Store
	log     *slog.Logger
	auth    *oidcAuth
	metrics *metrics
	secure  bool // cookies get Secure and the __Host- prefix
	now     func() time.Time

	readiness Readiness
	writers   Waker
	prs       PRPoker
	differ    Differ
	works     Works
}

// Deps are the Server's collaborators.
type Deps struct {
	Config    Config
	Store     Store
	Works     Works
	Readiness Readiness
	Writers   Waker   // may be nil
	PRs       PRPoker // may be nil: webhooks of Git hosts are verified but wake nothing
	Differ    Differ  // may be nil: no diff before write
	Log       *slog.Logger
	Registry  *prometheus.Registry // receives the HTTP and webhook metrics
	// Accept counts the Works submitted, for the writers to yield to (may be nil).
	Accept *pressure.Meter
}

// New builds the Server.
func New(d Deps) *Server {
	cfg := d.Config
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	u, _ := url.Parse(cfg.PublicURL)
	return &Server{cfg: cfg, store: d.Store, log: d.Log, metrics: newMetrics(d.Registry), secure: u != nil && u.Scheme == "https",
		now: time.Now, readiness: d.Readiness, writers: d.Writers, prs: d.PRs, differ: d.Differ, works: notingWorks{d.Works, d.Accept},
		auth: newOIDCAuth(cfg)}
}

// Handler is the whole site with its middleware: request metrics, panic recovery
// and cross-origin protection on every non-GET request.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	// A webhook authenticates by the token in its URL, never by a cookie: there is
	// no ambient credential to forge, and senders may be browser-based tools.
	cop.AddInsecureBypassPattern("POST /hooks/{token}")
	cop.AddInsecureBypassPattern("POST /hooks/git/{id}")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errCrossOrigin)
	}))
	return s.recoverer(cop.Handler(s.routes()))
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) wakeWriters() {
	if s.writers != nil {
		s.writers.Wake()
	}
}
