package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestApplyInAnyOrder applies a Destination before its State Store and the store
// before its Secret, as a team applying a folder of Kratix YAML with kubectl
// would: each is accepted with a warning (in the API answer and on the import
// page), shown not ready with the reason, a Work for it waits visibly, and all of
// it becomes ready and written on its own when the Secret arrives, on a real MinIO.
func TestApplyInAnyOrder(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.signedInTeam()
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := h.DB.CreateToken(context.Background(), team.ID, "test", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + secret
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	t.Cleanup(h.StopWriters)

	// 1. The Destination first, from the dashboard's import page.
	resp, page := alice.post(t, h.URL+"/t/team-a/import", url.Values{"yaml": {`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: default}}
`}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-testid="import-warnings"`) ||
		!strings.Contains(page, "referenced BucketStateStore &#34;default&#34; does not exist yet") {
		t.Fatalf("import of a Destination before its store: %d, no warning: %s", resp.StatusCode, snippet(page))
	}
	_, list := alice.get(t, h.URL+"/t/team-a/destinations")
	if !strings.Contains(list, "State Store `default` not found") {
		t.Errorf("the Destination list does not say why worker-1 is not ready: %s", snippet(list))
	}
	if ready, msg := destStatus(t, h.URL, tok, "worker-1"); ready == nil || *ready || !strings.Contains(msg, "State Store `default` not found") {
		t.Errorf("worker-1 status: %v %q, want not ready, State Store `default` not found", ready, msg)
	}

	// 2. A Work for it waits, and says so.
	work := `{"promise":"redis","destinationSelectors":{"environment":"dev"},"files":[{"path":"redis.yaml","content":"kind: Redis\n"}]}`
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(work))
	var w workAnswer
	_ = json.Unmarshal([]byte(body), &w)
	if code != http.StatusAccepted || len(w.Placements) != 0 || len(w.Unscheduled) != 1 ||
		!strings.Contains(w.Unscheduled[0].Reason, "Destination worker-1 waits: State Store `default` not found") {
		t.Fatalf("submit to a waiting Destination: %d %s", code, body)
	}
	workID := w.Work

	// 3. The store, before its Secret: accepted with a warning, not ready.
	code, a, body := h.apply(tok, "team-a", fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: default}
spec: {endpoint: "%s", bucketName: %s, insecure: true, path: clusters, secretRef: {name: s3-creds}}
`, s3.Endpoint(), bucket))
	if code != http.StatusOK || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0].Message, `referenced Secret "s3-creds" does not exist yet`) {
		t.Fatalf("apply of a store before its Secret: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "bucketstatestores/default"); ready || !strings.Contains(msg, "Secret `s3-creds` not found") {
		t.Errorf("store status: %v %q, want not ready, Secret `s3-creds` not found", ready, msg)
	}
	if ready, msg := destStatus(t, h.URL, tok, "worker-1"); ready == nil || *ready || !strings.Contains(msg, "Secret `s3-creds` not found") {
		t.Errorf("worker-1 status: %v %q, want not ready, Secret `s3-creds` not found", ready, msg)
	}
	_, body = api(t, http.MethodGet, h.URL+fmt.Sprintf("/api/v1/tenants/team-a/works/%d", workID), tok, nil)
	w = workAnswer{}
	_ = json.Unmarshal([]byte(body), &w)
	if len(w.Placements) != 0 || len(w.Unscheduled) != 1 || !strings.Contains(w.Unscheduled[0].Reason, "Secret `s3-creds` not found") {
		t.Errorf("Work while the store waits for its Secret: %s", body)
	}

	// 4. The Secret: no warning; store, Destination and Work follow on their own.
	code, a, body = h.apply(tok, "team-a", fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: s3-creds}
stringData: {accessKeyID: %s, secretAccessKey: "%s"}
`, s3.AccessKey(), s3.SecretKey()))
	if code != http.StatusOK || len(a.Warnings) != 0 {
		t.Fatalf("apply of the Secret: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "bucketstatestores/default"); !ready {
		t.Errorf("store not ready after its Secret was applied: %q", msg)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready, msg := destStatus(t, h.URL, tok, "worker-1")
		if ready != nil && *ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker-1 not ready after the Secret was applied: %v %q", ready, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w = h.waitWritten(tok, "team-a", workID)
	if len(w.Placements) != 1 || w.Placements[0].Destination != "worker-1" || len(w.Unscheduled) != 0 {
		t.Errorf("Work after the Secret: %+v", w)
	}
	objs := s3.Objects(t, bucket, "")
	if got := objs["clusters/dev/dependencies/redis/5058f/redis.yaml"]; got != "kind: Redis\n" {
		t.Errorf("bucket holds %v, want the Work's file", keysOf(objs))
	}
	if _, ok := objs["clusters/dev/dependencies/kratix-canary-namespace.yaml"]; !ok {
		t.Errorf("bucket holds %v, want the canary files", keysOf(objs))
	}
}

func destStatus(t *testing.T, base, tok, name string) (*bool, string) {
	t.Helper()
	_, body := api(t, http.MethodGet, base+"/api/v1/tenants/team-a/destinations/"+name, tok, nil)
	var obj struct {
		Status struct {
			Ready   *bool
			Message string
		}
	}
	_ = json.Unmarshal([]byte(body), &obj)
	return obj.Status.Ready, obj.Status.Message
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
