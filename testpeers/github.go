package testpeers

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub's documentation URLs, as its error answers carry them.
const (
	gitHubDocsTokens = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	gitHubDocsJWT    = "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app"
)

// GitHub's own words for the refusals GitHubApp reproduces.
const (
	GitHubJWTUndecodable   = "A JSON web token could not be decoded"
	GitHubIntegrationGone  = "Integration not found"
	GitHubNotFound         = "Not Found"
	GitHubExpTooFar        = "'Expiration time' claim ('exp') is too far in the future"
	GitHubExpNotFuture     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	GitHubIatInvalid       = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	GitHubRequiresAuth     = "Requires authentication"
	gitHubMaxJWTLifetime   = 10 * time.Minute
	gitHubClockSkew        = 30 * time.Second
	defaultGitHubTokenLife = time.Hour
)

// GitHubAppOptions configures GitHubAppAPI.
type GitHubAppOptions struct {
	// AppID and InstallationID are the App's and its installation's numbers;
	// 1234 and 5678 when zero.
	AppID, InstallationID int64
	// TokenLifetime is how long an installation token lives; an hour (as on
	// GitHub) when zero.
	TokenLifetime time.Duration
	// Hold, when set, keeps every token request waiting until it is closed (or
	// the request's context ends), so that a test can gather concurrent callers.
	Hold <-chan struct{}
}

// JWTClaims are the claims of the last JWT GitHubAppAPI accepted.
type JWTClaims struct {
	Iss      string
	Iat, Exp time.Time
	Received time.Time
}

// GitHubAppAPI is a local stand-in for GitHub's installation-token endpoint,
// POST /app/installations/{installation_id}/access_tokens, faithful to what a
// client meets: it verifies the RS256 JWT against the App's public key (GitHub
// keeps only the public half), its iss (the App id), its iat/exp window (exp at
// most ten minutes after iat, in the future) and the installation id, and it
// answers in GitHub's JSON shape — 201 {"token", "expires_at", …} — or with
// GitHub's error bodies {"message", "documentation_url"} and status 401 or 404.
// Pair it with GitHTTP(GitOptions{Authorize: api.Accepts}) for a Git remote that
// takes only the tokens it issued. It listens on 127.0.0.1 until cleanup.
type GitHubAppAPI struct {
	appID, installationID int64
	lifetime              time.Duration
	hold                  <-chan struct{}
	pub                   *rsa.PublicKey
	privatePEM            string
	srv                   *httptest.Server

	mu        sync.Mutex
	tokens    map[string]time.Time // token -> expiry
	exchanges int
	last      JWTClaims
}

// GitHubApp starts the API with a fresh 2048-bit App key.
func GitHubApp(t testing.TB, opts GitHubAppOptions) *GitHubAppAPI {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("github app key: %v", err)
	}
	a := &GitHubAppAPI{appID: opts.AppID, installationID: opts.InstallationID, lifetime: opts.TokenLifetime,
		hold: opts.Hold, pub: &key.PublicKey, tokens: map[string]time.Time{}}
	if a.appID == 0 {
		a.appID = 1234
	}
	if a.installationID == 0 {
		a.installationID = 5678
	}
	if a.lifetime == 0 {
		a.lifetime = defaultGitHubTokenLife
	}
	// GitHub hands out PKCS #1 ("BEGIN RSA PRIVATE KEY") .pem files.
	a.privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", a.accessTokens)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		gitHubError(w, http.StatusNotFound, GitHubNotFound, "https://docs.github.com/rest")
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the API base URL (the githubAPIURL of a store), http://127.0.0.1:PORT.
func (a *GitHubAppAPI) URL() string { return a.srv.URL }

// AppID is the App's id, as the Secret key appID holds it.
func (a *GitHubAppAPI) AppID() string { return strconv.FormatInt(a.appID, 10) }

// InstallationID is the installation's id, as the Secret key installationID holds it.
func (a *GitHubAppAPI) InstallationID() string { return strconv.FormatInt(a.installationID, 10) }

// PrivateKeyPEM is the App's private key as GitHub lets one download it.
func (a *GitHubAppAPI) PrivateKeyPEM() string { return a.privatePEM }

// Exchanges counts the installation tokens issued so far.
func (a *GitHubAppAPI) Exchanges() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exchanges
}

// LastJWT returns the claims of the last JWT accepted.
func (a *GitHubAppAPI) LastJWT() JWTClaims {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// RevokeAll revokes every token issued so far (DELETE /installation/token).
func (a *GitHubAppAPI) RevokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.tokens)
}

// Accepts reports whether user and password are an installation token this API
// issued and that has not expired, with the user GitHub documents for it. Pass
// it as GitOptions.Authorize.
func (a *GitHubAppAPI) Accepts(user, password string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tokens[password]
	return ok && user == "x-access-token" && time.Now().Before(exp)
}

func (a *GitHubAppAPI) accessTokens(w http.ResponseWriter, r *http.Request) {
	if a.hold != nil {
		select {
		case <-a.hold:
		case <-r.Context().Done():
			return
		}
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		gitHubError(w, http.StatusUnauthorized, GitHubRequiresAuth, gitHubDocsTokens)
		return
	}
	claims, status, msg := a.verifyJWT(strings.TrimSpace(bearer))
	if status != 0 {
		gitHubError(w, status, msg, gitHubDocsJWT)
		return
	}
	if r.PathValue("id") != strconv.FormatInt(a.installationID, 10) {
		gitHubError(w, http.StatusNotFound, GitHubNotFound, gitHubDocsTokens)
		return
	}
	a.issue(w, claims)
}

// verifyJWT checks the App JWT the way GitHub does: the App named by iss first
// (its public key is the one to verify with), then the signature, then the time
// window. A non-zero status means refused, with GitHub's message.
func (a *GitHubAppAPI) verifyJWT(raw string) (JWTClaims, int, string) {
	var mc jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &mc); err != nil {
		return JWTClaims{}, http.StatusUnauthorized, GitHubJWTUndecodable
	}
	iss := fmt.Sprint(mc["iss"])
	if f, ok := mc["iss"].(float64); ok {
		iss = strconv.FormatFloat(f, 'f', -1, 64)
	}
	if iss != strconv.FormatInt(a.appID, 10) {
		return JWTClaims{}, http.StatusNotFound, GitHubIntegrationGone
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, &jwt.MapClaims{}, func(*jwt.Token) (any, error) { return a.pub, nil }); err != nil {
		return JWTClaims{}, http.StatusUnauthorized, GitHubJWTUndecodable
	}
	now := time.Now()
	iat, iatErr := mc.GetIssuedAt()
	if iatErr != nil || iat == nil || iat.After(now.Add(gitHubClockSkew)) {
		return JWTClaims{}, http.StatusUnauthorized, GitHubIatInvalid
	}
	exp, expErr := mc.GetExpirationTime()
	switch {
	case expErr != nil || exp == nil || !exp.After(now):
		return JWTClaims{}, http.StatusUnauthorized, GitHubExpNotFuture
	case exp.Sub(iat.Time) > gitHubMaxJWTLifetime:
		return JWTClaims{}, http.StatusUnauthorized, GitHubExpTooFar
	}
	return JWTClaims{Iss: iss, Iat: iat.Time, Exp: exp.Time, Received: now}, 0, ""
}

// issue answers 201 with a new installation token in GitHub's shape.
func (a *GitHubAppAPI) issue(w http.ResponseWriter, claims JWTClaims) {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	token := "ghs_" + hex.EncodeToString(b)
	expires := time.Now().Add(a.lifetime).UTC().Truncate(time.Second)
	a.mu.Lock()
	a.tokens[token] = expires
	a.exchanges++
	a.last = claims
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": token, "expires_at": expires.Format(time.RFC3339),
		"permissions":          map[string]string{"contents": "write", "metadata": "read"},
		"repository_selection": "selected",
	})
}

func gitHubError(w http.ResponseWriter, status int, message, doc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)})
}
