package devissuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// tokenResponse is the successful /token answer (OpenID Connect Core 3.1.3.3).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	IDToken     string `json:"id_token"`
}

// idClaims are the claims of an ID token.
type idClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Audience      string `json:"aud"`
	Expiry        int64  `json:"exp"`
	IssuedAt      int64  `json:"iat"`
	AuthTime      int64  `json:"auth_time"`
	Nonce         string `json:"nonce,omitempty"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name,omitempty"`
}

// handleToken exchanges an authorization code for tokens.
func (i *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, err := i.exchange(w, r)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (i *Issuer) exchange(w http.ResponseWriter, r *http.Request) (tokenResponse, error) {
	form, err := readForm(w, r)
	if err != nil {
		return tokenResponse{}, err
	}
	if err := i.authenticateClient(r, form); err != nil {
		return tokenResponse{}, err
	}
	if err := checkGrantType(form.Get("grant_type")); err != nil {
		return tokenResponse{}, err
	}
	now := i.now()
	check := func(g grant) error { return checkRedemption(g, form) }
	g, access, err := i.store.redeem(form.Get("code"), i.cfg.ClientID, now, check)
	if err != nil {
		return tokenResponse{}, err
	}
	idToken, err := i.signIDToken(g, now)
	if err != nil {
		return tokenResponse{}, err
	}
	expiresIn := int(tokenTTL / time.Second)
	return tokenResponse{access, "Bearer", expiresIn, idToken}, nil
}

// authenticateClient accepts client_secret_basic or client_secret_post, but not both
// at once (RFC 6749 section 2.3).
func (i *Issuer) authenticateClient(r *http.Request, form url.Values) error {
	id, secret, basic := r.BasicAuth()
	_, inForm := form["client_secret"]
	switch {
	case basic && inForm:
		return invalidRequest("use one client authentication method, not two")
	case basic:
		// RFC 6749 section 2.3.1: both parts are form-encoded before base64.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	case inForm:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	default:
		return invalidClient("client authentication is required")
	}
	if !equalSecret(id, i.cfg.ClientID) || !equalSecret(secret, i.cfg.ClientSecret) {
		return invalidClient("client authentication failed")
	}
	return nil
}

// equalSecret compares in constant time, lengths included, by comparing hashes.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func checkGrantType(grantType string) error {
	switch grantType {
	case "":
		return invalidRequest("grant_type is required")
	case "authorization_code":
		return nil
	}
	return &oauthError{http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is supported"}
}

// checkRedemption checks the redirect URI and the PKCE verifier against the grant.
func checkRedemption(g grant, form url.Values) error {
	if form.Get("redirect_uri") != g.redirectURI {
		return invalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		return invalidGrant("code_verifier is required")
	}
	if !validPKCE(verifier, 43, 128) || !equalSecret(s256(verifier), g.challenge) {
		return invalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// s256 is the PKCE S256 transformation (RFC 7636 section 4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validPKCE reports whether s is a verifier or challenge: unreserved characters only,
// between minLen and maxLen long (RFC 7636 section 4.1).
func validPKCE(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

// signIDToken returns the signed ID token for g.
func (i *Issuer) signIDToken(g grant, now time.Time) (string, error) {
	claims := idClaims{
		Issuer: i.cfg.Issuer, Subject: g.user.subject(), Audience: g.clientID,
		Expiry: now.Add(tokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: g.authTime.Unix(),
		Nonce: g.nonce, Email: g.user.Email, EmailVerified: true, Name: g.user.Name,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devissuer: encode claims: %w", err)
	}
	jws, err := i.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign ID token: %w", err)
	}
	return jws.CompactSerialize()
}
