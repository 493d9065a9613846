package writers

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"

	"github.com/stateward/stateward/tenants"
)

// GitAuthGitHubApp authenticates as a GitHub App installation (see GitConfig.AppID).
const GitAuthGitHubApp = "githubApp"

// GitHub App timing. GitHub refuses a JWT whose exp is more than 10 minutes after
// its iat and advises backdating iat by 60 s against clock drift; an installation
// token lives an hour and is renewed this long before it expires, so that no fetch
// or push starts with a token about to lapse.
const (
	appJWTBackdate     = 60 * time.Second
	appJWTLifetime     = 9 * time.Minute // after the backdated iat: exp - iat = 10 min
	appTokenMargin     = 5 * time.Minute
	appExchangeTimeout = 30 * time.Second
	// appTokenUser is the user name GitHub documents for installation tokens.
	appTokenUser = "x-access-token"
	// maxAPIErrorBody bounds how much of an error answer is read.
	maxAPIErrorBody = 64 << 10
)

// AppTokens caches GitHub App installation tokens across the backends of a
// process (the writers and the readiness checks), keyed by everything that
// identifies a token: API, App, installation and private key. The zero value is
// ready to use; share one through Factory.AppTokens. One request for a token is
// in flight per key: the readiness check and the first write of a new store
// used to mint two at the same instant.
type AppTokens struct {
	mu     sync.Mutex
	tokens map[[32]byte]appToken
	flight singleflight.Group
	// missed counts the callers that found no token and are waiting for one.
	missed atomic.Int64
}

type appToken struct {
	token   string
	expires time.Time
}

func (c *AppTokens) get(k [32]byte, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[k]
	if !ok || !now.Add(appTokenMargin).Before(t.expires) {
		return "", false
	}
	return t.token, true
}

func (c *AppTokens) put(k [32]byte, t appToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		c.tokens = map[[32]byte]appToken{}
	}
	c.tokens[k] = t
}

// drop forgets token when it is still the cached one (the remote refused it).
func (c *AppTokens) drop(k [32]byte, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens[k].token == token {
		delete(c.tokens, k)
	}
}

// githubApp mints installation tokens: a JWT signed with the App's key, exchanged
// at POST {api}/app/installations/{id}/access_tokens.
type githubApp struct {
	api            string // base URL, no trailing "/"
	appID          string
	installationID string
	key            *rsa.PrivateKey
	client         *http.Client // the store's: egress guard, CA bundle
	cache          *AppTokens
	cacheKey       [32]byte
	now            func() time.Time
}

func newGitHubApp(cfg GitConfig, client *http.Client) (*githubApp, error) {
	key, err := tenants.ParseAppPrivateKey(cfg.AppPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app: privateKey %v", err)
	}
	if strings.TrimSpace(cfg.AppID) == "" || strings.TrimSpace(cfg.InstallationID) == "" {
		return nil, errors.New("github app: appID and installationID are required")
	}
	api := strings.TrimRight(cfg.GitHubAPIURL, "/")
	if api == "" {
		api = tenants.DefaultGitHubAPIURL
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github app: API URL %q is not an http(s) URL", api)
	}
	cache := cfg.AppTokens
	if cache == nil {
		cache = &AppTokens{}
	}
	own := *client // the store's transport, with a redirect policy of its own
	own.CheckRedirect = sameOriginRedirects
	a := &githubApp{api: api, appID: strings.TrimSpace(cfg.AppID), installationID: strings.TrimSpace(cfg.InstallationID),
		key: key, client: &own, cache: cache, now: cfg.Now}
	a.cacheKey = sha256.Sum256([]byte(strings.Join([]string{a.api, a.appID, a.installationID, cfg.AppPrivateKey}, "\x00")))
	return a, nil
}

// maxRedirects is how many redirects a credentialed request follows, as net/http.
const maxRedirects = 10

// sameOriginRedirects is the redirect policy of a request that carries a
// credential: it follows a redirect within the origin (scheme, host and port)
// it was sent to and refuses any other. net/http resends the Authorization
// header to another port of the same host, and a 307 or 308 resends the body.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if from := via[0].URL; origin(req.URL) != origin(from) {
		return fmt.Errorf("redirected to another origin, %s: not followed with credentials (set the URL it moved to instead)", origin(req.URL))
	}
	return nil
}

// origin is u's scheme://host:port, lower-cased, with the scheme's default port
// spelt out.
func origin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// token returns a cached installation token, or a new one: the callers that
// miss the cache at once share one request. That request does not end with the
// caller that started it (the others wait for it too); it has its own timeout.
func (a *githubApp) token(ctx context.Context) (string, error) {
	if t, ok := a.cache.get(a.cacheKey, a.now()); ok {
		return t, nil
	}
	a.cache.missed.Add(1)
	defer a.cache.missed.Add(-1)
	ch := a.cache.flight.DoChan(string(a.cacheKey[:]), func() (any, error) {
		if t, ok := a.cache.get(a.cacheKey, a.now()); ok {
			return t, nil // a request that landed between the miss and this flight
		}
		t, err := a.exchange(context.WithoutCancel(ctx))
		if err != nil {
			return "", err
		}
		a.cache.put(a.cacheKey, t)
		return t.token, nil
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	}
}

// signJWT makes the App's JWT: RS256, iss the App id, iat backdated 60 s, exp ten
// minutes after iat.
func (a *githubApp) signJWT() (string, error) {
	iat := a.now().Add(-appJWTBackdate)
	claims := jwt.MapClaims{"iss": a.appID, "iat": iat.Unix(), "exp": iat.Add(appJWTBackdate + appJWTLifetime).Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// exchange asks the GitHub API for an installation token. A refusal keeps
// GitHub's own words ("Integration not found", "A JSON web token could not be
// decoded", "Not Found").
func (a *githubApp) exchange(ctx context.Context) (appToken, error) {
	signed, err := a.signJWT()
	if err != nil {
		return appToken{}, a.fail(fmt.Errorf("sign JWT: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, appExchangeTimeout)
	defer cancel()
	endpoint := a.api + "/app/installations/" + url.PathEscape(a.installationID) + "/access_tokens"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return appToken{}, a.fail(err)
	}
	req.Header.Set("Authorization", "Bearer "+signed)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "stateward")
	resp, err := a.client.Do(req)
	if err != nil {
		return appToken{}, a.fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIErrorBody))
	if err != nil {
		return appToken{}, a.fail(err)
	}
	if resp.StatusCode != http.StatusCreated {
		return appToken{}, a.fail(apiRefusal(resp, body))
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return appToken{}, a.fail(fmt.Errorf("the answer (HTTP %d) holds no installation token", resp.StatusCode))
	}
	return appToken{token: out.Token, expires: out.ExpiresAt}, nil
}

// apiRefusal is GitHub's error answer in its own words: `{"message": ...,
// "documentation_url": ...}`.
func apiRefusal(resp *http.Response, body []byte) error {
	var e struct {
		Message string `json:"message"`
		Doc     string `json:"documentation_url"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
		if e.Doc != "" {
			msg += " (" + e.Doc + ")"
		}
	}
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return fmt.Errorf("GitHub answered %s: %s", resp.Status, msg)
}

// fail names the App, the installation and the API a token was asked of.
func (a *githubApp) fail(err error) error {
	return fmt.Errorf("github app %s, installation %s: installation token from %s: %w", a.appID, a.installationID, a.api, err)
}

// authFor is the auth to open a session with: the fixed credentials, or for a
// GitHub App an installation token as the password of x-access-token.
func (r *gitRemote) authFor(ctx context.Context) (transport.AuthMethod, error) {
	if r.app == nil {
		return r.auth, nil
	}
	tok, err := r.app.token(ctx)
	if err != nil {
		return nil, err
	}
	return &githttp.BasicAuth{Username: appTokenUser, Password: tok}, nil
}

// refused forgets an installation token the remote did not accept (revoked, or
// the App lost access), so that the next session mints a new one.
func (r *gitRemote) refused(auth transport.AuthMethod, err error) {
	if r.app == nil || !(errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed)) {
		return
	}
	if b, ok := auth.(*githttp.BasicAuth); ok {
		r.app.cache.drop(r.app.cacheKey, b.Password)
	}
}
