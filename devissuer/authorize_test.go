package devissuer

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// validQuery is a correct authorization request for e.
func (e *testEnv) validQuery() url.Values {
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	return url.Values{"client_id": {testClientID}, "redirect_uri": {e.oauth.RedirectURL},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"st"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

// authorize sends GET /authorize without following redirects.
func (e *testEnv) authorize(q url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.noFollow.Get(e.srv.URL + "/dev/oidc/authorize?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func TestAuthorizeErrorsRedirectToClient(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name      string
		change    func(url.Values)
		wantError string
		wantState string
	}{
		{"missing response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request", "st"},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", "st"},
		{"no openid scope", func(q url.Values) { q.Set("scope", "email profile") }, "invalid_scope", "st"},
		{"missing state", func(q url.Values) { q.Del("state") }, "invalid_request", ""},
		{"repeated state", func(q url.Values) { q.Add("state", "x") }, "invalid_request", ""},
		{"missing PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", "st"},
		{"missing challenge method", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request", "st"},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request", "st"},
		{"malformed challenge", func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request", "st"},
		{"state with control character", func(q url.Values) { q.Set("state", "a\nb") }, "invalid_request", "a\nb"},
		{"oversized nonce", func(q url.Values) { q.Set("nonce", strings.Repeat("n", maxParamLen+1)) }, "invalid_request", "st"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.validQuery()
			tt.change(q)
			resp, _ := e.authorize(q)
			loc, err := resp.Location()
			if resp.StatusCode != http.StatusSeeOther || err != nil {
				t.Fatalf("status %d, Location error %v; want a 303 redirect", resp.StatusCode, err)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.oauth.RedirectURL {
				t.Errorf("redirected to %s, want %s", got, e.oauth.RedirectURL)
			}
			got := loc.Query()
			if got.Get("error") != tt.wantError || got.Get("state") != tt.wantState || got.Get("code") != "" {
				t.Errorf("redirect query = %v, want error %q and state %q without code", got, tt.wantError, tt.wantState)
			}
		})
	}
}

func TestAuthorizeUntrustedClientShowsErrorPage(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name   string
		change func(url.Values)
	}{
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }},
		{"redirect_uri with extra path", func(q url.Values) { q.Set("redirect_uri", e.oauth.RedirectURL+"/x") }},
		{"redirect_uri with query", func(q url.Values) { q.Set("redirect_uri", e.oauth.RedirectURL+"?x=1") }},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }},
		{"repeated redirect_uri", func(q url.Values) { q.Add("redirect_uri", e.oauth.RedirectURL) }},
		{"unknown client_id", func(q url.Values) { q.Set("client_id", "other") }},
		{"missing client_id", func(q url.Values) { q.Del("client_id") }},
		{"bad client and PKCE", func(q url.Values) { q.Set("client_id", "other"); q.Del("code_challenge") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.validQuery()
			tt.change(q)
			resp, body := e.authorize(q)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("status %d, Location %q; want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, `data-testid="error"`) || !strings.Contains(body, "<title>"+pageTitle+"</title>") {
				t.Errorf("body does not show the error page:\n%s", body)
			}
		})
	}
}

func TestSignInPageEscapesInput(t *testing.T) {
	e := newTestEnv(t, nil)
	const attack = `"><script>alert(1)</script>`
	q := e.validQuery()
	q.Set("state", attack)
	q.Set("nonce", attack)
	resp, body := e.authorize(q)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "<script") {
		t.Fatalf("status %d, want 200 with the state escaped; body:\n%s", resp.StatusCode, body)
	}
	form := parseForm(t, resp.Request.URL, body)
	if got := form.values.Get("state"); got != attack {
		t.Errorf("hidden state = %q, want %q", got, attack)
	}

	form.values.Set("email", "<script>alert(1)</script>@example.com")
	resp, body = e.submitForm(form)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("invalid email: status %d, want 422", resp.StatusCode)
	}
	if strings.Contains(body, "<script") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;@example.com") {
		t.Errorf("invalid email is not shown escaped:\n%s", body)
	}
	if !strings.Contains(body, `data-testid="problem"`) {
		t.Errorf("no problem shown for an invalid email:\n%s", body)
	}
}

func TestRecentUsersSignInWithOneClick(t *testing.T) {
	e := newTestEnv(t, nil)
	const name = "<script>alert('name')</script>"
	e.signIn(e.oauth.AuthCodeURL("first", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "recent@example.com", name)

	verifier := oauth2.GenerateVerifier()
	resp, err := e.browser.Get(e.oauth.AuthCodeURL("second", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n2")))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if strings.Contains(body, "<script") || !strings.Contains(body, `data-testid="recent-user"`) {
		t.Fatalf("recent user missing or not escaped:\n%s", body)
	}
	form := parseForm(t, resp.Request.URL, body)
	form.values.Set("recent", "recent@example.com") // the button's name and value
	resp, _ = e.submitForm(form)
	tok, err := e.oauth.Exchange(e.ctx, resp.Request.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	info, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	var got claims
	if err := info.Claims(&got); err != nil {
		t.Fatal(err)
	}
	if want := (claims{"recent@example.com", true, name}); got != want {
		t.Errorf("userinfo = %+v, want %+v", got, want)
	}
}

func TestSignInRefusesCrossOriginPost(t *testing.T) {
	e := newTestEnv(t, nil)
	form := e.getForm(e.oauth.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form.values.Set("email", "dev@example.com")
	req, _ := http.NewRequest(http.MethodPost, form.action.String(), strings.NewReader(form.values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := e.noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: status %d, want 403", resp.StatusCode)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	good := Config{Issuer: "http://127.0.0.1:8080/dev/oidc", ClientID: "c", ClientSecret: "s",
		RedirectURIs: []string{"http://127.0.0.1:8080/auth/callback"}}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"relative issuer", func(c *Config) { c.Issuer = "/dev/oidc" }},
		{"issuer with trailing slash", func(c *Config) { c.Issuer += "/" }},
		{"issuer with query", func(c *Config) { c.Issuer += "?a=b" }},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }},
		{"no redirect URIs", func(c *Config) { c.RedirectURIs = nil }},
		{"redirect URI with fragment", func(c *Config) { c.RedirectURIs = []string{"http://127.0.0.1/cb#x"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", cfg)
			}
		})
	}
}

// FuzzParseAuthRequest checks that any query either fails with one of the two error
// kinds or yields a request whose sign-in page carries it back unchanged.
func FuzzParseAuthRequest(f *testing.F) {
	iss, err := New(Config{Issuer: "http://127.0.0.1:8080/dev/oidc", ClientID: testClientID,
		ClientSecret: testClientSecret, RedirectURIs: []string{"http://127.0.0.1:8080/callback"}})
	if err != nil {
		f.Fatal(err)
	}
	challenge := oauth2.S256ChallengeFromVerifier("verifier-verifier-verifier-verifier-verifier")
	f.Add("client_id=stateward&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&response_type=code&scope=openid&state=s&code_challenge=" + challenge + "&code_challenge_method=S256")
	f.Add("client_id=stateward&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&response_type=code&scope=openid+email&state=%22%3E%3Cscript%3E&nonce=%3C%2Fstyle%3E&code_challenge=" + challenge + "&code_challenge_method=S256")
	f.Add("client_id=stateward&redirect_uri=http%3A%2F%2Fevil&response_type=code")
	f.Add("client_id=stateward&client_id=x&scope=openid")
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := iss.parseAuthRequest(v)
		var pe *pageError
		var oe *oauthError
		switch {
		case errors.As(err, &pe):
			return
		case errors.As(err, &oe):
			if !slices.Contains(iss.cfg.RedirectURIs, req.RedirectURI) {
				t.Fatalf("oauth error %v would redirect to unregistered %q", oe, req.RedirectURI)
			}
			return
		case err != nil:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		checkFuzzedRequest(t, iss, req)
	})
}

func checkFuzzedRequest(t *testing.T, iss *Issuer, req authRequest) {
	if !validPKCE(req.CodeChallenge, 43, 43) || req.State == "" ||
		!slices.Contains(strings.Fields(req.Scope), "openid") {
		t.Fatalf("accepted invalid request %+v", req)
	}
	rec := httptest.NewRecorder()
	iss.renderSignIn(rec, http.StatusOK, signInPage{Request: req})
	base, _ := url.Parse(iss.cfg.Issuer + "/authorize")
	form := parseForm(t, base, rec.Body.String())
	want := map[string]string{"client_id": req.ClientID, "redirect_uri": req.RedirectURI,
		"scope": req.Scope, "state": req.State, "nonce": req.Nonce, "code_challenge": req.CodeChallenge}
	for k, w := range want {
		if got := form.values.Get(k); got != w && !(k == "nonce" && w == "") {
			t.Fatalf("hidden %s = %q, want %q", k, got, w)
		}
	}
}
