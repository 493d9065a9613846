package writers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
)

// gatedGit registers a Git store whose pushes wait at a gate: entered is closed
// when a push reaches it, and once open is called the push goes on (forward) or is
// answered 503 without reaching the remote (a push abandoned by its client must not
// leave git http-backend waiting for a body that never comes).
func gatedGit(t *testing.T, e *engine, forward bool) (entered <-chan struct{}, open func()) {
	srv := gitPeer(t, true)
	in, gate := make(chan struct{}), make(chan struct{})
	var enterOnce, openOnce sync.Once
	proxy := proxyTo(t, srv.URL(), nil)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			enterOnce.Do(func() { close(in) })
			<-gate
			if !forward {
				http.Error(w, "gate closed", http.StatusServiceUnavailable)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	open = func() { openOnce.Do(func() { close(gate) }) }
	t.Cleanup(front.Close)
	t.Cleanup(open)
	s := tenants.GitStateStore{TenantID: e.tenant, Name: "store", URL: front.URL + "/repo.git", Path: "st", Insecure: true,
		Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
	s.Normalize()
	if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store"})
	return in, open
}

// runUntilPushBlocks starts a Runner, submits a Work, waits until its push is at
// the gate and cancels the Runner's context. It returns a channel closed when Run
// has returned.
func runUntilPushBlocks(t *testing.T, e *engine, grace time.Duration, entered <-chan struct{}) (int64, <-chan struct{}) {
	r := &Runner{DB: e.db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ShutdownGrace: grace,
		Factory: Factory{Egress: egress.Policy{AllowPrivate: true}, CacheDir: e.cacheDir}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	res := e.submit(t, work("a", nil, "a.yaml", "A"))
	r.Wake()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the push never reached the remote")
	}
	cancel()
	return res.Work, done
}

// TestRunnerShutdownFinishesWriteInFlight: on shutdown a push in flight may finish
// within the grace period, and its outcome is recorded.
func TestRunnerShutdownFinishesWriteInFlight(t *testing.T) {
	e := newEngine(t)
	entered, open := gatedGit(t, e, true)
	id, done := runUntilPushBlocks(t, e, 30*time.Second, entered)
	open()
	<-done
	if p := e.placement(t, id); p.State != tenants.StateWritten {
		t.Errorf("placement = %s (%s), want written", p.State, p.Error)
	}
}

// TestRunnerShutdownReleasesJobPastGrace: a push still hanging after the grace
// period is cancelled and the job released: due again for the next start.
func TestRunnerShutdownReleasesJobPastGrace(t *testing.T) {
	e := newEngine(t)
	entered, _ := gatedGit(t, e, false)
	id, done := runUntilPushBlocks(t, e, 50*time.Millisecond, entered)
	<-done
	if p := e.placement(t, id); p.State != tenants.StatePending || p.Error != "" {
		t.Errorf("placement = %s (%q), want pending with no error", p.State, p.Error)
	}
	jobs, err := e.db.Jobs(context.Background(), e.tenant, 1)
	if err != nil || len(jobs) != 1 || jobs[0].State != tenants.JobQueued || jobs[0].Attempts != 0 {
		t.Errorf("jobs = %+v, %v; want the job queued again without a failed attempt", jobs, err)
	}
}
