package devissuer

import (
	"net/http"
	"strings"
)

// discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0 section 3).
type discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ResponseIssParameterSupported     bool     `json:"authorization_response_iss_parameter_supported"`
}

// userInfo is the /userinfo answer.
type userInfo struct {
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name,omitempty"`
}

func (i *Issuer) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, discovery{
		Issuer:                            i.cfg.Issuer,
		AuthorizationEndpoint:             i.endpoint("/authorize"),
		TokenEndpoint:                     i.endpoint("/token"),
		JWKSURI:                           i.endpoint("/jwks"),
		UserInfoEndpoint:                  i.endpoint("/userinfo"),
		ResponseTypesSupported:            []string{"code"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{string(signingAlg)},
		ScopesSupported:                   []string{"openid", "email", "profile"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		GrantTypesSupported:               []string{"authorization_code"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
			"email", "email_verified", "name"},
		ResponseIssParameterSupported: true,
	})
}

func (i *Issuer) handleJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, i.keys)
}

// handleUserInfo answers for a Bearer access token (OpenID Connect Core 5.3).
func (i *Issuer) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	u, ok := i.store.lookupToken(token, i.now())
	if !strings.EqualFold(scheme, "Bearer") || token == "" || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, &oauthError{Code: "invalid_token",
			Description: "the access token is missing, unknown or expired"})
		return
	}
	writeJSON(w, http.StatusOK, userInfo{u.subject(), u.Email, true, u.Name})
}
