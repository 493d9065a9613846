package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// seedPage is the example of the public Kratix Destination docs page, verbatim,
// plus the Secret its secretRef names (with the trailing newline `echo` leaves).
func seedPage(endpoint, access, secret string) string {
	return `---
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: default
  namespace: default
spec:
  path: destinations
  endpoint: ` + endpoint + `
  insecure: true
  bucketName: kratix
  secretRef:
    name: aws-credentials
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker-1
  labels:
    environment: dev
spec:
  path: dev
  stateStoreRef:
    name: default
    kind: BucketStateStore
---
apiVersion: v1
kind: Secret
metadata:
  name: aws-credentials
data:
  accessKeyID: ` + base64.StdEncoding.EncodeToString([]byte(access+"\n")) + `
  secretAccessKey: ` + base64.StdEncoding.EncodeToString([]byte(secret)) + `
`
}

// tenantWithToken makes a tenant and an API token of role for it.
func (h *harness) tenantWithToken(slug string, role tenants.Role) (tenants.Tenant, string) {
	h.t.Helper()
	ctx := context.Background()
	t, err := h.DB.CreateTenant(ctx, slug, "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	_, tok, err := h.DB.CreateToken(ctx, t.ID, "test", role)
	if err != nil {
		h.t.Fatal(err)
	}
	return t, "Bearer " + tok
}

type applyAnswer struct {
	Results []struct {
		Index      int
		Kind, Name string
		Action     string
	}
	Warnings []struct {
		Index               int
		Kind, Name, Message string
	}
	Error  string
	Errors []struct {
		Index                      int
		Kind, Name, Field, Message string
	}
}

func (h *harness) apply(tok, tenant, yaml string) (int, applyAnswer, string) {
	h.t.Helper()
	code, body := api(h.t, http.MethodPost, h.URL+"/api/v1/tenants/"+tenant+"/apply", tok, strings.NewReader(yaml))
	var a applyAnswer
	_ = json.Unmarshal([]byte(body), &a)
	return code, a, body
}

func TestApplyExportRoundTripOfSeedPage(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	doc := seedPage("s3.amazonaws.com", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	code, a, body := h.apply(tok, "team-a", doc)
	if code != http.StatusOK || len(a.Results) != 3 {
		t.Fatalf("apply: %d %s", code, body)
	}
	for _, r := range a.Results {
		if r.Action != "created" {
			t.Errorf("%s %s: %s, want created", r.Kind, r.Name, r.Action)
		}
	}
	// The same file again changes nothing, credentials included.
	_, a, _ = h.apply(tok, "team-a", doc)
	for _, r := range a.Results {
		if r.Action != "unchanged" {
			t.Errorf("re-apply %s %s: %s, want unchanged", r.Kind, r.Name, r.Action)
		}
	}
	code, exported := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/export", tok, nil)
	if code != 200 {
		t.Fatalf("export: %d %s", code, exported)
	}
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", base64.StdEncoding.EncodeToString([]byte("AKIAIOSFODNN7EXAMPLE\n"))} {
		if strings.Contains(exported, secret) {
			t.Errorf("export contains the credential %q", secret)
		}
	}
	for _, want := range []string{"name: worker-1", "environment: dev", "bucketName: kratix", "name: aws-credentials", "path: destinations"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	// The export applies back as unchanged (the Secret is already stored).
	code, a, body = h.apply(tok, "team-a", exported)
	if code != 200 {
		t.Fatalf("apply of export: %d %s", code, body)
	}
	for _, r := range a.Results {
		if r.Action != "unchanged" {
			t.Errorf("export round trip %s %s: %s, want unchanged", r.Kind, r.Name, r.Action)
		}
	}
	// And the API shows Kratix-shaped objects with a status.
	code, body = api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/destinations/worker-1", tok, nil)
	var obj map[string]any
	_ = json.Unmarshal([]byte(body), &obj)
	if code != 200 || obj["apiVersion"] != "platform.kratix.io/v1alpha1" || obj["kind"] != "Destination" || obj["status"] == nil {
		t.Errorf("GET destination: %d %s", code, body)
	}
}

func TestApplyRejectsBadDocuments(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	cases := []struct {
		name, yaml           string
		index                int
		kind, objName, field string
	}{
		{"missing path", `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1}
spec: {stateStoreRef: {name: default, kind: BucketStateStore}}
`, 1, "Destination", "worker-1", "spec.path"},
		{"typo field", `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1}
spec: {pathh: dev, path: dev, stateStoreRef: {name: default, kind: BucketStateStore}}
`, 1, "Destination", "worker-1", "spec.pathh"},
		{"secret without its key", `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo}
spec: {url: "https://git.example.com/r.git", secretRef: {name: creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {username: bot}
`, 1, "GitStateStore", "repo", "password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, a, body := h.apply(tok, "team-a", c.yaml)
			if code != http.StatusUnprocessableEntity || len(a.Errors) == 0 {
				t.Fatalf("got %d %s, want 422", code, body)
			}
			e := a.Errors[0]
			if e.Index != c.index || e.Kind != c.kind || e.Name != c.objName || (c.field != "" && e.Field != c.field) {
				t.Errorf("error %+v, want index %d %s %s field %q", e, c.index, c.kind, c.objName, c.field)
			}
		})
	}
	// Nothing of a refused file is applied.
	code, body := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/destinations", tok, nil)
	if code != 200 || strings.Contains(body, "worker-1") {
		t.Errorf("a refused document was applied: %s", body)
	}
}

// TestApplyRefusesMetadataAddresses: literal link-local and cloud metadata
// endpoints in any encoding are refused at apply time, even with private
// endpoints allowed.
func TestApplyRefusesMetadataAddresses(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	for _, host := range []string{"169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "[fe80::1]", "100.100.100.200"} {
		t.Run(host, func(t *testing.T) {
			doc := strings.Replace(seedPage(host, "a", "b"), "endpoint: "+host, "endpoint: '"+host+"'", 1)
			code, a, body := h.apply(tok, "team-a", doc)
			if code != http.StatusUnprocessableEntity || len(a.Errors) == 0 || a.Errors[0].Field != "spec.endpoint" ||
				!strings.Contains(a.Errors[0].Message, "is not allowed") {
				t.Errorf("endpoint %s: %d %s", host, code, body)
			}
		})
		gitDoc := fmt.Sprintf("apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: r}\nspec: {url: \"https://%s/r.git\", authMethod: none}\n", host)
		if code, a, body := h.apply(tok, "team-a", gitDoc); code != 422 || len(a.Errors) == 0 || !strings.Contains(a.Errors[0].Message, "is not allowed") {
			t.Errorf("git url on %s: %d %s", host, code, body)
		}
	}
}

// status polls a store until its readiness check has finished.
func (h *harness) status(tok, tenant, path string) (ready bool, message string) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, body := api(h.t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/"+path, tok, nil)
		var obj struct {
			Status struct {
				Ready       *bool
				Message     string
				LastChecked *string
			}
		}
		_ = json.Unmarshal([]byte(body), &obj)
		if obj.Status.Ready != nil {
			if obj.Status.LastChecked == nil {
				h.t.Errorf("%s: ready set without lastChecked", path)
			}
			return *obj.Status.Ready, obj.Status.Message
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s: no readiness result within 60 s", path)
	return false, ""
}

func TestReadinessAgainstRealMinIO(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	t.Cleanup(h.StopWriters)
	store := func(name, bucketName, secretKey string) string {
		return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: %s}
spec: {endpoint: "%s", bucketName: %s, insecure: true, path: p, secretRef: {name: %s-creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: %s-creds}
stringData: {accessKeyID: %s, secretAccessKey: "%s"}
`, name, s3.Endpoint(), bucketName, name, name, s3.AccessKey(), secretKey)
	}
	cases := []struct {
		name, bucket, secret string
		ready                bool
		msg                  string
	}{
		{"good", bucket, s3.SecretKey(), true, "ready"},
		{"wrong-secret", bucket, "not-the-secret", false, "access denied"},
		{"missing-bucket", "no-such-bucket-x", s3.SecretKey(), false, "does not exist"},
	}
	for _, c := range cases {
		if code, _, body := h.apply(tok, "team-a", store(c.name, c.bucket, c.secret)); code != 200 {
			t.Fatalf("apply %s: %d %s", c.name, code, body)
		}
	}
	for _, c := range cases {
		ready, msg := h.status(tok, "team-a", "bucketstatestores/"+c.name)
		if ready != c.ready || !strings.Contains(strings.ToLower(msg), c.msg) {
			t.Errorf("%s: ready=%v %q, want %v with %q", c.name, ready, msg, c.ready, c.msg)
		}
	}
	// The check left nothing behind in the bucket.
	if objs := s3.Objects(t, bucket, ""); len(objs) != 0 {
		t.Errorf("readiness check left objects: %v", objs)
	}
}

func TestReadinessAgainstRealGit(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "right"})
	before := git.CommitCount(t, "main")
	store := func(name, branch, password string) string {
		return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: %s}
spec: {url: "%s", branch: %s, insecure: true, secretRef: {name: %s-creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: %s-creds}
stringData: {username: bot, password: "%s"}
`, name, git.URL(), branch, name, name, password)
	}
	cases := []struct {
		name, branch, password string
		ready                  bool
		msg                    string
	}{
		{"good", "main", "right", true, "ready"},
		{"wrong-password", "main", "wrong", false, "authentication failed"},
		{"missing-branch", "nope", "right", false, `branch "nope" not found`},
	}
	for _, c := range cases {
		if code, _, body := h.apply(tok, "team-a", store(c.name, c.branch, c.password)); code != 200 {
			t.Fatalf("apply %s: %d %s", c.name, code, body)
		}
	}
	for _, c := range cases {
		ready, msg := h.status(tok, "team-a", "gitstatestores/"+c.name)
		if ready != c.ready || !strings.Contains(strings.ToLower(msg), strings.ToLower(c.msg)) {
			t.Errorf("%s: ready=%v %q, want %v with %q", c.name, ready, msg, c.ready, c.msg)
		}
		if strings.Contains(msg, "wrong") || strings.Contains(msg, "right") {
			t.Errorf("%s: the message %q shows the password", c.name, msg)
		}
	}
	if got := git.CommitCount(t, "main"); got != before {
		t.Errorf("readiness checks made commits: %d → %d", before, got)
	}
}

// TestCrossTenantIsolation: every store and Destination route answers 404 to a
// member of another tenant, by API and by dashboard.
func TestCrossTenantIsolation(t *testing.T) {
	h := newHarness(t, nil)
	_, tokA := h.tenantWithToken("team-a", tenants.RoleOwner)
	_, tokB := h.tenantWithToken("team-b", tenants.RoleOwner)
	if code, _, body := h.apply(tokA, "team-a", seedPage("s3.example.com", "a", "b")); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	routes := []struct{ method, path string }{
		{"GET", "/"}, {"POST", "/apply"}, {"GET", "/export"},
		{"GET", "/destinations"}, {"GET", "/destinations/worker-1"}, {"DELETE", "/destinations/worker-1"},
		{"GET", "/bucketstatestores"}, {"GET", "/bucketstatestores/default"}, {"DELETE", "/bucketstatestores/default"},
		{"GET", "/gitstatestores"}, {"GET", "/gitstatestores/x"}, {"DELETE", "/gitstatestores/x"},
	}
	for _, r := range routes {
		code, body := api(t, r.method, h.URL+"/api/v1/tenants/team-a"+r.path, tokB, strings.NewReader(""))
		if code != http.StatusNotFound {
			t.Errorf("%s %s with team-b's token: %d %s, want 404", r.method, r.path, code, body)
		}
	}
	// team-b's own view of the same names: not found, not team-a's objects.
	if code, _ := api(t, "GET", h.URL+"/api/v1/tenants/team-b/destinations/worker-1", tokB, nil); code != 404 {
		t.Errorf("team-b sees worker-1: %d", code)
	}
	// The dashboard: a signed-in member of team-b only.
	b := newBrowser(t)
	h.login(b, "bob@example.com")
	b.post(t, h.URL+"/teams", map[string][]string{"slug": {"team-c"}})
	for _, p := range []string{"/t/team-a/stores", "/t/team-a/stores/bucket/default", "/t/team-a/stores/bucket/default/edit",
		"/t/team-a/destinations", "/t/team-a/destinations/worker-1", "/t/team-a/destinations/worker-1/edit", "/t/team-a/import",
		"/t/team-a/members", "/t/team-a/tokens", "/t/team-a/settings"} {
		if resp, _ := b.get(t, h.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s as a non-member: %d, want 404", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/t/team-a/stores/bucket/default/delete", "/t/team-a/destinations/worker-1/delete",
		"/t/team-a/stores/bucket/default/check", "/t/team-a/import", "/t/team-a/members", "/t/team-a/tokens"} {
		if resp, _ := b.post(t, h.URL+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s as a non-member: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestViewerCannotChange(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleViewer)
	if code, _, _ := h.apply(tok, "team-a", seedPage("s3.example.com", "a", "b")); code != http.StatusForbidden {
		t.Errorf("viewer apply: %d, want 403", code)
	}
	if code, _ := api(t, "DELETE", h.URL+"/api/v1/tenants/team-a/destinations/x", tok, nil); code != http.StatusForbidden {
		t.Errorf("viewer delete: %d, want 403", code)
	}
	if code, _ := api(t, "GET", h.URL+"/api/v1/tenants/team-a/destinations", tok, nil); code != 200 {
		t.Errorf("viewer read: %d, want 200", code)
	}
}

func TestAPIBodyCap(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	big := strings.Repeat("# padding\n", (4<<20)/10+10)
	if code, _, body := h.apply(tok, "team-a", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 4 MiB") {
		t.Errorf("5 MiB body: %d %s, want 413 naming the 4 MiB limit", code, body)
	}
}
