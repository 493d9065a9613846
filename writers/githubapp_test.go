package writers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/testpeers"
)

// appPeers starts a GitHub App API and a Git remote that takes only the
// installation tokens that API issued.
func appPeers(t *testing.T, opts testpeers.GitHubAppOptions) (*testpeers.GitHubAppAPI, *testpeers.GitServer) {
	t.Helper()
	api := testpeers.GitHubApp(t, opts)
	return api, testpeers.GitHTTP(t, testpeers.GitOptions{Authorize: api.Accepts})
}

// appGit is a githubApp Git for srv, minting tokens at api through the egress
// guard (loopback allowed, as STATEWARD_ALLOW_PRIVATE_ENDPOINTS does).
func appGit(t *testing.T, api *testpeers.GitHubAppAPI, srv *testpeers.GitServer, mod func(*GitConfig)) *Git {
	t.Helper()
	return newTestGit(t, srv, func(c *GitConfig) {
		c.AuthMethod, c.Username, c.Password = GitAuthGitHubApp, "", ""
		c.AppID, c.InstallationID, c.AppPrivateKey = api.AppID(), api.InstallationID(), api.PrivateKeyPEM()
		c.GitHubAPIURL = api.URL()
		c.Dial = egress.Policy{AllowPrivate: true}.DialContext
		c.Now = time.Now // GitHub checks the JWT against the real clock
		if mod != nil {
			mod(c)
		}
	})
}

func TestGitHubAppTokenWritesAndIsCached(t *testing.T) {
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	g := appGit(t, api, srv, nil)
	ctx := context.Background()
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	apply(t, g, puts("one", "a.yaml", "1"))
	apply(t, g, puts("two", "b.yaml", "2"))
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "a.yaml": "1", "b.yaml": "2"})
	if n := api.Exchanges(); n != 1 {
		t.Errorf("installation tokens minted = %d, want 1 (cached for the hour it lives)", n)
	}
	c := api.LastJWT()
	if c.Iss != api.AppID() {
		t.Errorf("JWT iss = %q, want the App id %q", c.Iss, api.AppID())
	}
	if back := c.Received.Sub(c.Iat); back < 55*time.Second || back > 70*time.Second {
		t.Errorf("JWT iat is %v before it was received, want about 60 s (clock drift)", back)
	}
	if life := c.Exp.Sub(c.Iat); life > 10*time.Minute || life < 5*time.Minute {
		t.Errorf("JWT exp - iat = %v, want at most 10 min", life)
	}
}

func TestGitHubAppTokensSharedAndRenewedBeforeExpiry(t *testing.T) {
	shared := &AppTokens{}
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	for range 3 { // the writer and readiness build backends afresh; the token stays
		g := appGit(t, api, srv, func(c *GitConfig) { c.AppTokens = shared })
		if err := g.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	if n := api.Exchanges(); n != 1 {
		t.Errorf("tokens minted for three backends sharing AppTokens = %d, want 1", n)
	}

	short, srv2 := appPeers(t, testpeers.GitHubAppOptions{TokenLifetime: 3 * time.Minute})
	g := appGit(t, short, srv2, nil)
	for range 2 {
		if err := g.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	if n := short.Exchanges(); n != 2 {
		t.Errorf("tokens minted for tokens that expire within the renewal margin = %d, want 2 (one per use)", n)
	}
}

func TestGitHubAppRevokedTokenIsReplaced(t *testing.T) {
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	g := appGit(t, api, srv, nil)
	ctx := context.Background()
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	api.RevokeAll()
	wantErr(t, "Check with a revoked token", g.Check(ctx), "authentication")
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check after the refusal: %v (the refused token must be dropped)", err)
	}
	if n := api.Exchanges(); n != 2 {
		t.Errorf("tokens minted = %d, want 2", n)
	}
}

func TestGitHubAppRefusalsInGitHubsWords(t *testing.T) {
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	for _, tc := range []struct {
		name string
		mod  func(*GitConfig)
		want []string
	}{
		{"bad App id", func(c *GitConfig) { c.AppID = "999999" }, []string{"404", testpeers.GitHubIntegrationGone}},
		{"installation not found", func(c *GitConfig) { c.InstallationID = "1" }, []string{"404", testpeers.GitHubNotFound}},
		{"key mismatch", func(c *GitConfig) { c.AppPrivateKey = otherPEM }, []string{"401", testpeers.GitHubJWTUndecodable}},
		{"clock an hour behind", func(c *GitConfig) { c.Now = func() time.Time { return time.Now().Add(-time.Hour) } },
			[]string{"401", testpeers.GitHubExpNotFuture}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := appGit(t, api, srv, tc.mod)
			err := g.Check(context.Background())
			wantErr(t, "Check", err, append(tc.want, "installation token from "+api.URL())...)
		})
	}
	if n := api.Exchanges(); n != 0 {
		t.Errorf("tokens minted = %d, want 0", n)
	}
}

func TestGitHubAppAPIGoesThroughTheEgressGuard(t *testing.T) {
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	g := appGit(t, api, srv, func(c *GitConfig) { c.Dial = egress.Policy{}.DialContext })
	err := g.Check(context.Background())
	wantErr(t, "Check with the strict policy", err, "installation token from", "is not allowed")
	if n := api.Exchanges(); n != 0 {
		t.Errorf("tokens minted through a refusing guard = %d, want 0", n)
	}
}

func TestGitHubAppNeedsHTTPSURL(t *testing.T) {
	api := testpeers.GitHubApp(t, testpeers.GitHubAppOptions{})
	_, err := NewGit(GitConfig{URL: "ssh://git@github.com/org/repo.git", AuthMethod: GitAuthGitHubApp, CacheDir: t.TempDir(),
		AppID: api.AppID(), InstallationID: api.InstallationID(), AppPrivateKey: api.PrivateKeyPEM(), KnownHosts: "x"})
	if err == nil || !strings.Contains(err.Error(), "githubApp") {
		t.Errorf("NewGit(githubApp over ssh) = %v, want an error naming the auth method", err)
	}
}

// TestGitHubAppJWTStaysWithItsOrigin: the JWT request does not follow a redirect
// to another origin (here another port of the same host, where net/http would
// resend the Authorization header), and the error says why; a redirect within
// the API's origin is still followed.
func TestGitHubAppJWTStaysWithItsOrigin(t *testing.T) {
	api, srv := appPeers(t, testpeers.GitHubAppOptions{})
	var mu sync.Mutex
	var leaked []string
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "captured", http.StatusTeapot)
	}))
	t.Cleanup(capture.Close)
	away := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, capture.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(away.Close)
	g := appGit(t, api, srv, func(c *GitConfig) { c.GitHubAPIURL = away.URL })
	wantErr(t, "Check through a redirect to another port", g.Check(context.Background()),
		"installation token from "+away.URL, "redirected to another origin", capture.URL)
	mu.Lock()
	if len(leaked) != 0 {
		t.Errorf("the other origin received %q", leaked)
	}
	mu.Unlock()

	target, _ := url.Parse(api.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/old"); ok {
			http.Redirect(w, r, rest, http.StatusTemporaryRedirect)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(moved.Close)
	g = appGit(t, api, srv, func(c *GitConfig) { c.GitHubAPIURL = moved.URL + "/old" })
	if err := g.Check(context.Background()); err != nil {
		t.Errorf("Check through a redirect within the API's origin: %v", err)
	}
}

// TestGitCredentialsStayWithTheirOrigin: the store's basic-auth password does not
// follow the remote's redirect to another port (go-git strips it; this guards
// against a transport that would not).
func TestGitCredentialsStayWithTheirOrigin(t *testing.T) {
	srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword})
	var mu sync.Mutex
	var leaked []string
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			mu.Lock()
			leaked = append(leaked, r.URL.Path+" Authorization="+a)
			mu.Unlock()
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		http.Error(w, "who are you", http.StatusUnauthorized)
	}))
	t.Cleanup(capture.Close)
	away := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, capture.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(away.Close)
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = away.URL + "/repo.git" })
	if err := g.Check(context.Background()); err == nil {
		t.Error("Check through a redirect to another port succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the other origin received the credentials: %q", leaked)
	}
}

func TestOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://api.github.com/app", "https://API.github.com:443/x", true},
		{"http://127.0.0.1/a", "http://127.0.0.1:80/b", true},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", false},
		{"http://example.com/a", "https://example.com/a", false},
		{"https://example.com/a", "https://evil.example.com/a", false},
		{"http://[::1]:80/a", "http://[::1]/b", true},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := origin(a) == origin(b); got != tc.same {
			t.Errorf("same origin %s, %s = %v, want %v (%s vs %s)", tc.a, tc.b, got, tc.same, origin(a), origin(b))
		}
	}
}

// TestGitHubAppOneTokenRequestInFlight: backends of one store that need a token
// at once (readiness and the first write of a new store; here eight) share one
// request to the API, and one caller giving up does not fail the others.
func TestGitHubAppOneTokenRequestInFlight(t *testing.T) {
	hold := make(chan struct{})
	api, srv := appPeers(t, testpeers.GitHubAppOptions{Hold: hold})
	shared := &AppTokens{}
	const n = 8
	errs := make(chan error, n)
	quitter, quit := context.WithCancel(context.Background())
	defer quit()
	for i := range n {
		ctx := context.Background()
		if i == 0 {
			ctx = quitter
		}
		g := appGit(t, api, srv, func(c *GitConfig) { c.AppTokens = shared })
		go func() { errs <- g.Check(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for shared.missed.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers asked for a token within 30 s", shared.missed.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	quit()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up: %v, want context.Canceled", err)
	}
	close(hold)
	for range n - 1 {
		if err := <-errs; err != nil {
			t.Errorf("Check: %v", err)
		}
	}
	if got := api.Exchanges(); got != 1 {
		t.Errorf("installation tokens minted for %d concurrent callers = %d, want 1", n, got)
	}
}
