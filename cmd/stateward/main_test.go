package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

func TestMain(m *testing.M) { testpeers.RunMain(m) }

// instance is the real binary's run() serving on a free loopback port with the
// local default (SQLite in a temp data dir, embedded development login).
type instance struct {
	URL     string
	DataDir string
	env     map[string]string
}

func (in *instance) getenv(k string) string { return in.env[k] }

var urlLine = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/`)

func start(t *testing.T, extraEnv ...string) *instance {
	t.Helper()
	in := &instance{DataDir: t.TempDir(), env: map[string]string{}}
	in.env["STATEWARD_ADDR"] = "127.0.0.1:0"
	in.env["STATEWARD_DATA_DIR"] = in.DataDir
	for i := 0; i+1 < len(extraEnv); i += 2 {
		in.env[extraEnv[i]] = extraEnv[i+1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, in.getenv, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not shut down")
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
			in.URL = m[1]
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return in
		}
	}
	t.Fatalf("server printed no URL: %v", <-done)
	return nil
}

// cli runs a CLI command against the instance's data dir.
func (in *instance) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, in.getenv, &out, io.Discard)
	return out.String(), err
}

func TestCLITenantAndTokenWhileServing(t *testing.T) {
	in := start(t)
	if _, err := in.cli(t, "tenant", "create", "team-a", "--name", "Team A", "--owner", "alice@example.com"); err != nil {
		t.Fatalf("tenant create: %v", err)
	}
	// Flags before the positional arguments work too.
	out, err := in.cli(t, "token", "--tenant", "team-a", "create", "--role", "viewer")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(token, "swt_") || strings.ContainsAny(token, " \t") {
		t.Fatalf("token create printed %q, want exactly one token line", out)
	}
	req, _ := http.NewRequest(http.MethodGet, in.URL+"/api/v1/tenants/team-a/destinations", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"items"`) {
		t.Fatalf("API with CLI token: %d %s", resp.StatusCode, body)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "create", "Bad_Slug"}, "not a valid slug"},
		{[]string{"tenant", "create", "team-a"}, "already exists"},
		{[]string{"token", "create", "--tenant", "nope"}, "not found"},
		{[]string{"token", "create", "--tenant", "team-a", "--role", "god"}, "must be one of owner, editor, viewer"},
		{[]string{"token", "create"}, "--tenant is required"},
		{[]string{"tenant", "create", "x", "--colour", "red"}, "unknown flag"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		if _, err := in.cli(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

func TestKeyFileAndRotate(t *testing.T) {
	in := start(t)
	info, err := os.Stat(filepath.Join(in.DataDir, "secret.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", info, err)
	}
	out, err := in.cli(t, "keys", "rotate")
	if err != nil || !strings.Contains(out, "re-sealed 0 credentials") {
		t.Fatalf("keys rotate: %q %v", out, err)
	}
}

func TestConfigRefusesDevLoginOffLoopback(t *testing.T) {
	env := map[string]string{"STATEWARD_ADDR": "0.0.0.0:8080"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "STATEWARD_OIDC_ISSUER") {
		t.Fatalf("non-loopback without OIDC: %v, want a refusal naming STATEWARD_OIDC_ISSUER", err)
	}
	env["STATEWARD_OIDC_ISSUER"], env["STATEWARD_OIDC_CLIENT_ID"], env["STATEWARD_OIDC_CLIENT_SECRET"] = "https://idp.example.com", "c", "s"
	env["STATEWARD_PUBLIC_URL"] = "https://stateward.example.com"
	if _, err = loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "STATEWARD_SECRET_KEY") {
		t.Fatalf("non-loopback without key: %v", err)
	}
	env["STATEWARD_SECRET_KEY"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || cfg.DevIssuer || cfg.AllowPrivate {
		t.Fatalf("production config: %+v %v; want no dev login and no private endpoints", cfg, err)
	}
}

// TestDevLoginNeverBehindAPublicURL: on loopback behind a reverse proxy with a
// real host name, the development login (anyone as any email) must not run.
func TestDevLoginNeverBehindAPublicURL(t *testing.T) {
	env := map[string]string{"STATEWARD_ADDR": "127.0.0.1:8080", "STATEWARD_PUBLIC_URL": "https://stateward.example.com"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "STATEWARD_OIDC_ISSUER") {
		t.Fatalf("loopback behind a public URL without OIDC: %v, want a refusal", err)
	}
	env["STATEWARD_PUBLIC_URL"] = "http://localhost:8080"
	if cfg, err := loadConfig(func(k string) string { return env[k] }); err != nil || !cfg.DevIssuer {
		t.Errorf("loopback public URL: %+v %v, want the development login", cfg, err)
	}
	env = map[string]string{"STATEWARD_ADDR": "0.0.0.0:8080", "STATEWARD_OIDC_ISSUER": "https://idp.example.com",
		"STATEWARD_OIDC_CLIENT_ID": "c", "STATEWARD_OIDC_CLIENT_SECRET": "s", "STATEWARD_SECRET_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "STATEWARD_PUBLIC_URL") {
		t.Errorf("production without a public URL: %v, want a refusal naming STATEWARD_PUBLIC_URL", err)
	}
}

func TestSecretFromFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(f, []byte("s3cret\n"), 0o600)
	env := map[string]string{"STATEWARD_OIDC_CLIENT_SECRET_FILE": f}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || cfg.OIDCClientSecret != "s3cret" {
		t.Fatalf("secret from file: %q %v", cfg.OIDCClientSecret, err)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	in := start(t)
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": "stateward_jobs_queued 0",
	} {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in %.300s", path, resp.StatusCode, want, body)
		}
	}
	resp, _ := http.Get(in.URL + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`stateward_http_requests_total{code="200",method="GET",route="/healthz"} 1`, "stateward_jobs_running",
		`stateward_db_transaction_retries_total{cause="deadlock"} 0`, `stateward_db_transaction_retries_total{cause="serialization"} 0`,
		`stateward_db_transaction_retries_total{cause="unique_violation"} 0`, `stateward_db_transaction_retries_total{cause="connection"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestConfigIssuerKeptExactly: an issuer that ends in "/" (Auth0's do) is kept
// as given: go-oidc compares it byte for byte with the discovery document.
func TestConfigIssuerKeptExactly(t *testing.T) {
	env := map[string]string{"STATEWARD_ADDR": "0.0.0.0:8080", "STATEWARD_OIDC_ISSUER": "https://tenant.auth0.example.com/",
		"STATEWARD_OIDC_CLIENT_ID": "c", "STATEWARD_OIDC_CLIENT_SECRET": "s", "STATEWARD_PUBLIC_URL": "https://stateward.example.com",
		"STATEWARD_SECRET_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "STATEWARD_METRICS_TOKEN": "mt"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || cfg.OIDCIssuer != "https://tenant.auth0.example.com/" {
		t.Fatalf("issuer %q %v, want it with its trailing slash", cfg.OIDCIssuer, err)
	}
	if cfg.MetricsToken != "mt" || cfg.GroupsClaim != "groups" || cfg.GroupsScope {
		t.Errorf("metrics token %q, groups claim %q scope %v; want mt, groups (default), no scope", cfg.MetricsToken, cfg.GroupsClaim, cfg.GroupsScope)
	}
	env["STATEWARD_OIDC_GROUPS_CLAIM"] = "roles"
	if cfg, _ := loadConfig(func(k string) string { return env[k] }); cfg.GroupsClaim != "roles" || !cfg.GroupsScope {
		t.Errorf("explicit groups claim: %q scope %v", cfg.GroupsClaim, cfg.GroupsScope)
	}
}

// TestConfigWarnsOfPlainHTTP: a public URL or issuer over http:// on another host
// is allowed but warned about; loopback is not.
func TestConfigWarnsOfPlainHTTP(t *testing.T) {
	base := map[string]string{"STATEWARD_ADDR": "0.0.0.0:8080", "STATEWARD_OIDC_CLIENT_ID": "c", "STATEWARD_OIDC_CLIENT_SECRET": "s",
		"STATEWARD_SECRET_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	cases := []struct {
		public, issuer string
		want           []string
	}{
		{"https://sw.example.com", "https://idp.example.com", nil},
		{"http://sw.example.com", "https://idp.example.com", []string{"STATEWARD_PUBLIC_URL"}},
		{"https://sw.example.com", "http://dex.internal:5556/dex", []string{"STATEWARD_OIDC_ISSUER"}},
		{"http://127.0.0.1:8080", "http://localhost:5556/dex", nil},
	}
	for _, c := range cases {
		env := map[string]string{"STATEWARD_PUBLIC_URL": c.public, "STATEWARD_OIDC_ISSUER": c.issuer}
		for k, v := range base {
			env[k] = v
		}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		got := cfg.warnings()
		if len(got) != len(c.want) {
			t.Errorf("%s %s: warnings %q, want about %v", c.public, c.issuer, got, c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(got[i], w) || !strings.Contains(got[i], "https://") {
				t.Errorf("warning %q, want one about %s", got[i], w)
			}
		}
	}
}

// TestStartupWarningLogged: the warning reaches the log at start.
func TestStartupWarningLogged(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"STATEWARD_ADDR": "127.0.0.1:0", "STATEWARD_DATA_DIR": t.TempDir(),
		"STATEWARD_OIDC_ISSUER": "http://dex.example.net/dex", "STATEWARD_OIDC_CLIENT_ID": "c", "STATEWARD_OIDC_CLIENT_SECRET": "s",
		"STATEWARD_PUBLIC_URL": "http://stateward.example.net", "STATEWARD_SECRET_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	done := make(chan error, 1)
	w := &syncBuffer{b: &logs}
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, w) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.String(), "stateward listening") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := w.String()
	for _, want := range []string{"level=WARN msg=\"STATEWARD_PUBLIC_URL is plain http://", "level=WARN msg=\"STATEWARD_OIDC_ISSUER is plain http://"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
