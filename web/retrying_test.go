package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// retryWork is GET …/works/{id} with what a retrying placement carries.
type retryWork struct {
	Placements []struct {
		Destination   string
		State         string
		Attempts      int
		NextAttemptAt *time.Time
		LastError     string
		Error         string
	}
	Unscheduled []tenants.Unscheduled
}

// storeStatus is a store's status block from the API.
type storeStatus struct {
	Ready         *bool
	Message       string
	Failing       bool
	WriteError    string
	WriteFailedAt *string
}

func (h *harness) work(tok, tenant string, id int64) retryWork {
	h.t.Helper()
	code, body := api(h.t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/works/"+strconv.FormatInt(id, 10), tok, nil)
	var w retryWork
	if err := json.Unmarshal([]byte(body), &w); code != http.StatusOK || err != nil {
		h.t.Fatalf("GET work %d: %d %s", id, code, body)
	}
	return w
}

func (h *harness) storeStatus(tok, tenant, path string) storeStatus {
	h.t.Helper()
	code, body := api(h.t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/"+path, tok, nil)
	var obj struct{ Status storeStatus }
	if err := json.Unmarshal([]byte(body), &obj); code != http.StatusOK || err != nil {
		h.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return obj.Status
}

// TestFixedBucketStoreWritesAtOnce: a bucket store with wrong credentials keeps
// its Work retrying (attempts, next try, the store's words) and shows failing at
// once; applying the right credentials makes the store pass its check, which ends
// the backoff: the Work is written within seconds, long before the next try the
// backoff had planned, on a real MinIO.
func TestFixedBucketStoreWritesAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	t.Cleanup(h.StopWriters)
	store := func(secretKey string) string {
		return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: s3}
spec: {endpoint: "%s", bucketName: %s, insecure: true, path: clusters, secretRef: {name: s3}}
---
apiVersion: v1
kind: Secret
metadata: {name: s3}
stringData: {accessKeyID: %s, secretAccessKey: "%s"}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: s3}}
`, s3.Endpoint(), bucket, s3.AccessKey(), secretKey)
	}
	if code, _, body := h.apply(tok, "team-a", store("not-the-secret-key")); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "bucketstatestores/s3"); ready {
		t.Fatalf("store with a wrong secret key is ready: %q", msg)
	}
	// Promise dependencies go to every matching Destination, a failing one too.
	id := h.accept(tok, `{"promise":"redis","destinationSelectors":{"environment":"dev"},"files":[{"path":"redis.yaml","content":"kind: Redis\n"}]}`)
	var next time.Time
	testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
		w := h.work(tok, "team-a", id)
		if len(w.Placements) != 1 {
			return false, fmt.Sprintf("placements %+v", w.Placements)
		}
		p := w.Placements[0]
		// Wait for a backoff long enough to tell "at once" from "when it runs out".
		if p.State != tenants.StateRetrying || p.NextAttemptAt == nil || time.Until(*p.NextAttemptAt) < 5*time.Second {
			return false, fmt.Sprintf("placement %+v, want retrying with a next try 5 s or more away", p)
		}
		if p.Attempts < 1 || !strings.Contains(p.LastError, "access denied") {
			return false, fmt.Sprintf("placement %+v, want attempts and the store's words", p)
		}
		next = *p.NextAttemptAt
		return true, ""
	})
	if st := h.storeStatus(tok, "team-a", "bucketstatestores/s3"); !st.Failing || !strings.Contains(st.WriteError, "access denied") || st.WriteFailedAt == nil {
		t.Errorf("store status while its writes fail: %+v, want failing with the write's error", st)
	}

	fixed := time.Now()
	if code, _, body := h.apply(tok, "team-a", store(s3.SecretKey())); code != http.StatusOK {
		t.Fatalf("apply the right credentials: %d %s", code, body)
	}
	testpeers.WaitFor(t, 4*time.Second, func() (bool, string) {
		w := h.work(tok, "team-a", id)
		return len(w.Placements) == 1 && w.Placements[0].State == tenants.StateWritten,
			fmt.Sprintf("placements %+v, %v after the fix; the backoff's next try was at %v", w.Placements, time.Since(fixed), next)
	})
	if time.Now().After(next) {
		t.Errorf("written only after the backoff's next try (%v): the passing check did not end the backoff", next)
	}
	if got := s3.Objects(t, bucket, "")["clusters/dev/dependencies/redis/5058f/redis.yaml"]; got != "kind: Redis\n" {
		t.Errorf("bucket object = %q, want the Work's file", got)
	}
	testpeers.WaitFor(t, 10*time.Second, func() (bool, string) {
		st := h.storeStatus(tok, "team-a", "bucketstatestores/s3")
		return !st.Failing && st.WriteError == "" && st.Ready != nil && *st.Ready, fmt.Sprintf("store status %+v, want ready and not failing", st)
	})
}

// closablePort forwards a loopback TCP port to target, and can close the port
// (connections are refused) and open it again at the same address: an outage.
type closablePort struct {
	t      testing.TB
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newClosablePort(t testing.TB, target string) *closablePort {
	p := &closablePort{t: t, target: target}
	p.open()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.close)
	return p
}

func (p *closablePort) open() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("listen on %s again: %v", addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

func (p *closablePort) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// close closes the port and every connection through it.
func (p *closablePort) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestOutageRetriesAndShowsStoreFailing: with the Git remote's port closed, a Work
// is retrying (not failed) and its store shows failing at once with the
// connection's error — while its last readiness check still says ready, so new
// Works are still scheduled there. The state filter and the metrics say
// retrying; when the port opens again, the Work is written and the store is no
// longer failing.
func TestOutageRetriesAndShowsStoreFailing(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{})
	t.Cleanup(h.StopWriters)
	u := strings.TrimPrefix(git.URL(), "http://")
	host, rest, _ := strings.Cut(u, "/")
	port := newClosablePort(t, host)
	yaml := strings.Replace(git.StoreYAML("u", "p"), host, port.addr, 1) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if !strings.Contains(yaml, port.addr+"/"+rest) {
		t.Fatalf("store YAML does not go through the port: %s", yaml)
	}
	if code, _, body := h.apply(tok, "team-a", yaml); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "gitstatestores/repo"); !ready {
		t.Fatalf("store not ready: %q", msg)
	}
	h.waitOutstanding(t, "team-a", 0) // the canary files

	port.close()
	body := `{"promise":"redis","resource":{"namespace":"default","name":"a"},"destinationSelectors":{"environment":"prod"},"files":[{"path":"redis.yaml","content":"kind: Redis\n"}]}`
	id := h.accept(tok, body)
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		w := h.work(tok, "team-a", id)
		ok := len(w.Placements) == 1 && w.Placements[0].State == tenants.StateRetrying && w.Placements[0].Attempts >= 1 &&
			strings.Contains(w.Placements[0].LastError, "connection refused") && w.Placements[0].NextAttemptAt != nil
		return ok, fmt.Sprintf("placements %+v, want retrying with connection refused", w.Placements)
	})
	st := h.storeStatus(tok, "team-a", "gitstatestores/repo")
	if !st.Failing || !strings.Contains(st.WriteError, "connection refused") {
		t.Errorf("store status during the outage: %+v, want failing with connection refused", st)
	}
	if st.Ready == nil || !*st.Ready {
		t.Errorf("store status during the outage: %+v: the write must not change the readiness check's outcome", st)
	}
	// Scheduling follows the last check: a new resource request still goes to
	// prod, not nowhere.
	code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works?dryRun=true", tok,
		strings.NewReader(strings.Replace(body, `"name":"a"`, `"name":"b"`, 1)))
	var plan workAnswer
	_ = json.Unmarshal([]byte(out), &plan)
	if code != http.StatusOK || len(plan.Placements) != 1 || plan.Placements[0].Destination != "prod" || len(plan.Unscheduled) != 0 {
		t.Errorf("a new Work during the outage: %d %s, want it placed on prod", code, out)
	}
	// The dashboard shows the store failing and the Work retrying.
	alice := newBrowser(t)
	h.login(alice, "alice@example.com")
	if err := h.DB.AddMember(t.Context(), h.tenantID("team-a"), "alice@example.com", tenants.RoleEditor); err != nil {
		t.Fatal(err)
	}
	_, page := alice.get(t, h.URL+"/t/team-a/stores")
	if !strings.Contains(page, "writes failing") || !strings.Contains(page, "connection refused") {
		t.Errorf("stores page does not show the store failing: %s", snippet(page))
	}
	_, page = alice.get(t, h.URL+"/t/team-a/")
	if !strings.Contains(page, "writes failing: ") {
		t.Errorf("Overview does not list the failing store: %s", snippet(page))
	}
	_, page = alice.get(t, h.URL+fmt.Sprintf("/t/team-a/works/%d", id))
	if !strings.Contains(page, `data-testid="placement-retrying"`) || !strings.Contains(page, "Retry now") {
		t.Errorf("Work page has no retry block: %s", snippet(page))
	}
	// The state filter and the metrics name the state.
	for state, want := range map[string]int{"retrying": 1, "failed": 0, "written": 0, "proposed": 0, "rejected": 0} {
		code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?state="+state, tok, nil)
		var page struct{ Items []struct{ ID int64 } }
		_ = json.Unmarshal([]byte(out), &page)
		if code != http.StatusOK || len(page.Items) != want {
			t.Errorf("?state=%s: %d %s, want %d Works", state, code, out, want)
		}
	}
	if code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?state=broken", tok, nil); code != http.StatusUnprocessableEntity ||
		!strings.Contains(out, "retrying") {
		t.Errorf("?state=broken: %d %s, want 422 listing the states", code, out)
	}
	_, metrics := scrape(t, h.URL, "")
	for _, want := range []string{`stateward_placements{state="retrying"} 1`, `stateward_placements{state="failed"} 0`,
		`stateward_placements{state="rejected"} 0`, `stateward_store_write_failing{kind="GitStateStore",store="repo",tenant_id=`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !metricLine(metrics, `stateward_store_write_failing{kind="GitStateStore",store="repo"`, "1") {
		t.Errorf("stateward_store_write_failing is not 1 for the store during the outage")
	}

	_, page = alice.get(t, h.URL+"/t/team-a/stores/git/repo")
	if !strings.Contains(page, `data-testid="store-retrying"`) || !strings.Contains(page, "connection refused") {
		t.Errorf("store page has no retry block: %s", snippet(page))
	}
	if _, page = alice.post(t, h.URL+"/t/team-a/stores/git/repo/retry", url.Values{}); !strings.Contains(page, "Retrying 1 placement on repo now.") {
		t.Errorf("Retry now on the store page: %s", snippet(page))
	}

	port.open()
	w := h.waitWritten(tok, "team-a", id)
	if len(w.Placements) != 1 {
		t.Fatalf("after the outage: %+v", w)
	}
	if st := h.storeStatus(tok, "team-a", "gitstatestores/repo"); st.Failing || st.WriteError != "" {
		t.Errorf("store status after a write went through: %+v, want not failing", st)
	}
}

// metricLine reports whether a series starting with prefix has value want.
func metricLine(metrics, prefix, want string) bool {
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, prefix) && strings.HasSuffix(line, " "+want) {
			return true
		}
	}
	return false
}

// TestContentRefusalFailsForGood: a placement the remote's pre-receive hook
// refuses is failed, not retried (a later write of the same store leaves it
// alone); Retry now (editor) sends it again at once; a viewer may not, another
// tenant gets 404; Check now answers the store with its status.
func TestContentRefusalFailsForGood(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	_, other := h.tenantWithToken("team-b", tenants.RoleEditor)
	viewer := h.token("team-a", tenants.RoleViewer)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{})
	t.Cleanup(h.StopWriters)
	git.SetPreReceive(testpeers.RejectContaining("FORBIDDEN"))
	if code, _, body := h.apply(tok, "team-a", git.StoreYAML("u", "p")+`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: repo}}
`); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	bad := h.accept(tok, `{"promise":"redis","resource":{"namespace":"default","name":"bad"},"destinationSelectors":{"environment":"prod"},"files":[{"path":"redis.yaml","content":"FORBIDDEN\n"}]}`)
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		w := h.work(tok, "team-a", bad)
		return len(w.Placements) == 1 && w.Placements[0].State == tenants.StateFailed, fmt.Sprintf("placements %+v, want failed", w.Placements)
	})
	good := h.accept(tok, `{"promise":"redis","resource":{"namespace":"default","name":"good"},"destinationSelectors":{"environment":"prod"},"files":[{"path":"redis.yaml","content":"fine\n"}]}`)
	h.waitWritten(tok, "team-a", good)
	w := h.work(tok, "team-a", bad)
	if p := w.Placements[0]; p.State != tenants.StateFailed || p.Attempts != 1 || p.NextAttemptAt != nil || !strings.Contains(p.Error, "content policy") {
		t.Errorf("refused placement after another write of its store: %+v, want failed once, not retried", p)
	}
	if st := h.storeStatus(tok, "team-a", "gitstatestores/repo"); st.Failing {
		t.Errorf("a content refusal marked the store failing: %+v", st)
	}

	retry := h.URL + fmt.Sprintf("/api/v1/tenants/team-a/works/%d/retry", bad)
	if code, out := api(t, http.MethodPost, retry, viewer, nil); code != http.StatusForbidden {
		t.Errorf("retry as a viewer: %d %s, want 403", code, out)
	}
	if code, out := api(t, http.MethodPost, h.URL+fmt.Sprintf("/api/v1/tenants/team-b/works/%d/retry", bad), other, nil); code != http.StatusNotFound {
		t.Errorf("retry of another tenant's Work: %d %s, want 404", code, out)
	}
	code, out := api(t, http.MethodPost, retry, tok, nil)
	var answered retryWork
	_ = json.Unmarshal([]byte(out), &answered)
	if code != http.StatusOK || len(answered.Placements) != 1 || tenants.FinalState(answered.Placements[0].State) {
		t.Fatalf("retry: %d %s, want the Work with its placement sent again", code, out)
	}
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		p := h.work(tok, "team-a", bad).Placements[0]
		return p.State == tenants.StateFailed && p.Attempts == 2, fmt.Sprintf("placement %+v, want refused a second time", p)
	})

	check := h.URL + "/api/v1/tenants/team-a/gitstatestores/repo/check"
	if code, out := api(t, http.MethodPost, check, viewer, nil); code != http.StatusForbidden {
		t.Errorf("check as a viewer: %d %s, want 403", code, out)
	}
	if code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-b/gitstatestores/repo/check", other, nil); code != http.StatusNotFound {
		t.Errorf("check of another tenant's store: %d %s, want 404", code, out)
	}
	if code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/bucketstatestores/repo/check", tok, nil); code != http.StatusNotFound {
		t.Errorf("check of a bucket store that does not exist: %d %s, want 404", code, out)
	}
	code, out = api(t, http.MethodPost, check, tok, nil)
	var obj struct {
		Kind     string
		Metadata struct{ Name string }
		Status   struct {
			Ready       *bool
			LastChecked *string
		}
	}
	_ = json.Unmarshal([]byte(out), &obj)
	if code != http.StatusOK || obj.Kind != tenants.KindGit || obj.Metadata.Name != "repo" || obj.Status.Ready == nil || !*obj.Status.Ready ||
		obj.Status.LastChecked == nil {
		t.Errorf("check now: %d %s, want the store, ready, with its check time", code, out)
	}
}

func (h *harness) tenantID(slug string) int64 {
	h.t.Helper()
	ten, err := h.DB.TenantBySlug(h.t.Context(), slug)
	if err != nil {
		h.t.Fatal(err)
	}
	return ten.ID
}

// token creates another API token of the tenant with role.
func (h *harness) token(slug string, role tenants.Role) string {
	h.t.Helper()
	_, tok, err := h.DB.CreateToken(h.t.Context(), h.tenantID(slug), string(role), role)
	if err != nil {
		h.t.Fatal(err)
	}
	return "Bearer " + tok
}

// waitOutstanding polls until the tenant has n placements and canary files not
// written.
func (h *harness) waitOutstanding(t testing.TB, slug string, n int) {
	t.Helper()
	id := h.tenantID(slug)
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		got, err := h.DB.Outstanding(t.Context(), id)
		return err == nil && got == n, fmt.Sprintf("%d outstanding (%v), want %d", got, err, n)
	})
}

// accept submits a Work to team-a and answers its id, without waiting for it.
func (h *harness) accept(tok, body string) int64 {
	h.t.Helper()
	code, out := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(body))
	var a workAnswer
	if err := json.Unmarshal([]byte(out), &a); code != http.StatusAccepted || err != nil {
		h.t.Fatalf("submit: %d %s", code, out)
	}
	return a.Work
}
