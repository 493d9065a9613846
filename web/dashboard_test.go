package web_test

import (
	"bytes"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/testpeers"
	"github.com/stateward/stateward/web"
)

// signedInTeam signs alice in and makes her the owner of team-a.
func (h *harness) signedInTeam() *browser {
	h.t.Helper()
	b := newBrowser(h.t)
	h.login(b, "alice@example.com")
	if resp, _ := b.post(h.t, h.URL+"/teams", url.Values{"slug": {"team-a"}}); resp.StatusCode != 200 {
		h.t.Fatalf("create team: %d", resp.StatusCode)
	}
	return b
}

func TestDashboardImportPasteUploadAndErrors(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	t.Cleanup(h.StopWriters)
	doc := strings.Replace(seedPage(s3.Endpoint(), s3.AccessKey(), s3.SecretKey()), "bucketName: kratix", "bucketName: "+bucket, 1)
	doc = strings.Replace(doc, "endpoint: "+s3.Endpoint(), "endpoint: '"+s3.Endpoint()+"'", 1)

	// Pasted, with the CRLF line endings a browser sends.
	resp, body := b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {strings.ReplaceAll(doc, "\n", "\r\n")}})
	if resp.StatusCode != 200 || strings.Count(body, "created") < 3 {
		t.Fatalf("paste import: %d %s", resp.StatusCode, snippet(body))
	}
	// Uploaded as a file: the same documents are unchanged.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "kratix.yaml")
	fw.Write([]byte(doc))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/t/team-a/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r2, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || strings.Count(string(out), "unchanged") < 3 {
		t.Fatalf("upload import: %d %s", r2.StatusCode, snippet(string(out)))
	}
	// A bad document: 422 with index, kind, name and field on the page.
	resp, body = b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {"apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: w}\nspec: {pathh: x}\n"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "spec.pathh") {
		t.Errorf("bad import: %d %s", resp.StatusCode, snippet(body))
	}
	if resp, body = b.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {""}}); resp.StatusCode != 422 || !strings.Contains(body, "paste Kratix YAML") {
		t.Errorf("empty import: %d", resp.StatusCode)
	}
	// "Check now" runs the check at once and the store page shows the outcome.
	resp, body = b.post(t, h.URL+"/t/team-a/stores/bucket/default/check", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Checked default") || !strings.Contains(body, `data-testid="status">ready<`) {
		t.Errorf("check now: %d %s", resp.StatusCode, snippet(body))
	}
	// The store page never shows the secret.
	if strings.Contains(body, s3.SecretKey()) {
		t.Error("store page shows the secret access key")
	}
}

func TestDashboardTriggers(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	resp, body := b.post(t, h.URL+"/t/team-a/triggers", url.Values{"name": {"ci"}, "ratePerSecond": {"fast"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "requests per second") {
		t.Fatalf("bad rate: %d", resp.StatusCode)
	}
	resp, body = b.post(t, h.URL+"/t/team-a/triggers", url.Values{"name": {"ci"}, "requireSignature": {"true"}})
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9_-]+`).FindString(body)
	hookURL := regexp.MustCompile(`http://127\.0\.0\.1:\d+/hooks/swh_[A-Za-z0-9_-]+`).FindString(body)
	if resp.StatusCode != 200 || secret == "" || hookURL == "" || !strings.Contains(body, "Stateward-Signature") {
		t.Fatalf("created page lacks URL, secret or signed curl example: %d", resp.StatusCode)
	}
	if resp, _ := b.post(t, h.URL+"/t/team-a/triggers", url.Values{"name": {"ci"}}); resp.StatusCode != 422 {
		t.Errorf("duplicate trigger name: %d, want 422", resp.StatusCode)
	}
	post(t, hookURL, "application/json", workBody("dev", "x", "a: b\n")) // unsigned: 401, logged
	_, page := b.get(t, h.URL+"/t/team-a/triggers/1")
	if !strings.Contains(page, "401") || strings.Contains(page, secret) || strings.Contains(page, hookURL) {
		t.Errorf("trigger page: want the 401 delivery and neither secret nor URL shown again")
	}
	_, body = b.post(t, h.URL+"/t/team-a/triggers/1/rotate", nil)
	if s := regexp.MustCompile(`whsec_[A-Za-z0-9_-]+`).FindString(body); s == "" || s == secret {
		t.Errorf("rotate shows no new secret")
	}
	resp, body = b.post(t, h.URL+"/t/team-a/triggers/1/revoke", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "revoked") {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if r := post(t, hookURL, "application/json", workBody("dev", "x", "a: b\n")); r.Code != 404 {
		t.Errorf("revoked URL: %d, want 404", r.Code)
	}
}

func TestDashboardWorkFormErrors(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	resp, body := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"Redis"}, "filePath": {"../x.yaml"}, "fileContent": {"a: b"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "is not a valid name") || !strings.Contains(body, "x.yaml") {
		t.Errorf("bad work form: %d %s", resp.StatusCode, snippet(body))
	}
	_, plan := b.post(t, h.URL+"/t/team-a/works/plan", url.Values{"promise": {"redis"}, "destinationSelectors": {"env=prod"},
		"filePath": {"a.yaml"}, "fileContent": {"a: b"}})
	if !strings.Contains(plan, `id="plan"`) || !strings.Contains(plan, "no Destinations registered") {
		t.Errorf("plan of an unschedulable Work does not say why: %s", snippet(plan))
	}
}

// TestSecureCookiesBehindHTTPS: with an https public URL the session cookie gets
// Secure and the __Host- prefix.
func TestSecureCookiesBehindHTTPS(t *testing.T) {
	m := testpeers.MockOIDC(t)
	d := openDB(t)
	cfg := web.Config{PublicURL: "https://stateward.example.com", OIDCIssuer: m.Issuer(), OIDCClientID: m.ClientID,
		OIDCClientSecret: m.ClientSecret, Egress: egress.Policy{}}
	srv := web.New(web.Deps{Config: cfg, Store: d, Works: d, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry()}).Handler()
	// Start a login, let the issuer answer, and hand its redirect to the callback.
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	login := rec.Result().Cookies()
	if len(login) != 1 || login[0].Name != "__Host-stateward_login" || !login[0].Secure || !login[0].HttpOnly || login[0].Path != "/" {
		t.Fatalf("login cookie %+v, want __Host-stateward_login, Secure, HttpOnly, Path=/", login)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/auth/callback?"+cb.RawQuery, nil)
	req.AddCookie(login[0])
	srv.ServeHTTP(rec, req)
	var cookie string
	for _, c := range rec.Header().Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-stateward_session=") {
			cookie = c
		}
	}
	for _, want := range []string{"__Host-stateward_session=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q (status %d)", cookie, want, rec.Code)
		}
	}
	if strings.Contains(cookie, "Domain=") {
		t.Errorf("a __Host- cookie must not set Domain: %q", cookie)
	}
}

func TestDashboardReviewFixes(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.signedInTeam()
	// A failed import with a Secret in it never shows the Secret back.
	bad := seedPage("s3.example.com", "AKIASHOWNOT", "never-echo-this") + "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: w}\nspec: {pathh: x}\n"
	resp, body := alice.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {bad}})
	if resp.StatusCode != 422 || strings.Contains(body, "never-echo-this") || strings.Contains(body, "QUtJQVNIT1dOT1") {
		t.Errorf("failed import with a Secret: %d, echoes the Secret: %v", resp.StatusCode, strings.Contains(body, "never-echo-this"))
	}
	// An import over 4 MiB is a 413.
	if resp, _ := alice.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {strings.Repeat("#", 5<<20)}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB import: %d, want 413", resp.StatusCode)
	}
	// Viewers cannot use the editors' form endpoints.
	alice.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"bob@example.com"}, "role": {"viewer"}})
	bob := newBrowser(t)
	h.login(bob, "bob@example.com")
	for _, p := range []string{"/t/team-a/destinations/preview", "/t/team-a/destinations/validate", "/t/team-a/stores/git/validate",
		"/t/team-a/works/plan", "/t/team-a/import", "/t/team-a/triggers"} {
		if resp, _ := bob.post(t, h.URL+p, url.Values{"metadata.name": {"x"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
}

func TestRewriteOfDeletedWorkRefused(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	// Submit a Work through the dashboard, delete it, then try to re-write it.
	resp, _ := b.post(t, h.URL+"/t/team-a/works", url.Values{"promise": {"redis"}, "filePath": {"a.yaml"}, "fileContent": {"a: b\n"}})
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Request.URL.Path, "/works/1") {
		t.Fatalf("submit: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	b.post(t, h.URL+"/t/team-a/works/1/delete", nil)
	_, body := b.post(t, h.URL+"/t/team-a/works/1/rewrite", nil)
	if !strings.Contains(body, "was deleted") {
		t.Errorf("re-write of a deleted Work was not refused: %s", snippet(body))
	}
}
