package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestDestinationShowsStoreWriteFailing: while its store's writes fail for a
// transport reason, a Destination's API status and its dashboard pages say so
// with the error (ready stays the last check's outcome), and all of it clears
// once a write goes through.
func TestDestinationShowsStoreWriteFailing(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{})
	t.Cleanup(h.StopWriters)
	host, _, _ := strings.Cut(strings.TrimPrefix(git.URL(), "http://"), "/")
	port := newClosablePort(t, host)
	yaml := strings.Replace(git.StoreYAML("u", "p"), host, port.addr, 1) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "gitstatestores/repo"); !ready {
		t.Fatalf("store not ready: %q", msg)
	}
	h.waitOutstanding(t, "team-a", 0)
	if st := h.storeStatus(tok, "team-a", "destinations/prod"); st.Failing || st.WriteError != "" {
		t.Fatalf("Destination status before the outage: %+v", st)
	}

	port.close()
	id := h.accept(tok, `{"promise":"redis","resource":{"namespace":"default","name":"a"},"destinationSelectors":{"environment":"prod"},"files":[{"path":"redis.yaml","content":"kind: Redis\n"}]}`)
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		st := h.storeStatus(tok, "team-a", "gitstatestores/repo")
		return st.WriteError != "", fmt.Sprintf("store status %+v, want a write error", st)
	})
	st := h.storeStatus(tok, "team-a", "destinations/prod")
	if !st.Failing || !strings.Contains(st.WriteError, "connection refused") || st.WriteFailedAt == nil {
		t.Errorf("GET destinations/prod during the outage: %+v, want failing with connection refused", st)
	}
	if st.Ready == nil || !*st.Ready {
		t.Errorf("GET destinations/prod during the outage: %+v: ready is the last check's outcome", st)
	}
	code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/destinations", tok, nil)
	var list struct {
		Items []struct{ Status storeStatus }
	}
	if err := json.Unmarshal([]byte(out), &list); code != http.StatusOK || err != nil || len(list.Items) != 1 ||
		!list.Items[0].Status.Failing || !strings.Contains(list.Items[0].Status.WriteError, "connection refused") {
		t.Errorf("GET destinations during the outage: %d %s, want prod failing with its write error", code, out)
	}
	alice := newBrowser(t)
	h.login(alice, "alice@example.com")
	if err := h.DB.AddMember(t.Context(), h.tenantID("team-a"), "alice@example.com", tenants.RoleEditor); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/t/team-a/destinations", "/t/team-a/destinations/prod"} {
		_, page := alice.get(t, h.URL+path)
		if !strings.Contains(page, "writes failing") || !strings.Contains(page, "connection refused") {
			t.Errorf("%s does not show the store's writes failing: %s", path, snippet(page))
		}
	}

	port.open()
	h.waitWritten(tok, "team-a", id)
	if st := h.storeStatus(tok, "team-a", "destinations/prod"); st.Failing || st.WriteError != "" || st.WriteFailedAt != nil {
		t.Errorf("GET destinations/prod after a write went through: %+v, want not failing", st)
	}
	for _, path := range []string{"/t/team-a/destinations", "/t/team-a/destinations/prod"} {
		if _, page := alice.get(t, h.URL+path); strings.Contains(page, "writes failing") || strings.Contains(page, "connection refused") {
			t.Errorf("%s still shows the write failure after a write went through: %s", path, snippet(page))
		}
	}
}
