package writers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

func (f *fakeSource) SetStoreStatus(_ context.Context, _ int64, _, _ string, ready bool, msg string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, msg)
	return nil
}

func (f *fakeSource) AllStores(context.Context) ([]tenants.StoreRef, error) {
	return []tenants.StoreRef{{TenantID: 1, Kind: tenants.KindBucket, Name: "b"}}, nil
}

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

// TestReadinessSweepOnlyOnItsTurn: with several replicas, the periodic re-check
// runs on the replica whose turn it is; the others check nothing.
func TestReadinessSweepOnlyOnItsTurn(t *testing.T) {
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>denied</Message></Error>`)
	}))
	defer s3.Close()
	for _, turn := range []bool{false, true} {
		src := &fakeSource{store: tenants.BucketStateStore{TenantID: 1, Name: "b", Endpoint: strings.TrimPrefix(s3.URL, "http://"),
			BucketName: "kratix", Insecure: true, AuthMethod: tenants.AuthAccessKey,
			Credentials: tenants.BucketCredentials{AccessKeyID: "a", SecretAccessKey: "s"}}}
		var asked atomic.Int32
		r := &Readiness{Source: src, Factory: Factory{Egress: egress.Policy{AllowPrivate: true}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Interval: time.Hour, Turn: func(context.Context, time.Duration) (bool, error) { asked.Add(1); return turn, nil }}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		deadline := time.Now().Add(10 * time.Second)
		for asked.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done // Run waits for the checks it started
		src.mu.Lock()
		got := len(src.statuses)
		src.mu.Unlock()
		if want := map[bool]int{false: 0, true: 1}[turn]; got != want || asked.Load() != 1 {
			t.Errorf("turn %v: %d checks after %d turn questions, want %d after 1", turn, got, asked.Load(), want)
		}
	}
}

type fakeStatuses map[tenants.StoreRef]tenants.Status

func (f fakeStatuses) StoreStatuses(context.Context) (map[tenants.StoreRef]tenants.Status, error) {
	return f, nil
}

// TestReadinessGaugeReadsTheSource: stateward_store_ready shows what the database
// holds (checks any replica ran), and nothing for a store not checked yet;
// stateward_store_write_failing is 1 for a store whose last write failed, whatever
// its check said, and 0 for every other store.
func TestReadinessGaugeReadsTheSource(t *testing.T) {
	yes, no := true, false
	reg := prometheus.NewRegistry()
	RegisterReadinessGauge(reg, fakeStatuses{
		{TenantID: 1, Kind: tenants.KindGit, Name: "repo"}:      {Ready: &yes},
		{TenantID: 2, Kind: tenants.KindBucket, Name: "bucket"}: {Ready: &no, Message: "denied"},
		{TenantID: 2, Kind: tenants.KindGit, Name: "new"}:       {},
		{TenantID: 3, Kind: tenants.KindGit, Name: "blip"}:      {Ready: &yes, WriteError: "connection refused"},
	})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got = append(got, fmt.Sprintf("%s %s/%s/%s=%g", f.GetName(), labels["tenant_id"], labels["kind"], labels["store"], m.GetGauge().GetValue()))
		}
	}
	slices.Sort(got)
	want := []string{"stateward_store_ready 1/GitStateStore/repo=1", "stateward_store_ready 2/BucketStateStore/bucket=0",
		"stateward_store_ready 3/GitStateStore/blip=1",
		"stateward_store_write_failing 1/GitStateStore/repo=0", "stateward_store_write_failing 2/BucketStateStore/bucket=0",
		"stateward_store_write_failing 2/GitStateStore/new=0", "stateward_store_write_failing 3/GitStateStore/blip=1"}
	if !slices.Equal(got, want) {
		t.Errorf("gauge = %q, want %q", got, want)
	}
}
