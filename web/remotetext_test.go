package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stateward/stateward/tenants"
)

// TestStoreReadErrorShownSanitized: a dry run's diff against a store whose
// endpoint answers with a hostile error message (a bidi override, zero-width
// characters, 20,000 characters) answers 502 with that message bounded and
// printable, not word for word.
func TestStoreReadErrorShownSanitized(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	t.Cleanup(h.StopWriters)
	evil := "Access \u202Edenied\u200B " + strings.Repeat("A", 20_000)
	// The readiness probe (start and abort an upload) passes, so that the store
	// is placed on; reading what it holds fails.
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		q := r.URL.Query()
		switch {
		case q.Has("location"):
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint>us-east-1</LocationConstraint>`)
			return
		case r.Method == http.MethodPost && q.Has("uploads"):
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>kratix</Bucket>`+
				`<Key>probe</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
			return
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>%s</Message><Resource>%s</Resource></Error>`,
			evil, r.URL.Path)
	}))
	t.Cleanup(s3.Close)
	yaml := `apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: evil}
spec: {endpoint: "` + strings.TrimPrefix(s3.URL, "http://") + `", bucketName: kratix, insecure: true, path: clusters, secretRef: {name: s3}}
---
apiVersion: v1
kind: Secret
metadata: {name: s3}
stringData: {accessKeyID: key, secretAccessKey: secret12345}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, initWorkloads: {enabled: false}, stateStoreRef: {kind: BucketStateStore, name: evil}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	code, out := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works?dryRun=true&diff=true", tok,
		strings.NewReader(filesWork("dev", "a.yaml", "a: 1\n")))
	if code != http.StatusBadGateway || !strings.Contains(out, "Access denied") {
		t.Fatalf("diff against the hostile store: %d %.300s, want 502 with its message", code, out)
	}
	if len(out) > tenants.MaxRemoteText+200 || !utf8.ValidString(out) || strings.ContainsFunc(out, func(r rune) bool {
		return unicode.Is(unicode.Cf, r) || (unicode.IsControl(r) && r != '\n')
	}) {
		t.Errorf("the 502 answer keeps the remote's text as sent: %d bytes %.300q", len(out), out)
	}
}
