package web_test

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/web"
)

// callbackURL runs the attacker's half of a login: /login and the issuer, up to
// (not including) the callback, and returns the callback URL it would follow.
func (h *harness) callbackURL(b *browser, email string) string {
	h.t.Helper()
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
	var cb string
	b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/auth/callback" {
			cb = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	b.get(h.t, h.URL+"/login")
	b.CheckRedirect = nil
	if cb == "" {
		h.t.Fatal("the issuer did not redirect to the callback")
	}
	return cb
}

// TestLoginCSRFRefused: a callback URL produced in the attacker's browser does not
// sign the victim's browser in; in the attacker's own browser it still works.
func TestLoginCSRFRefused(t *testing.T) {
	h := newHarness(t, nil)
	attacker := newBrowser(t)
	cb := h.callbackURL(attacker, "mallory@example.com")

	victim := newBrowser(t)
	resp, body := victim.get(t, cb)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "another browser") {
		t.Errorf("victim following the attacker's callback: %d %s, want 400", resp.StatusCode, snippet(body))
	}
	if victim.cookie(t, h.URL, sessionCookie) != "" {
		t.Fatal("the victim's browser was signed in as the attacker")
	}
	// A victim who has a login cookie of their own (started a sign-in) is refused too.
	victim2 := newBrowser(t)
	victim2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	victim2.get(t, h.URL+"/login")
	victim2.CheckRedirect = nil
	cb2 := h.callbackURL(attacker, "mallory@example.com")
	if resp, _ := victim2.get(t, cb2); resp.StatusCode != http.StatusBadRequest || victim2.cookie(t, h.URL, sessionCookie) != "" {
		t.Errorf("victim with a login cookie of their own: %d, signed in: %v", resp.StatusCode, victim2.cookie(t, h.URL, sessionCookie) != "")
	}
	// The browser that started the sign-in finishes it.
	cb3 := h.callbackURL(attacker, "mallory@example.com")
	if resp, _ := attacker.get(t, cb3); resp.StatusCode != http.StatusOK || attacker.cookie(t, h.URL, sessionCookie) == "" {
		t.Errorf("own callback: %d, want signed in", resp.StatusCode)
	}
}

func TestLoginCookieAttributes(t *testing.T) {
	h := newHarness(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == "stateward_login" {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 || c.MaxAge > 900 {
		t.Errorf("login cookie = %+v, want HttpOnly, SameSite=Lax, short-lived", c)
	}
}

// TestLoginReturnOnlyLocal: after sign-in the browser lands on the requested path
// only when it is a clean path on this site.
func TestLoginReturnOnlyLocal(t *testing.T) {
	h := newHarness(t, nil)
	cases := map[string]string{
		"/%09/evil.example":      "/teams/new",
		"/%0a/evil.example":      "/teams/new",
		"/%5Cevil.example":       "/teams/new",
		"%2F%2Fevil.example":     "/teams/new",
		"/%2F%2Fevil.example":    "/teams/new",
		"https://evil.example/":  "/teams/new",
		"/\\evil.example":        "/teams/new",
		"/%20/evil.example":      "/teams/new",
		"/teams/new?from=return": "/teams/new?from=return",
	}
	for ret, want := range cases {
		b := newBrowser(t)
		h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "s", Email: "alice@example.com", EmailVerified: true})
		var final *url.URL
		b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			final = req.URL
			if req.URL.Host != strings.TrimPrefix(h.URL, "http://") && !strings.HasPrefix(req.URL.String(), h.OIDC.Issuer()) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		b.get(t, h.URL+"/login?return="+ret)
		if final == nil || final.Host != strings.TrimPrefix(h.URL, "http://") || final.RequestURI() != want {
			t.Errorf("return=%s: ended at %v, want %s on this site", ret, final, want)
		}
	}
}

// TestForgedCallbackErrorNotShown: the error text of a callback whose state is not
// a live sign-in of this browser is never displayed.
func TestForgedCallbackErrorNotShown(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	resp, body := b.get(t, h.URL+"/auth/callback?state=forged&error=access_denied&error_description=Call+0800-SCAM+to+unlock")
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "SCAM") || strings.Contains(body, "access_denied") {
		t.Errorf("forged error callback: %d %s", resp.StatusCode, snippet(body))
	}
}

// TestIdPUnreachable: /login answers 503 naming the issuer, and recovers when it
// is back.
func TestIdPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := openDB(t)
	issuer := "http://" + addr + "/oidc"
	srv := httptest.NewServer(web.New(web.Deps{Config: web.Config{PublicURL: "http://127.0.0.1", OIDCIssuer: issuer, OIDCClientID: "c",
		OIDCClientSecret: "s"}, Store: d, Works: d, Log: slog.New(slog.NewTextHandler(tlog{t}, nil)), Registry: prometheus.NewRegistry()}).Handler())
	t.Cleanup(srv.Close)
	resp, body := newBrowser(t).get(t, srv.URL+"/login")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "the identity provider at "+issuer+" is unreachable") {
		t.Errorf("/login with the issuer down: %d %s", resp.StatusCode, snippet(body))
	}
	// The issuer comes up at that address: the next /login goes to it.
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), issuer) {
		t.Errorf("/login once the issuer is up: %d → %q, want a redirect to it", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestIssuerWithTrailingSlash: an issuer whose identifier ends in "/" (as Auth0's
// do) signs in when configured exactly so.
func TestIssuerWithTrailingSlash(t *testing.T) {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddMiddleware(slashIssuer(m)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	h := newHarnessWith(t, m, func(c *web.Config) { c.OIDCIssuer = m.Issuer() + "/" })
	b := newBrowser(t)
	resp, body := h.login(b, "alice@example.com")
	if resp.StatusCode != http.StatusOK || b.cookie(t, h.URL, sessionCookie) == "" {
		t.Fatalf("login through an issuer ending in /: %d %s", resp.StatusCode, snippet(body))
	}
}

// slashIssuer makes mockoidc announce and sign as its issuer plus "/".
func slashIssuer(m *mockoidc.MockOIDC) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			discovery := strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration")
			if !discovery && !strings.HasSuffix(r.URL.Path, "/token") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err == nil {
				if discovery {
					doc["issuer"] = m.Issuer() + "/"
				} else if raw, ok := doc["id_token"].(string); ok {
					claims := jwt.MapClaims{}
					_, _, _ = jwt.NewParser().ParseUnverified(raw, claims)
					claims["iss"] = m.Issuer() + "/"
					doc["id_token"], _ = m.Keypair.SignJWT(claims)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
		})
	}
}

// TestSignInReturnsToTheRequestedPage: a signed-out GET is sent to the login with
// its path and query escaped, and comes back to exactly that page.
func TestSignInReturnsToTheRequestedPage(t *testing.T) {
	h := newHarness(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.URL + "/teams/new?from=a%26b")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if want := "/login?return=" + url.QueryEscape("/teams/new?from=a%26b"); loc != want {
		t.Fatalf("signed-out redirect to %q, want %q", loc, want)
	}
	b := newBrowser(t)
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "s", Email: "alice@example.com", EmailVerified: true})
	resp, _ = b.get(t, h.URL+loc)
	if got := resp.Request.URL.RequestURI(); got != "/teams/new?from=a%26b" {
		t.Errorf("after sign-in at %q, want /teams/new?from=a%%26b", got)
	}
}

// TestTwoTabsSignInAtOnce: two sign-ins started in one browser both finish.
func TestTwoTabsSignInAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	first := h.callbackURL(b, "alice@example.com")
	second := h.callbackURL(b, "alice@example.com")
	for i, cb := range []string{second, first} {
		if resp, _ := b.get(t, cb); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/teams/new" {
			t.Errorf("tab %d: %d at %s, want signed in", i+1, resp.StatusCode, resp.Request.URL.Path)
		}
	}
}
