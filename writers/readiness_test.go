package writers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
)

// fakeSource serves one bucket store and records the statuses set.
type fakeSource struct {
	mu       sync.Mutex
	store    tenants.BucketStateStore
	statuses []string
}

func (f *fakeSource) GitStore(context.Context, int64, string) (tenants.GitStateStore, error) {
	return tenants.GitStateStore{}, tenants.ErrNotFound
}

func (f *fakeSource) BucketStore(context.Context, int64, string) (tenants.BucketStateStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, nil
}

func (f *fakeSource) SetStoreStatus(_ context.Context, _ int64, _, _ string, ready bool, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, msg)
	return nil
}

func (f *fakeSource) AllStores(context.Context) ([]tenants.StoreRef, error) { return nil, nil }

// TestReadinessRechecksAfterASaveDuringACheck: a store saved while its check is in
// flight is checked again with the new settings, not left showing the old result.
func TestReadinessRechecksAfterASaveDuringACheck(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>denied</Message></Error>`)
	}))
	defer s3.Close()
	src := &fakeSource{store: tenants.BucketStateStore{TenantID: 1, Name: "b", Endpoint: strings.TrimPrefix(s3.URL, "http://"),
		BucketName: "kratix", Insecure: true, AuthMethod: tenants.AuthAccessKey,
		Credentials: tenants.BucketCredentials{AccessKeyID: "a", SecretAccessKey: "s"}}}
	r := &Readiness{Source: src, Factory: Factory{Egress: egress.Policy{AllowPrivate: true}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeout: 20 * time.Second}
	ref := tenants.StoreRef{TenantID: 1, Kind: tenants.KindBucket, Name: "b"}
	r.Trigger(ref)
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Trigger(ref) // the save: arrives while the first check waits
	r.Trigger(ref) // and another: still one more check, not two
	close(release)
	r.Wait()
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.statuses) != 2 {
		t.Fatalf("checks recorded: %d (%q), want 2: the one in flight and one after the save", len(src.statuses), src.statuses)
	}
}
