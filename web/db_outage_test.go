package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// outageAnswers checks that every kind of request that needs the database
// answers 503 with Retry-After and says the database is unavailable: the API
// (a read, a submit, a team the caller may or may not see, a token), a webhook,
// the dashboard. Never 404 (a client takes it for good) nor a bare 500.
func outageAnswers(t *testing.T, h *harness, b *browser, tok string) {
	t.Helper()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/tenants/team-a/works", ""},
		{http.MethodPost, "/api/v1/tenants/team-a/works", `{"promise":"p","files":[{"path":"a.yaml","content":"a: 1"}]}`},
		{http.MethodGet, "/api/v1/tenants/team-a/gitstatestores", ""},
		{http.MethodGet, "/api/v1/tenants/no-such-team/works", ""},
	} {
		req, _ := http.NewRequest(c.method, h.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(body.String(), "database is unavailable") {
			t.Errorf("%s %s during the outage: %d (Retry-After %q) %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Retry-After"), body.String())
		}
	}
	resp, page := b.get(t, h.URL+"/t/team-a/works")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "database is unavailable") {
		t.Errorf("dashboard during the outage: %d", resp.StatusCode)
	}
}

func teamToken(t *testing.T, h *harness) string {
	t.Helper()
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := h.DB.CreateToken(context.Background(), team.ID, "ci", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + secret
}

// TestPostgresUnreachableAnswers503: with the connection to PostgreSQL cut (a
// proxy in between closes every connection and refuses new ones), requests
// answer 503 + Retry-After, and the same server serves again without a restart
// once the database is back.
func TestPostgresUnreachableAnswers503(t *testing.T) {
	dsn := testpeers.Postgres(t).NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testpeers.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	o := testDBOptions(t)
	o.Path, o.URL = "", u.String()
	h := newHarnessOn(t, nil, o)
	b := h.signedInTeam()
	tok := teamToken(t, h)
	if code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works", tok, nil); code != http.StatusOK {
		t.Fatalf("before the outage: %d %s", code, body)
	}
	proxy.Cut()
	outageAnswers(t, h, b, tok)
	if code, _ := api(t, http.MethodGet, h.URL+"/readyz", "", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d", code)
	}
	proxy.Restore()
	if !testpeers.Poll(10*time.Second, 50*time.Millisecond, func() bool {
		code, _ := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works", tok, nil)
		return code == http.StatusOK
	}) {
		t.Fatal("no answer from the database 10 s after it came back")
	}
	if code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works", "Bearer swt_nope", nil); code != http.StatusUnauthorized {
		t.Errorf("an unknown token after the outage: %d %s", code, body)
	}
}

// TestSQLiteLockedAnswers503: a SQLite database locked by another process past
// the busy timeout answers a write with 503 + Retry-After, not 500.
func TestSQLiteLockedAnswers503(t *testing.T) {
	o := testDBOptions(t)
	if o.Path == "" {
		o = db.Options{Path: filepath.Join(t.TempDir(), "test.db"), Sealer: o.Sealer}
	}
	h := newHarnessOn(t, nil, o)
	h.signedInTeam()
	tok := teamToken(t, h)
	raw, err := sql.Open("sqlite3", "file:"+o.Path+"?_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok,
		strings.NewReader(`{"promise":"p","files":[{"path":"a.yaml","content":"a: 1"}]}`))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "database is unavailable") {
		t.Errorf("submit while the database is locked: %d %s", code, body)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity_check: %q %v", integrity, err)
	}
}
