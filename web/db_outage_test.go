package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// harnessBehindProxy is a server on a PostgreSQL database of its own that it
// reaches through a TCP proxy (to cut, or to lose answers).
func harnessBehindProxy(t *testing.T) (*harness, *testpeers.TCPProxy) {
	t.Helper()
	u, err := url.Parse(testpeers.Postgres(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testpeers.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	o := testDBOptions(t)
	o.Path, o.URL = "", u.String()
	return newHarnessOn(t, nil, o), proxy
}

// TestPostgresUnreachableAnswers503: with the connection to PostgreSQL cut (a
// proxy in between closes every connection and refuses new ones), requests
// answer 503 + Retry-After, and the same server serves again without a restart
// once the database is back.
func TestPostgresUnreachableAnswers503(t *testing.T) {
	h, proxy := harnessBehindProxy(t)
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

// TestPostgresCommitInDoubtAnswers503: a submit whose COMMIT reached
// PostgreSQL but whose answer was lost with the connection (a proxy drops it)
// answers 503 + Retry-After saying the change may have been saved — not
// "nothing was changed", which would be false: the Work is there. Repeating
// the request, as the answer says, keeps one Work and answers 202.
func TestPostgresCommitInDoubtAnswers503(t *testing.T) {
	h, proxy := harnessBehindProxy(t)
	h.signedInTeam()
	tok := teamToken(t, h)
	submit := func(name, requestID string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", strings.NewReader(
			`{"promise":"p","resource":{"namespace":"d","name":"`+name+`"},"files":[{"path":"a.yaml","content":"a: 1"}]}`))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", requestID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), body.String()
	}
	if code, _, body := submit("warm-up", "warm-up"); code != http.StatusAccepted {
		t.Fatalf("first submit: %d %s", code, body)
	}
	// The proxy loses the answer to the submit's COMMIT: the connection that
	// sends the request id (written with the Work's requester, nowhere else)
	// has its next execution of COMMIT — pgx binds its prepared statement,
	// named by pgx's rule (stmtcache.StatementName), and a chunk that also
	// prepares it ("COMMIT\x00", a connection's first) executes nothing yet —
	// go unanswered.
	commit := sha256.Sum256([]byte("COMMIT"))
	commitName := []byte("stmtcache_" + hex.EncodeToString(commit[:24]))
	proxy.LoseAnswerTo("req-in-doubt-1", func(chunk []byte) bool {
		return bytes.Contains(chunk, commitName) && !bytes.Contains(chunk, []byte("COMMIT\x00"))
	})
	code, retryAfter, body := submit("w", "req-in-doubt-1")
	if code != http.StatusServiceUnavailable || retryAfter == "" || !strings.Contains(body, "may or may not have been saved") ||
		strings.Contains(body, "nothing was changed") {
		t.Fatalf("submit whose COMMIT answer was lost: %d (Retry-After %q) %s", code, retryAfter, body)
	}
	names := func() []string {
		var page struct {
			Items []struct {
				Resource struct {
					Name string `json:"name"`
				} `json:"resource"`
			} `json:"items"`
		}
		code, list := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?limit=10", tok, nil)
		if code != http.StatusOK || json.Unmarshal([]byte(list), &page) != nil {
			t.Fatalf("list: %d %s", code, list)
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Resource.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names(); !slices.Equal(got, []string{"w", "warm-up"}) {
		t.Errorf("PostgreSQL committed the Work: the list should show it, shows %q", got)
	}
	if code, _, body := submit("w", "req-in-doubt-2"); code != http.StatusAccepted {
		t.Fatalf("the same submit repeated: %d %s", code, body)
	}
	if got := names(); !slices.Equal(got, []string{"w", "warm-up"}) {
		t.Errorf("after the repeat: %q, want one w", got)
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

// TestPostgresRestartMidStream: PostgreSQL crashes ("pg_ctl stop -m
// immediate") and comes back while 8 callers submit Works to two replicas.
// Every answer is 202 or 503 with Retry-After (never 404, never a bare 500),
// none hangs, both replicas take submits again without a restart, and every
// Work answered 202 is written to Git. A submit whose COMMIT lost its
// connection answers 503 saying it may have been saved (the crash can come
// between PostgreSQL's commit and its answer): such a Work may be there or
// not, and if it is, it is written too; no other Work is.
func TestPostgresRestartMidStream(t *testing.T) {
	pg := testpeers.PrivatePostgres(t)
	o := testDBOptions(t)
	o.Path, o.URL = "", pg.NewDatabase(t)
	h := newHarnessOn(t, nil, o)
	replicas := []*harness{h, newHarnessOn(t, h.OIDC, o)}
	h.signedInTeam()
	tok := teamToken(t, h)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "u", Password: "p"})
	if code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply", tok, strings.NewReader(git.StoreYAML("u", "p")+
		"apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: dev, labels: {env: dev}}\n"+
		"spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}\n")); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	type answer struct {
		code       int
		retryAfter string
		took       time.Duration
		name       string
		inDoubt    bool // a 503 saying the change may have been saved
	}
	var (
		mu       sync.Mutex
		answers  []answer
		accepted int
		stop     atomic.Bool
		wg       sync.WaitGroup
		seq      atomic.Int64
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for c := range 8 {
		wg.Go(func() {
			for !stop.Load() {
				i := seq.Add(1)
				body := fmt.Sprintf(`{"promise":"app","resource":{"namespace":"default","name":"w-%d"},"destinationSelectors":{"env":"dev"},`+
					`"files":[{"path":"a.yaml","content":"n: %d\n"}]}`, i, i)
				req, _ := http.NewRequest(http.MethodPost, replicas[c%2].URL+"/api/v1/tenants/team-a/works", strings.NewReader(body))
				req.Header.Set("Authorization", tok)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				a := answer{took: time.Since(start), name: fmt.Sprintf("w-%d", i)}
				if err != nil {
					a.code = -1
				} else {
					a.code, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
					var b bytes.Buffer
					_, _ = b.ReadFrom(resp.Body)
					resp.Body.Close()
					a.inDoubt = a.code == http.StatusServiceUnavailable && strings.Contains(b.String(), "may or may not have been saved")
				}
				mu.Lock()
				answers = append(answers, a)
				if a.code == http.StatusAccepted {
					accepted++
				}
				mu.Unlock()
				if a.code != http.StatusAccepted {
					time.Sleep(20 * time.Millisecond) // a caller's pause before retrying, not a synchronisation
				}
			}
		})
	}
	submitted := func() int { mu.Lock(); defer mu.Unlock(); return accepted }
	if !testpeers.Poll(30*time.Second, 10*time.Millisecond, func() bool { return submitted() >= 50 }) {
		t.Fatal("no stream of submits before the crash")
	}
	pg.Crash(t)
	crashedAt := submitted()
	if !testpeers.Poll(10*time.Second, 10*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answers) > 0 && answers[len(answers)-1].code == http.StatusServiceUnavailable
	}) {
		t.Fatal("no 503 while PostgreSQL was down")
	}
	pg.Start(t)
	back := time.Now()
	if !testpeers.Poll(20*time.Second, 10*time.Millisecond, func() bool { return submitted() >= crashedAt+50 }) {
		t.Fatal("submits not accepted again within 20 s of PostgreSQL's return")
	}
	t.Logf("submits accepted again %s after PostgreSQL answered", time.Since(back).Round(time.Millisecond))
	stop.Store(true)
	wg.Wait()
	counts := map[int]int{}
	var slowest time.Duration
	for _, a := range answers {
		counts[a.code]++
		slowest = max(slowest, a.took)
		if a.code == http.StatusServiceUnavailable && a.retryAfter == "" {
			t.Errorf("a 503 without Retry-After")
		}
	}
	t.Logf("answers: %v; slowest %s", counts, slowest.Round(time.Millisecond))
	for code, n := range counts {
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers %d (only 202 and 503 are right)", n, code)
		}
	}
	if slowest > 10*time.Second {
		t.Errorf("an answer took %s", slowest)
	}
	acceptedNames, doubtful := map[string]bool{}, map[string]bool{}
	for _, a := range answers {
		switch {
		case a.code == http.StatusAccepted:
			acceptedNames[a.name] = true
		case a.inDoubt:
			doubtful[a.name] = true
		}
	}
	t.Logf("%d accepted, %d in doubt", len(acceptedNames), len(doubtful))
	// Every Work is written in the end: the accepted ones, and those in doubt
	// that PostgreSQL had committed.
	type page struct {
		Total int `json:"total"`
		Items []struct {
			Resource struct {
				Name string `json:"name"`
			} `json:"resource"`
		} `json:"items"`
	}
	list := func(query string) page {
		var p page
		code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?limit=1000"+query, tok, nil)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
			t.Fatalf("list %s: %d %s", query, code, body)
		}
		if p.Total > 1000 {
			t.Fatalf("%d Works: more than a page", p.Total)
		}
		return p
	}
	if !testpeers.Poll(120*time.Second, 100*time.Millisecond, func() bool {
		return list("&state=written").Total == list("").Total
	}) {
		states := map[string]int{}
		for _, st := range tenants.WorkStates {
			states[st] = list("&state=" + st).Total
		}
		t.Fatalf("not every Work was written: %v of %d (%d accepted)", states, list("").Total, accepted)
	}
	written := map[string]bool{}
	for _, it := range list("&state=written").Items {
		written[it.Resource.Name] = true
		if !acceptedNames[it.Resource.Name] && !doubtful[it.Resource.Name] {
			t.Errorf("Work %s is written, but its submit was refused with a 503 that said nothing was changed", it.Resource.Name)
		}
	}
	for name := range acceptedNames {
		if !written[name] {
			t.Errorf("Work %s was answered 202 but is not written", name)
		}
	}
	if n := len(git.Files(t, git.Branch())); n < len(written) {
		t.Errorf("%d files in Git for %d written Works", n, len(written))
	}
}

// TestSQLiteDiskFullAnswers503: SQLite on a full disk (a small tmpfs) answers
// submits 503 + Retry-After, never 500, takes them again once there is room,
// and its database passes PRAGMA integrity_check.
func TestSQLiteDiskFullAnswers503(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a 6 MiB tmpfs for a full disk (this test runs as root, as scripts/test.sh does): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	o := testDBOptions(t)
	o.URL, o.Path = "", filepath.Join(dir, "test.db")
	h := newHarnessOn(t, nil, o)
	h.signedInTeam()
	tok := teamToken(t, h)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("x", 60<<10)
	submit := func(i int) (int, string) {
		return api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(fmt.Sprintf(
			`{"promise":"p","resource":{"namespace":"d","name":"w%d"},"files":[{"path":"a.yaml","content":"%s"}]}`, i, content)))
	}
	full := false
	for i := range 200 {
		code, body := submit(i)
		if code == http.StatusAccepted {
			continue
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "database is unavailable") {
			t.Fatalf("submit %d on a full disk: %d %s", i, code, body)
		}
		full = true
		break
	}
	if !full {
		t.Fatal("the disk never filled up")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, body := submit(1000); code != http.StatusAccepted {
		t.Fatalf("submit after room was made: %d %s", code, body)
	}
	raw, err := sql.Open("sqlite3", "file:"+o.Path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var integrity string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity_check: %q %v", integrity, err)
	}
}
