package web_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

const sessionCookie = "stateward_session"

func TestLoginFlow(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	resp, body := h.login(b, "alice@example.com")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/teams/new" {
		t.Fatalf("after login got %d at %s, want 200 at /teams/new", resp.StatusCode, resp.Request.URL.Path)
	}
	if !strings.Contains(body, "alice@example.com") {
		t.Errorf("page after login does not show the signed-in email")
	}
	auth := b.lastVisited("/")
	if auth == nil {
		t.Fatal("no redirects recorded")
	}
	var authorize *url.URL
	for _, u := range b.visited {
		if strings.HasSuffix(u.Path, "/authorize") {
			authorize = u
		}
	}
	if authorize == nil {
		t.Fatal("login did not go through the issuer's authorize endpoint")
	}
	q := authorize.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(p) == "" {
			t.Errorf("authorize request lacks %s", p)
		}
	}
	if got := q.Get("code_challenge_method"); got != "S256" {
		t.Errorf("code_challenge_method = %q, want S256", got)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	h := newHarness(t, nil)
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "s1", Email: "alice@example.com", EmailVerified: true})
	b := newBrowser(t)
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/auth/callback" {
			return nil
		}
		if strings.HasPrefix(req.URL.String(), h.URL) && req.URL.Path != "/auth/callback" && len(via) > 1 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, _ := b.get(t, h.URL+"/login")
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			found = c
		}
	}
	if found == nil {
		t.Fatalf("callback set no %s cookie (status %d)", sessionCookie, resp.StatusCode)
	}
	if !found.HttpOnly || found.SameSite != http.SameSiteLaxMode || found.Path != "/" {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, Path=/", found)
	}
}

func TestForgedStateRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	resp, body := b.get(t, h.URL+"/auth/callback?state=forged&code=whatever")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged state: got %d, want 400", resp.StatusCode)
	}
	if !strings.Contains(body, "has expired") {
		t.Errorf("forged state page does not say why")
	}
	if b.cookie(t, h.URL, sessionCookie) != "" {
		t.Error("a session was created for a forged state")
	}
}

func TestReplayedCallbackAndCodeRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	cb := b.lastVisited("/auth/callback")
	if cb == nil {
		t.Fatal("no callback recorded")
	}
	// The very same callback again: its state was used once already.
	attacker := newBrowser(t)
	if resp, _ := attacker.get(t, cb.String()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback: got %d, want 400", resp.StatusCode)
	}
	// The old code with a fresh, valid state: the issuer refuses the used code.
	attacker.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := attacker.get(t, h.URL+"/login")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	state := loc.Query().Get("state")
	replay := h.URL + "/auth/callback?state=" + url.QueryEscape(state) + "&code=" + url.QueryEscape(cb.Query().Get("code"))
	if resp, _ := attacker.get(t, replay); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed code: got %d, want 400", resp.StatusCode)
	}
	if attacker.cookie(t, h.URL, sessionCookie) != "" {
		t.Error("a session was created from a replayed code")
	}
}

// TestWrongAudienceRefused: the issuer signs an ID token for another client; the
// signature is valid, the audience is not ours.
func TestWrongAudienceRefused(t *testing.T) {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddMiddleware(reAudience(m, "some-other-client")); err != nil {
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
	h := newHarness(t, m)
	b := newBrowser(t)
	resp, body := h.login(b, "alice@example.com")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "audience") {
		t.Fatalf("wrong audience: got %d %q, want 400 naming the audience", resp.StatusCode, snippet(body))
	}
	if b.cookie(t, h.URL, sessionCookie) != "" {
		t.Error("a session was created for a token meant for another client")
	}
}

// reAudience rewrites the token endpoint's ID token to another audience, signed
// with the issuer's own key.
func reAudience(m *mockoidc.MockOIDC, aud string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/token") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var tr map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &tr); err == nil {
				if raw, ok := tr["id_token"].(string); ok {
					claims := jwt.MapClaims{}
					_, _, _ = jwt.NewParser().ParseUnverified(raw, claims)
					claims["aud"] = aud
					tr["id_token"], _ = m.Keypair.SignJWT(claims)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(tr)
		})
	}
}

func TestSessionFixation(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	first := b.cookie(t, h.URL, sessionCookie)
	if first == "" {
		t.Fatal("no session after login")
	}
	h.login(b, "alice@example.com")
	second := b.cookie(t, h.URL, sessionCookie)
	if second == "" || second == first {
		t.Fatalf("session id did not change at login: %q then %q", first, second)
	}
	// The old id is dead.
	old := newBrowser(t)
	old.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/teams/new", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: first})
	resp, err := old.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("old session id: got %d → %q, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	id := b.cookie(t, h.URL, sessionCookie)
	resp, _ := b.post(t, h.URL+"/logout", nil)
	if resp.Request.URL.Path != "/" || resp.StatusCode != http.StatusOK {
		t.Fatalf("logout ended at %d %s, want the landing page", resp.StatusCode, resp.Request.URL.Path)
	}
	if b.cookie(t, h.URL, sessionCookie) != "" {
		t.Error("logout left the cookie")
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/teams/new", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusSeeOther {
		t.Errorf("killed session still works: %d", r2.StatusCode)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/teams", strings.NewReader("slug=evil"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: got %d, want 403", resp.StatusCode)
	}
}

func snippet(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
