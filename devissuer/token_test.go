package devissuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestReplayedCodeIsRefusedAndRevokesToken(t *testing.T) {
	e := newTestEnv(t, nil)
	verifier := oauth2.GenerateVerifier()
	code := e.code(verifier)
	tok, err := e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("first Exchange: %v", err)
	}
	_, err = e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if got := oauthErrorCode(t, err); got != "invalid_grant" {
		t.Errorf("replayed code: error %q, want invalid_grant", got)
	}
	if _, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("userinfo accepted the access token issued from a replayed code")
	}
}

func TestCodeVerifierIsRequiredAndChecked(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}},
		{"missing verifier", nil},
		{"too short verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption("abc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			code := e.code(verifier)
			_, err := e.oauth.Exchange(e.ctx, code, tt.opts...)
			if got := oauthErrorCode(t, err); got != "invalid_grant" {
				t.Errorf("error %q, want invalid_grant", got)
			}
			// The failed attempt burnt the code: guessing verifiers gets one try.
			_, err = e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
			if got := oauthErrorCode(t, err); got != "invalid_grant" {
				t.Errorf("retry with the right verifier: error %q, want invalid_grant", got)
			}
		})
	}
}

func TestWrongClientSecretIsRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		verifier := oauth2.GenerateVerifier()
		code := e.code(verifier)
		cfg := e.oauth
		cfg.ClientSecret = "wrong"
		cfg.Endpoint.AuthStyle = style
		_, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthErrorCode(t, err); got != "invalid_client" {
			t.Errorf("auth style %d: error %q, want invalid_client", style, got)
		}
		if status := err.(*oauth2.RetrieveError).Response.StatusCode; status != http.StatusUnauthorized {
			t.Errorf("auth style %d: status %d, want 401", style, status)
		}
	}
}

func TestClientSecretPostIsAccepted(t *testing.T) {
	e := newTestEnv(t, nil)
	verifier := oauth2.GenerateVerifier()
	cfg := e.oauth
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	if _, err := cfg.Exchange(e.ctx, e.code(verifier), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("Exchange with client_secret_post: %v", err)
	}
}

func TestExpiredCodeIsRefused(t *testing.T) {
	clock := &testClock{now: time.Now()}
	e := newTestEnv(t, clock.Now)
	verifier := oauth2.GenerateVerifier()
	code := e.code(verifier)
	clock.advance(codeTTL)
	_, err := e.oauth.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
	if got := oauthErrorCode(t, err); got != "invalid_grant" {
		t.Errorf("expired code: error %q, want invalid_grant", got)
	}
}

func TestTokenRequestErrors(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name       string
		form       func(url.Values)
		basic      bool
		wantStatus int
		wantError  string
	}{
		{"missing grant_type", func(v url.Values) { v.Del("grant_type") }, true, 400, "invalid_request"},
		{"other grant_type", func(v url.Values) { v.Set("grant_type", "password") }, true, 400, "unsupported_grant_type"},
		{"other redirect_uri", func(v url.Values) { v.Set("redirect_uri", e.srv.URL+"/other") }, true, 400, "invalid_grant"},
		{"unknown code", func(v url.Values) { v.Set("code", "nope") }, true, 400, "invalid_grant"},
		{"no client auth", func(url.Values) {}, false, 401, "invalid_client"},
		{"two client auth methods", func(v url.Values) { v.Set("client_secret", testClientSecret) }, true, 400, "invalid_request"},
		{"repeated parameter", func(v url.Values) { v.Add("code", "again") }, true, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {e.code(verifier)},
				"redirect_uri": {e.oauth.RedirectURL}, "code_verifier": {verifier}}
			tt.form(form)
			status, body := e.postToken(form, tt.basic)
			if status != tt.wantStatus || body.Error != tt.wantError {
				t.Errorf("got %d %q, want %d %q", status, body.Error, tt.wantStatus, tt.wantError)
			}
		})
	}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (e *testEnv) postToken(form url.Values, basic bool) (int, errorBody) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/dev/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(testClientID, testClientSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		e.t.Errorf("Cache-Control = %q, want no-store", got)
	}
	var body errorBody
	if err := json.Unmarshal([]byte(readBody(e.t, resp)), &body); err != nil {
		e.t.Errorf("decode error body: %v", err)
	}
	return resp.StatusCode, body
}

func TestUserInfoRefusesUnknownToken(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, header := range []string{"", "Bearer unknown", "Basic " + testClientSecret} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/dev/oidc/userinfo", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d, want 401 with WWW-Authenticate", header, resp.StatusCode)
		}
	}
}
