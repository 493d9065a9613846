package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

type createdTrigger struct {
	ID     int64  `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (h *harness) trigger(tok, tenant, body string) createdTrigger {
	h.t.Helper()
	code, out := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/"+tenant+"/triggers", tok, strings.NewReader(body))
	var c createdTrigger
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != http.StatusCreated || c.URL == "" || c.Secret == "" {
		h.t.Fatalf("create trigger: %d %s", code, out)
	}
	if !strings.HasPrefix(c.URL, h.URL+"/hooks/") {
		h.t.Fatalf("trigger url %q is not absolute under %s", c.URL, h.URL)
	}
	return c
}

type hookReply struct {
	Code       int
	Body       string
	RetryAfter string
}

func post(t testing.TB, url, contentType, body string, headers ...string) hookReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hookReply{resp.StatusCode, string(b), resp.Header.Get("Retry-After")}
}

func sign(secret string, t int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	return hex.EncodeToString(mac.Sum(nil))
}

func workBody(env, name, content string) string {
	return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":%q},
"destinationSelectors":{"environment":%q},"files":[{"path":"redis.yaml","content":%q}]}`, name, env, content)
}

type workAnswer struct {
	Work       int64
	Placements []struct {
		Destination string
		Paths       []string
		Job         *int64
		State       string
		Version     string
		Error       string
	}
	Unscheduled []tenants.Unscheduled
}

// waitWritten polls GET …/works/{id} until every placement is written.
func (h *harness) waitWritten(tok, tenant string, id int64) workAnswer {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var w workAnswer
	var body string
	for time.Now().Before(deadline) {
		_, body = api(h.t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/works/"+strconv.FormatInt(id, 10), tok, nil)
		w = workAnswer{}
		_ = json.Unmarshal([]byte(body), &w)
		done := len(w.Placements) > 0
		for _, p := range w.Placements {
			done = done && p.State == tenants.StateWritten
		}
		if done {
			return w
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("work %d not written within 60 s: %s", id, body)
	return w
}

// twoStores applies a bucket store on MinIO with Destination dev and a Git store
// over smart HTTP with Destination prod.
func (h *harness) twoStores(tok string) (*testpeers.S3Server, string, *testpeers.GitServer) {
	h.t.Helper()
	s3 := testpeers.MinIO(h.t)
	bucket := s3.NewBucket(h.t)
	h.t.Cleanup(h.StopWriters)
	git := testpeers.GitHTTP(h.t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	yaml := s3.StoreYAML(bucket) + git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
		h.t.Fatalf("apply: %d %s", code, body)
	}
	return s3, bucket, git
}

// TestWebhookEndToEnd: from trigger creation to files in a real bucket and a real
// Git repository, then deleted again, all with curl-shaped requests.
func TestWebhookEndToEnd(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3, bucket, git := h.twoStores(tok)
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)

	const devKey = "clusters/dev/resources/default/redis/dev-cache/5058f/redis.yaml"
	const prodKey = "gitops/prod/resources/default/redis/prod-cache/5058f/redis.yaml"
	r := post(t, trig.URL, "application/json", workBody("dev", "dev-cache", "kind: ConfigMap\n"))
	if r.Code != http.StatusAccepted {
		t.Fatalf("dev work: %d %s", r.Code, r.Body)
	}
	var dev workAnswer
	_ = json.Unmarshal([]byte(r.Body), &dev)
	if len(dev.Placements) != 1 || dev.Placements[0].Destination != "dev" || dev.Placements[0].Job == nil ||
		len(dev.Placements[0].Paths) != 1 || dev.Placements[0].Paths[0] != devKey {
		t.Fatalf("dev plan: %s", r.Body)
	}
	r = post(t, trig.URL, "application/json", workBody("prod", "prod-cache", "kind: Secret\n"))
	var prod workAnswer
	_ = json.Unmarshal([]byte(r.Body), &prod)
	if r.Code != http.StatusAccepted || len(prod.Placements) != 1 || prod.Placements[0].Paths[0] != prodKey {
		t.Fatalf("prod work: %d %s", r.Code, r.Body)
	}
	h.waitWritten(tok, "team-a", dev.Work)
	written := h.waitWritten(tok, "team-a", prod.Work)
	if got := s3.Objects(t, bucket, "clusters/dev/resources/")[devKey]; got != "kind: ConfigMap\n" {
		t.Errorf("bucket object %s = %q", devKey, got)
	}
	files := git.Files(t, "main")
	if files[prodKey] != "kind: Secret\n" {
		t.Errorf("git file %s = %q (files: %v)", prodKey, files[prodKey], files)
	}
	if v := written.Placements[0].Version; v != git.Head(t, "main") {
		t.Errorf("placement version %q, want the commit %q", v, git.Head(t, "main"))
	}
	// Canary files were written when the Destinations were registered.
	if _, ok := files["gitops/prod/dependencies/kratix-canary-namespace.yaml"]; !ok {
		t.Errorf("no canary namespace file in git: %v", files)
	}
	// Delete through the webhook removes the files.
	r = post(t, trig.URL, "application/json", `{"promise":"redis","resource":{"namespace":"default","name":"prod-cache"},"delete":true}`)
	if r.Code != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, still := git.Files(t, "main")[prodKey]; !still {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, still := git.Files(t, "main")[prodKey]; still {
		t.Errorf("deleted work's file %s is still in git", prodKey)
	}
	// The deliveries are on record.
	_, body := api(t, "GET", fmt.Sprintf("%s/api/v1/tenants/team-a/triggers/%d", h.URL, trig.ID), tok, nil)
	var got struct {
		LastUsedAt *time.Time
		Deliveries []struct {
			Status   int
			SourceIP string
			Work     *int64
		}
	}
	_ = json.Unmarshal([]byte(body), &got)
	if len(got.Deliveries) != 3 || got.LastUsedAt == nil || got.Deliveries[0].SourceIP != "127.0.0.1" ||
		got.Deliveries[2].Work == nil || *got.Deliveries[2].Work != dev.Work || got.Deliveries[0].Status != 202 {
		t.Errorf("deliveries: %s", body)
	}
	// The Work says which trigger made it.
	_, body = api(t, "GET", fmt.Sprintf("%s/api/v1/tenants/team-a/works/%d", h.URL, dev.Work), tok, nil)
	if !strings.Contains(body, fmt.Sprintf(`"trigger": %d`, trig.ID)) {
		t.Errorf("work does not name its trigger: %s", body)
	}
}

func TestWebhookSignatures(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "signed", "requireSignature": true}`)
	body := workBody("dev", "x", "a: b\n")
	now := time.Now().Unix()
	cases := []struct {
		name, header string
		want         int
	}{
		{"missing", "", 401},
		{"malformed", "v1=abc", 401},
		{"wrong", fmt.Sprintf("t=%d,v1=%s", now, sign("not-the-secret", now, body)), 401},
		{"stale", fmt.Sprintf("t=%d,v1=%s", now-400, sign(trig.Secret, now-400, body)), 401},
		{"future", fmt.Sprintf("t=%d,v1=%s", now+400, sign(trig.Secret, now+400, body)), 401},
		{"body changed", fmt.Sprintf("t=%d,v1=%s", now, sign(trig.Secret, now, body+" ")), 401},
		{"good", fmt.Sprintf("t=%d,v1=%s", now, sign(trig.Secret, now, body)), 202},
		{"one of several", fmt.Sprintf("t=%d,v1=%s,v1=%s", now-1, sign("old", now-1, body), sign(trig.Secret, now-1, body)), 202},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, trig.URL, "application/json", body, "Stateward-Signature", c.header)
			if r.Code != c.want {
				t.Errorf("got %d %s, want %d", r.Code, r.Body, c.want)
			}
		})
	}
	// Rotation: the old secret keeps working (24 h), the new one works too.
	code, out := api(t, "POST", fmt.Sprintf("%s/api/v1/tenants/team-a/triggers/%d/rotate", h.URL, trig.ID), tok, nil)
	var rot struct{ Secret string }
	_ = json.Unmarshal([]byte(out), &rot)
	if code != 200 || rot.Secret == "" || rot.Secret == trig.Secret {
		t.Fatalf("rotate: %d %s", code, out)
	}
	at := now - 2 // each delivery signed anew: a repeat of a signed one is a replay (409)
	for name, secret := range map[string]string{"old secret": trig.Secret, "new secret": rot.Secret} {
		at--
		r := post(t, trig.URL, "application/json", body, "Stateward-Signature", fmt.Sprintf("t=%d,v1=%s", at, sign(secret, at, body)))
		if r.Code != 202 {
			t.Errorf("%s after rotation: %d %s", name, r.Code, r.Body)
		}
	}
}

func TestWebhookIdempotency(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	body := workBody("dev", "x", "a: b\n")
	first := post(t, trig.URL, "application/json", body, "Idempotency-Key", "build-42")
	second := post(t, trig.URL, "application/json", body, "Idempotency-Key", "build-42")
	if first.Code != 202 || second.Code != 202 || first.Body != second.Body {
		t.Fatalf("replay: %d %s / %d %s", first.Code, first.Body, second.Code, second.Body)
	}
	if r := post(t, trig.URL, "application/json", workBody("dev", "y", "a: b\n"), "Idempotency-Key", "build-42"); r.Code != http.StatusConflict {
		t.Errorf("same key, other body: %d %s, want 409", r.Code, r.Body)
	}
	if r := post(t, trig.URL, "application/json", body, "Idempotency-Key", strings.Repeat("k", 256)); r.Code != http.StatusBadRequest {
		t.Errorf("256-character key: %d, want 400", r.Code)
	}
}

func TestWebhookLimits(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	pinned := h.trigger(tok, "team-a", `{"name": "pinned", "promise": "postgres", "requireSignature": false}`)
	cases := []struct {
		name, url, ctype, body string
		want                   int
		text                   string
	}{
		{"too large", trig.URL, "application/json", `{"promise":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "larger than 1 MiB, the limit for a webhook"},
		{"malformed JSON", trig.URL, "application/json", `{"promise": `, 400, "malformed JSON"},
		{"bad name", trig.URL, "application/json", `{"promise":"Redis_X","files":[{"path":"a.yaml","content":"x"}]}`, 422, `"field":"promise"`},
		{"path escape", trig.URL, "application/json", `{"promise":"redis","files":[{"path":"../a.yaml","content":"x"}]}`, 422, "files[0].path"},
		{"unknown field", trig.URL, "application/json", `{"promise":"redis","filez":[]}`, 422, "filez"},
		{"unknown token", h.URL + "/hooks/swh_nope", "application/json", workBody("dev", "x", "a"), 404, "not found"},
		{"pinned promise", pinned.URL, "application/json", workBody("dev", "x", "a"), 403, "postgres"},
		{"wrong content type", trig.URL, "text/plain", "hello", 400, "Content-Type"},
		{"yaml without file", trig.URL, "application/yaml", "a: b", 422, `"field":"file"`},
		{"yaml", trig.URL + "?promise=redis&namespace=default&name=y&file=redis.yaml&selector=environment%3Ddev", "application/yaml", "kind: ConfigMap\n", 202, `"work"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, c.url, c.ctype, c.body)
			if r.Code != c.want || !strings.Contains(r.Body, c.text) {
				t.Errorf("got %d %s, want %d with %q", r.Code, snippet(r.Body), c.want, c.text)
			}
		})
	}
	// Revoked: 404 from then on.
	if code, _ := api(t, "DELETE", fmt.Sprintf("%s/api/v1/tenants/team-a/triggers/%d", h.URL, trig.ID), tok, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if r := post(t, trig.URL, "application/json", workBody("dev", "x", "a")); r.Code != 404 {
		t.Errorf("revoked trigger: %d, want 404", r.Code)
	}
}

func TestWebhookRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "slow", "ratePerSecond": 2, "requireSignature": false}`)
	var limited *hookReply
	for i := 0; i < 10 && limited == nil; i++ {
		r := post(t, trig.URL, "application/json", workBody("dev", "x", "a: b\n"))
		if r.Code == http.StatusTooManyRequests {
			limited = &r
		}
	}
	if limited == nil {
		t.Fatal("10 quick calls at 2/s were never limited")
	}
	if limited.RetryAfter == "" || !strings.Contains(limited.Body, "rate limit") {
		t.Errorf("429 without Retry-After or reason: %+v", limited)
	}
}

func TestTriggerCrossTenant(t *testing.T) {
	h := newHarness(t, nil)
	_, tokA := h.tenantWithToken("team-a", tenants.RoleEditor)
	_, tokB := h.tenantWithToken("team-b", tenants.RoleEditor)
	trig := h.trigger(tokA, "team-a", `{"name": "ci", "requireSignature": false}`)
	for _, r := range []struct{ method, path string }{
		{"GET", "/triggers"}, {"POST", "/triggers"}, {"GET", fmt.Sprintf("/triggers/%d", trig.ID)},
		{"POST", fmt.Sprintf("/triggers/%d/rotate", trig.ID)}, {"DELETE", fmt.Sprintf("/triggers/%d", trig.ID)},
		{"GET", "/works"}, {"POST", "/works"}, {"GET", "/works/1"}, {"DELETE", "/works/1"},
	} {
		if code, body := api(t, r.method, h.URL+"/api/v1/tenants/team-a"+r.path, tokB, strings.NewReader("{}")); code != 404 {
			t.Errorf("%s %s with team-b's token: %d %s", r.method, r.path, code, body)
		}
	}
	// team-b's own ids never reach team-a's objects.
	if code, _ := api(t, "POST", fmt.Sprintf("%s/api/v1/tenants/team-b/triggers/%d/rotate", h.URL, trig.ID), tokB, nil); code != 404 {
		t.Errorf("team-b rotates team-a's trigger by id: %d", code)
	}
}

// TestWorkDryRun: ?dryRun=true answers the plan (200, job ids null) and writes
// nothing; the real submit then answers 202 with jobs.
func TestWorkDryRun(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3, bucket, _ := h.twoStores(tok)
	url := h.URL + "/api/v1/tenants/team-a/works"
	code, body := api(t, "POST", url+"?dryRun=true", tok, strings.NewReader(workBody("dev", "dry", "a: b\n")))
	var plan workAnswer
	_ = json.Unmarshal([]byte(body), &plan)
	if code != 200 || len(plan.Placements) != 1 || plan.Placements[0].Job != nil || plan.Work != 0 ||
		plan.Placements[0].Paths[0] != "clusters/dev/resources/default/redis/dry/5058f/redis.yaml" {
		t.Fatalf("dry run: %d %s", code, body)
	}
	code, body = api(t, "POST", url+"?dryRun=true", tok, strings.NewReader(workBody("staging", "dry", "a: b\n")))
	if code != 200 || !strings.Contains(body, "environment=staging") {
		t.Errorf("unschedulable dry run does not say why: %d %s", code, body)
	}
	if code, body := api(t, "GET", url, tok, nil); code != 200 || strings.Contains(body, `"dry"`) {
		t.Errorf("a dry run left a Work: %s", body)
	}
	code, body = api(t, "POST", url, tok, strings.NewReader(workBody("dev", "dry", "a: b\n")))
	var real workAnswer
	_ = json.Unmarshal([]byte(body), &real)
	if code != 202 || real.Work == 0 || real.Placements[0].Job == nil {
		t.Fatalf("submit: %d %s", code, body)
	}
	h.waitWritten(tok, "team-a", real.Work)
	if got := s3.Objects(t, bucket, "clusters/dev/resources/default/redis/dry/"); len(got) != 1 {
		t.Errorf("written objects: %v", got)
	}
	// Submitting the same identity again answers the same id.
	_, body = api(t, "POST", url, tok, strings.NewReader(workBody("dev", "dry", "a: c\n")))
	var again workAnswer
	_ = json.Unmarshal([]byte(body), &again)
	if again.Work != real.Work {
		t.Errorf("same identity got id %d, then %d", real.Work, again.Work)
	}
}

// TestWebhookFromAnotherOrigin: a browser-based sender on another origin is not a
// cross-site forgery (the token is no ambient credential) and is accepted.
func TestWebhookFromAnotherOrigin(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	r := post(t, trig.URL, "application/json", workBody("dev", "x", "a: b\n"),
		"Origin", "https://ci.example.com", "Sec-Fetch-Site", "cross-site")
	if r.Code != http.StatusAccepted {
		t.Errorf("cross-origin webhook: %d %s, want 202", r.Code, r.Body)
	}
}

// TestUnsignedCallsDoNotSpendTheRateLimit: on a signed trigger, unsigned calls are
// refused before they count against the rate limit, so the holder of the secret
// still gets through.
func TestUnsignedCallsDoNotSpendTheRateLimit(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "signed-slow", "requireSignature": true, "ratePerSecond": 0.1}`)
	body := workBody("dev", "x", "a: b\n")
	for i := range 20 {
		if r := post(t, trig.URL, "application/json", body); r.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned call %d: %d, want 401", i, r.Code)
		}
	}
	now := time.Now().Unix()
	r := post(t, trig.URL, "application/json", body, "Stateward-Signature", fmt.Sprintf("t=%d,v1=%s", now, sign(trig.Secret, now, body)))
	if r.Code != http.StatusAccepted {
		t.Errorf("signed call after 20 unsigned ones: %d %s, want 202", r.Code, r.Body)
	}
}
