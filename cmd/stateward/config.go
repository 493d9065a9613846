package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/writers"
)

// config is every setting of the binary, read once from STATEWARD_* variables.
type config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	PublicURL   string
	// CacheMax bounds the Git clones in the data dir (STATEWARD_CACHE_MAX);
	// zero: the default, the smaller of 10 GiB and a quarter of the data
	// disk (cacheMax).
	CacheMax int64
	// PRPoll is how often an open pull request is looked at without a webhook
	// (STATEWARD_PR_POLL, at most and by default 30s).
	PRPoll           time.Duration
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	SecretKey        string   // base64, empty = key file in the data dir (local default only)
	PreviousKeys     []string // base64 keys that only open (during a rotation)
	ReassertInterval time.Duration
	// JobLease is how long a write job is held without a heartbeat before another
	// replica may take it over (STATEWARD_JOB_LEASE, default 30s).
	JobLease     time.Duration
	AllowPrivate bool
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// GroupsClaim is the ID token claim that lists the user's groups (default
	// "groups"); GroupsScope asks the issuer for the "groups" scope, which happens
	// when STATEWARD_OIDC_GROUPS_CLAIM is set explicitly.
	GroupsClaim string
	GroupsScope bool
	// DevIssuer: no external issuer and a loopback listen address → the embedded
	// development identity provider at /dev/oidc.
	DevIssuer bool
	// SecretFiles are the files the *_FILE variables named: server files no
	// file:// store may point at.
	SecretFiles []string
}

// loadConfig reads the environment. Secrets may come from files named by *_FILE.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:      or(getenv("STATEWARD_ADDR"), "127.0.0.1:8080"),
		DataDir:   or(getenv("STATEWARD_DATA_DIR"), "./data"),
		PublicURL: strings.TrimRight(getenv("STATEWARD_PUBLIC_URL"), "/"),
		// The issuer is kept exactly as given: go-oidc compares it byte for byte with
		// the discovery document's, and some (Auth0) end in "/".
		OIDCIssuer:       strings.TrimSpace(getenv("STATEWARD_OIDC_ISSUER")),
		GroupsClaim:      or(strings.TrimSpace(getenv("STATEWARD_OIDC_GROUPS_CLAIM")), "groups"),
		GroupsScope:      strings.TrimSpace(getenv("STATEWARD_OIDC_GROUPS_CLAIM")) != "",
		OIDCClientID:     getenv("STATEWARD_OIDC_CLIENT_ID"),
		ReassertInterval: 10 * time.Hour,
	}
	var err error
	read := func(name string) string {
		v, e := secretEnv(getenv, name)
		err = errors.Join(err, e)
		if f := getenv(name + "_FILE"); f != "" {
			c.SecretFiles = append(c.SecretFiles, f)
		}
		return v
	}
	c.DatabaseURL = read("STATEWARD_DATABASE_URL")
	c.OIDCClientSecret = read("STATEWARD_OIDC_CLIENT_SECRET")
	c.SecretKey = read("STATEWARD_SECRET_KEY")
	c.MetricsToken = read("STATEWARD_METRICS_TOKEN")
	if prev := read("STATEWARD_PREVIOUS_SECRET_KEYS"); prev != "" {
		c.PreviousKeys = strings.Split(prev, ",")
	}
	if err != nil {
		return c, err
	}
	return c, c.finish(getenv)
}

func (c *config) finish(getenv func(string) string) error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("STATEWARD_PUBLIC_URL: %q is not an absolute http(s) URL", c.PublicURL)
		}
	}
	if v := getenv("STATEWARD_REASSERT_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("STATEWARD_REASSERT_INTERVAL: %q is not a positive duration like 10h", v)
		}
		c.ReassertInterval = d
	}
	if v := getenv("STATEWARD_CACHE_MAX"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			return fmt.Errorf("STATEWARD_CACHE_MAX: %q is not a size like 10GiB, 500MiB or a number of bytes", v)
		}
		c.CacheMax = n
	}
	if v := getenv("STATEWARD_PR_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > writers.DefaultPRPoll {
			return fmt.Errorf("STATEWARD_PR_POLL: %q is not a duration from 1s to 30s like 10s", v)
		}
		c.PRPoll = d
	}
	if v := getenv("STATEWARD_JOB_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("STATEWARD_JOB_LEASE: %q is not a duration of at least 1s like 30s", v)
		}
		c.JobLease = d
	}
	loopback, err := isLoopback(c.Addr)
	if err != nil {
		return err
	}
	c.DevIssuer = c.OIDCIssuer == "" && loopback && publicIsLoopback(c.PublicURL)
	c.AllowPrivate = c.DevIssuer
	if v := getenv("STATEWARD_ALLOW_PRIVATE_ENDPOINTS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("STATEWARD_ALLOW_PRIVATE_ENDPOINTS: %q is not true or false", v)
		}
		c.AllowPrivate = b
	}
	if !c.DevIssuer && (c.OIDCIssuer == "" || c.OIDCClientID == "" || c.OIDCClientSecret == "") {
		return errors.New("STATEWARD_OIDC_ISSUER, STATEWARD_OIDC_CLIENT_ID and STATEWARD_OIDC_CLIENT_SECRET are required " +
			"unless the service listens on loopback and is reached there (the embedded development login signs in " +
			"anyone as any email, so it never runs on another address or behind a public STATEWARD_PUBLIC_URL)")
	}
	if !c.DevIssuer && c.PublicURL == "" {
		return errors.New("STATEWARD_PUBLIC_URL (the absolute URL people and webhooks reach, e.g. https://stateward.example.com) " +
			"is required outside the local default: it is the OIDC redirect and the base of every webhook URL")
	}
	if !c.DevIssuer && c.SecretKey == "" {
		return errors.New("STATEWARD_SECRET_KEY (32 random bytes, base64; e.g. `openssl rand -base64 32`) is required outside the local default")
	}
	if c.DatabaseURL != "" && !c.postgres() && !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "file:") {
		return errors.New("STATEWARD_DATABASE_URL: must be sqlite:/path/to/file.db or postgres://user:password@host:5432/db")
	}
	if c.postgres() && c.SecretKey == "" {
		return errors.New("STATEWARD_SECRET_KEY (32 random bytes, base64; e.g. `openssl rand -base64 32`) is required with PostgreSQL: " +
			"every replica must seal and open credentials with the same key, which a key file in one data dir cannot give")
	}
	return nil
}

// warnings are settings that work but expose sign-ins or sessions: a public URL
// or issuer over plain http:// on a host other than this machine.
func (c config) warnings() []string {
	var out []string
	for _, v := range []struct{ name, url string }{{"STATEWARD_PUBLIC_URL", c.PublicURL}, {"STATEWARD_OIDC_ISSUER", c.OIDCIssuer}} {
		u, err := url.Parse(v.url)
		if err != nil || u.Scheme != "http" || publicIsLoopback(v.url) {
			continue
		}
		out = append(out, fmt.Sprintf("%s is plain http:// on %s, a host other than this machine: sign-ins, session cookies "+
			"and tokens cross the network unencrypted; use https://", v.name, u.Hostname()))
	}
	return out
}

// postgres reports whether STATEWARD_DATABASE_URL selects PostgreSQL.
func (c config) postgres() bool { return db.IsPostgresURL(c.DatabaseURL) }

// databaseName is the database for logs: the SQLite file, or the PostgreSQL URL
// without its password.
func (c config) databaseName() string {
	if !c.postgres() {
		return c.sqlitePath()
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		return "postgres"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// localRepos is the policy for file:// Git stores: none outside the local default;
// there, none inside the data dir, the database file (and its journals) or a file
// a *_FILE variable named. caseInsensitive reports how the data dir's file system
// compares names.
func (c config) localRepos(caseInsensitive bool) *tenants.LocalRepos {
	if !c.DevIssuer {
		return nil
	}
	l := &tenants.LocalRepos{CaseInsensitive: caseInsensitive,
		Protected: append([]string{c.DataDir, filepath.Join(c.DataDir, "secret.key")}, c.SecretFiles...)}
	if !c.postgres() {
		db := c.sqlitePath()
		l.Protected = append(l.Protected, db, db+"-wal", db+"-shm", db+"-journal")
	}
	return l
}

// caseInsensitiveDir reports whether dir's file system opens a name in another
// case as the same file (macOS and Windows by default), by creating a probe file.
func caseInsensitiveDir(dir string) (bool, error) {
	f, err := os.CreateTemp(dir, "case-probe-")
	if err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	_ = f.Close()
	fi, err := os.Stat(name)
	if err != nil {
		return false, err
	}
	other, err := os.Stat(filepath.Join(filepath.Dir(name), strings.ToUpper(filepath.Base(name))))
	return err == nil && os.SameFile(fi, other), nil
}

// sqlitePath is the database file: STATEWARD_DATABASE_URL or the data dir default.
func (c config) sqlitePath() string {
	if c.DatabaseURL != "" {
		p := strings.TrimPrefix(strings.TrimPrefix(c.DatabaseURL, "sqlite:"), "file:")
		return strings.TrimPrefix(p, "//")
	}
	return filepath.Join(c.DataDir, "stateward.db")
}

// secretEnv reads NAME, or the file named by NAME_FILE (trailing newline trimmed).
func secretEnv(getenv func(string) string, name string) (string, error) {
	v, file := getenv(name), getenv(name+"_FILE")
	if v != "" && file != "" {
		return "", fmt.Errorf("set %s or %s_FILE, not both", name, name)
	}
	if file == "" {
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// publicIsLoopback reports whether the public URL (if set) names this machine only;
// behind a reverse proxy with a real host name the development login must not run.
func publicIsLoopback(public string) bool {
	if public == "" {
		return true
	}
	u, err := url.Parse(public)
	if err != nil {
		return false
	}
	ok, _ := isLoopback(net.JoinHostPort(u.Hostname(), "0"))
	return ok
}

func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("STATEWARD_ADDR: %q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parseSize reads a size: bytes, or a number with KiB, MiB, GiB or TiB (powers
// of 1024) or kB, MB, GB, TB (powers of 1000).
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<62 {
		return 0, errors.New("not a size")
	}
	return int64(n * float64(mult)), nil
}

// cacheMax is the clone budget: STATEWARD_CACHE_MAX, else the smaller of
// 10 GiB and a quarter of the data disk's size.
func (c config) cacheMax() int64 {
	if c.CacheMax > 0 {
		return c.CacheMax
	}
	limit := int64(10 << 30)
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.DataDir, &st); err == nil {
		if quarter := int64(st.Blocks) * int64(st.Bsize) / 4; quarter > 0 && quarter < limit {
			limit = quarter
		}
	}
	return limit
}
