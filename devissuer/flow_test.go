package devissuer

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestAuthorizationCodeFlow(t *testing.T) {
	e := newTestEnv(t, nil)
	verifier := oauth2.GenerateVerifier()
	const state, nonce = "state-123", "nonce-456"
	authURL := e.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	form := e.getForm(authURL)
	checkSignInForm(t, form)
	form.values.Set("email", "Dev.Eloper@Example.com")
	form.values.Set("name", "Dev Eloper")
	resp, body := e.submitForm(form)
	cb := resp.Request.URL
	if cb.Path != "/callback" || body != "callback reached" {
		t.Fatalf("sign-in ended at %s with %q, want the callback", cb, body)
	}
	if got := cb.Query().Get("state"); got != state {
		t.Errorf("state = %q, want %q", got, state)
	}
	if got, want := cb.Query().Get("iss"), e.srv.URL+"/dev/oidc"; got != want {
		t.Errorf("iss = %q, want %q", got, want)
	}

	tok, err := e.oauth.Exchange(e.ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token type %q, expiry %v; want Bearer with an expiry", tok.TokenType, tok.Expiry)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := e.provider.Verifier(&oidc.Config{ClientID: testClientID}).Verify(e.ctx, rawID)
	if err != nil {
		t.Fatalf("Verify ID token: %v", err)
	}
	if idToken.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", idToken.Nonce, nonce)
	}
	want := claims{Email: "dev.eloper@example.com", EmailVerified: true, Name: "Dev Eloper"}
	var got claims
	if err := idToken.Claims(&got); err != nil {
		t.Fatalf("Claims: %v", err)
	}
	if got != want {
		t.Errorf("ID token claims = %+v, want %+v", got, want)
	}
	if want := (user{Email: want.Email}).subject(); idToken.Subject != want || len(want) != len("dev-")+16 {
		t.Errorf("sub = %q, want %q", idToken.Subject, want)
	}

	info, err := e.provider.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	if info.Subject != idToken.Subject || info.Email != want.Email || !info.EmailVerified {
		t.Errorf("userinfo = %+v, want sub %q email %q verified", info, idToken.Subject, want.Email)
	}
}

type claims struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
}

// checkSignInForm proves the field names and shape the login relies on.
func checkSignInForm(t *testing.T, form htmlForm) {
	t.Helper()
	if form.method != "post" || form.action.Path != "/dev/oidc/authorize" {
		t.Errorf("form posts %q to %s, want post to /dev/oidc/authorize", form.method, form.action)
	}
	email, name := form.inputs["email"], form.inputs["name"]
	if email == nil || email["type"] != "email" || !hasAttr(email, "required") {
		t.Errorf("email input = %v, want a required input of type email", email)
	}
	if name == nil || hasAttr(name, "required") {
		t.Errorf("name input = %v, want an optional input", name)
	}
	for _, in := range []htmlNode{email, name} {
		if !form.labels[in["id"]] {
			t.Errorf("input %q has no label", in["name"])
		}
	}
	if !slices.Equal(form.submit, []string{"Sign in"}) {
		t.Errorf("submit buttons = %q, want [Sign in]", form.submit)
	}
	for _, p := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if form.values.Get(p) == "" {
			t.Errorf("form does not carry %s", p)
		}
	}
}

func hasAttr(n htmlNode, key string) bool {
	_, ok := n[key]
	return ok
}

func TestDiscoveryAdvertisesS256(t *testing.T) {
	e := newTestEnv(t, nil)
	var meta struct {
		Issuer  string   `json:"issuer"`
		Methods []string `json:"code_challenge_methods_supported"`
		Auth    []string `json:"token_endpoint_auth_methods_supported"`
		Scopes  []string `json:"scopes_supported"`
	}
	if err := e.provider.Claims(&meta); err != nil {
		t.Fatalf("Claims: %v", err)
	}
	if !slices.Equal(meta.Methods, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %q, want [S256]", meta.Methods)
	}
	if !slices.Equal(meta.Auth, []string{"client_secret_basic", "client_secret_post"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %q", meta.Auth)
	}
	if !slices.Equal(meta.Scopes, []string{"openid", "email", "profile"}) {
		t.Errorf("scopes_supported = %q", meta.Scopes)
	}
	if meta.Issuer != e.srv.URL+"/dev/oidc" {
		t.Errorf("issuer = %q, want %q", meta.Issuer, e.srv.URL+"/dev/oidc")
	}
}

func TestJWKSHasKeyID(t *testing.T) {
	e := newTestEnv(t, nil)
	resp, err := http.Get(e.srv.URL + "/dev/oidc/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid, Kty, Alg, Use, D string
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k.Kid == "" || k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.D != "" {
		t.Errorf("key = %+v, want a public RS256 signing key with a kid", k)
	}
}
