package web_test

import (
	"context"
	"github.com/stateward/stateward/pressure"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/testpeers"
	"github.com/stateward/stateward/web"
	"github.com/stateward/stateward/writers"
)

func TestMain(m *testing.M) { testpeers.RunMain(m) }

// harness is the real router over real HTTP, with a real database — SQLite, or
// PostgreSQL with STATEWARD_TEST_DATABASE=postgres (scripts/test.sh runs the suite
// both ways) — and a real OIDC issuer (mockoidc).
type harness struct {
	t     testing.TB
	URL   string
	DB    *db.DB
	OIDC  *mockoidc.MockOIDC
	Cfg   web.Config
	Ready *writers.Readiness
	// StopWriters stops the background writers (once). A test registers it as a
	// cleanup after creating a bucket, so that nothing writes into the bucket
	// while its own cleanup empties and removes it (cleanups run last-first).
	StopWriters func()
	dbOptions   db.Options
	// CacheDir holds the writers' Git clones (the data dir's git/ in a real
	// server); a Config with LocalRepos protects it.
	CacheDir string
}

func newHarness(t testing.TB, m *mockoidc.MockOIDC) *harness {
	t.Helper()
	return newHarnessWith(t, m, nil)
}

// newHarnessWith is newHarness with a change to the web configuration.
func newHarnessWith(t testing.TB, m *mockoidc.MockOIDC, change func(*web.Config)) *harness {
	t.Helper()
	return newHarnessOnWith(t, m, testDBOptions(t), change)
}

// replica is another server on h's database and OIDC issuer: a second replica
// behind the same load balancer.
func (h *harness) replica() *harness {
	h.t.Helper()
	return newHarnessOn(h.t, h.OIDC, h.dbOptions)
}

func newHarnessOn(t testing.TB, m *mockoidc.MockOIDC, o db.Options) *harness {
	t.Helper()
	return newHarnessOnWith(t, m, o, nil)
}

func newHarnessOnWith(t testing.TB, m *mockoidc.MockOIDC, o db.Options, change func(*web.Config)) *harness {
	t.Helper()
	if m == nil {
		m = testpeers.MockOIDC(t)
	}
	d := openDB(t, o)
	ts := httptest.NewUnstartedServer(nil)
	public := "http://" + ts.Listener.Addr().String()
	policy := egress.Policy{AllowPrivate: true}
	cfg := web.Config{PublicURL: public, OIDCIssuer: m.Issuer(), OIDCClientID: m.ClientID, OIDCClientSecret: m.ClientSecret, Egress: policy}
	if change != nil {
		change(&cfg)
	}
	cacheDir := t.TempDir()
	if cfg.LocalRepos != nil {
		cfg.LocalRepos.Protected = append(cfg.LocalRepos.Protected, cacheDir)
	}
	if p, ok := cfg.Egress.(egress.Policy); ok {
		policy = p
	}
	log := slog.New(slog.NewTextHandler(tlog{t}, nil))
	accept := &pressure.Meter{}
	factory := writers.Factory{Egress: policy, CacheDir: cacheDir, LocalRepos: cfg.LocalRepos, AppTokens: &writers.AppTokens{},
		Yield: &writers.Yielding{Busy: accept.Busy}, Forges: forge.New}
	rd := &writers.Readiness{Source: d, Factory: factory, Log: log, Now: d.Now}
	t.Cleanup(rd.Wait)
	// PRs and PublicURL as serve.go: pull-request stores open, register their
	// webhook at this server and follow their pull requests.
	runner := &writers.Runner{DB: d, Factory: factory, Log: log, PollInterval: 50 * time.Millisecond, PRs: d, PublicURL: cfg.PublicURL}
	rd.Wake = runner.Wake // as serve.go: a passing check ends a store's backoff
	reg := prometheus.NewRegistry()
	writers.RegisterReadinessGauge(reg, d) // the database-read gauges, as serve.go registers them
	writers.RegisterPlacementGauge(reg, d)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(ctx) }()
	var once sync.Once
	stopWriters := func() { once.Do(func() { stop(); <-done; rd.Wait() }) }
	t.Cleanup(stopWriters)
	ts.Config.Handler = web.New(web.Deps{Config: cfg, Store: d, Works: d, Readiness: rd, Writers: runner, PRs: runner, Differ: runner, Log: log, Accept: accept,
		Registry: reg}).Handler()
	// Every API exchange of the test suite is checked against openapi.json. Not in a
	// benchmark: it measures the server, and the check costs more than a submit.
	if _, bench := t.(*testing.B); !bench {
		ts.Config.Handler = validatingAPI(t, ts.Config.Handler)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return &harness{t: t, URL: public, DB: d, OIDC: m, Cfg: cfg, Ready: rd, StopWriters: stopWriters, dbOptions: o,
		CacheDir: cacheDir}
}

// testDBOptions names a new empty database: a SQLite file, or with
// STATEWARD_TEST_DATABASE=postgres a database of the shared test cluster.
func testDBOptions(t testing.TB) db.Options {
	t.Helper()
	key := make([]byte, 32)
	key[0] = 7
	sealer, err := db.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	switch v := os.Getenv("STATEWARD_TEST_DATABASE"); v {
	case "", "sqlite":
		return db.Options{Path: filepath.Join(t.TempDir(), "test.db"), Sealer: sealer}
	case "postgres":
		return db.Options{URL: testpeers.Postgres(t).NewDatabase(t), Sealer: sealer}
	default:
		t.Fatalf("STATEWARD_TEST_DATABASE=%q: want sqlite (the default) or postgres", v)
		return db.Options{}
	}
}

func openDB(t testing.TB, o db.Options) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// browser is an HTTP client with a cookie jar that records the redirects it followed.
type browser struct {
	*http.Client
	visited []*url.URL
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.visited = append(b.visited, req.URL)
		return nil
	}}
	return b
}

// login signs email in through the full authorization code flow and returns the
// final page.
func (h *harness) login(b *browser, email string) (*http.Response, string) {
	h.t.Helper()
	h.OIDC.QueueUser(&mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true})
	return b.get(h.t, h.URL+"/login")
}

func (b *browser) get(t testing.TB, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) post(t testing.TB, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) cookie(t testing.TB, base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) lastVisited(prefix string) *url.URL {
	for i := len(b.visited) - 1; i >= 0; i-- {
		if strings.HasPrefix(b.visited[i].Path, prefix) {
			return b.visited[i]
		}
	}
	return nil
}

// api calls the JSON API with a bearer token.
func api(t testing.TB, method, u, token string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tlog sends server logs to the test's log, shown when a test fails.
type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Logf("server: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// drain reads a response to its end and closes it, so that its connection is
// used again (a body closed unread closes the connection: a benchmark client
// that did so measured its own dialing, not the server).
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
