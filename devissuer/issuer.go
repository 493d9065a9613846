// Package devissuer is a small OpenID Connect provider for local development only.
//
// A fresh checkout of Stateward has no company identity provider to log in with, yet
// the dashboard only accepts OIDC logins (authorization code flow with PKCE). Rather
// than adding a second, password-less login path that production would never
// exercise, the binary mounts this issuer on its own server: it is a real issuer that
// go-oidc discovers and verifies like any other, so the development login runs exactly
// the code that production runs. It asks for no password — anyone who can reach it can
// be anyone — which is why the caller mounts it only when no issuer is configured and
// the server listens on loopback. Keys, codes and tokens live in memory and vanish on
// restart.
package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	codeTTL      = 60 * time.Second // lifetime of an authorization code
	tokenTTL     = 10 * time.Minute // lifetime of access and ID tokens
	maxFormBytes = 64 << 10         // request bodies of /authorize and /token
	signingAlg   = jose.RS256
)

// Config describes the one client the issuer serves.
type Config struct {
	// Issuer is the absolute URL the issuer is mounted at, without a trailing slash,
	// e.g. "http://127.0.0.1:8080/dev/oidc". Discovery is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// ClientID and ClientSecret are the credentials of the single registered client.
	ClientID, ClientSecret string
	// RedirectURIs is the exact-match allow list of redirect URIs.
	RedirectURIs []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issuer is an http.Handler serving the OIDC endpoints. Its routes are relative to the
// mount point: the caller strips the prefix (http.StripPrefix("/dev/oidc", issuer)).
type Issuer struct {
	cfg    Config
	now    func() time.Time
	signer jose.Signer
	keys   jose.JSONWebKeySet
	store  *store
	mux    *http.ServeMux
}

// New validates cfg and creates an issuer with a fresh RSA-2048 signing key held only
// in memory.
func New(cfg Config) (*Issuer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.RedirectURIs = slices.Clone(cfg.RedirectURIs)
	signer, keys, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	i := &Issuer{cfg: cfg, now: cfg.Now, signer: signer, keys: keys, store: newStore()}
	if i.now == nil {
		i.now = time.Now
	}
	i.mux = i.routes()
	return i, nil
}

// ServeHTTP serves the issuer's endpoints at paths relative to its mount point.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i.mux.ServeHTTP(w, r)
}

func (i *Issuer) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.handleDiscovery)
	mux.HandleFunc("GET /jwks", i.handleJWKS)
	mux.HandleFunc("GET /authorize", i.handleAuthorize)
	mux.Handle("POST /authorize", http.NewCrossOriginProtection().Handler(http.HandlerFunc(i.handleSignIn)))
	mux.HandleFunc("POST /token", i.handleToken)
	mux.HandleFunc("GET /userinfo", i.handleUserInfo)
	mux.HandleFunc("POST /userinfo", i.handleUserInfo)
	return mux
}

func (i *Issuer) endpoint(path string) string {
	return i.cfg.Issuer + path
}

func (c Config) validate() error {
	if !isAbsoluteHTTP(c.Issuer) || strings.HasSuffix(c.Issuer, "/") || strings.ContainsAny(c.Issuer, "?#") {
		return fmt.Errorf("devissuer: issuer %q must be an absolute http(s) URL without query, fragment or trailing slash", c.Issuer)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return errors.New("devissuer: client ID and client secret are required")
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("devissuer: at least one redirect URI is required")
	}
	for _, uri := range c.RedirectURIs {
		if !isAbsoluteHTTP(uri) || strings.Contains(uri, "#") {
			return fmt.Errorf("devissuer: redirect URI %q must be an absolute http(s) URL without fragment", uri)
		}
	}
	return nil
}

func isAbsoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// newSigningKey generates the RSA key and returns a signer plus the public key set,
// both carrying the key's RFC 7638 thumbprint as kid.
func newSigningKey() (jose.Signer, jose.JSONWebKeySet, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, jose.JSONWebKeySet{}, fmt.Errorf("devissuer: generate key: %w", err)
	}
	public := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(signingAlg), Use: "sig"}
	thumb, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, jose.JSONWebKeySet{}, fmt.Errorf("devissuer: key thumbprint: %w", err)
	}
	public.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	private := jose.JSONWebKey{Key: key, KeyID: public.KeyID, Algorithm: string(signingAlg)}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: signingAlg, Key: private}, opts)
	if err != nil {
		return nil, jose.JSONWebKeySet{}, fmt.Errorf("devissuer: signer: %w", err)
	}
	return signer, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{public}}, nil
}
