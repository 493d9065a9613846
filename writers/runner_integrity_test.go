package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// submitErr submits req and returns the error.
func (e *engine) submitErr(req tenants.WorkRequest) error {
	w, err := req.Work()
	if err != nil {
		return err
	}
	_, err = e.db.SubmitWork(context.Background(), e.tenant, w, false)
	return err
}

// TestSubmitRefusesKeyConflicts: on every layout, a Work whose key is another
// Work's key, or a file where another Work's key needs a directory (in either
// order), is refused at submit with a conflict naming both Works and both paths;
// nothing of the refused Work reaches the store and the first stays written.
func TestSubmitRefusesKeyConflicts(t *testing.T) {
	withPipeline := func(req tenants.WorkRequest, p string) tenants.WorkRequest { req.Pipeline = p; return req }
	cases := []struct {
		name         string
		mode         string
		first, clash tenants.WorkRequest
		want         []string // parts of the conflict message
	}{
		{"none: file then directory", tenants.ModeNone,
			work("r1", nil, "app", "a file"), work("r2", nil, "app/config.yaml", "x"),
			[]string{`"st/d/app/config.yaml"`, `"st/d/app"`, "redis-r1-default-03171", "redis-r2-default-c237c"}},
		{"none: directory then file", tenants.ModeNone,
			work("r1", nil, "app/config.yaml", "x"), work("r2", nil, "app", "a file"),
			[]string{`"st/d/app"`, `"st/d/app/config.yaml"`, "redis-r1-default-03171", "redis-r2-default-c237c"}},
		{"nested: a pipeline named like a group id", tenants.ModeNested,
			work("r1", nil, "a.yaml", "x"), withPipeline(work("r1", nil, "b.yaml", "y"), "5058f"),
			[]string{"redis-r1-default-5058f-c3c5c", "redis-r1-default-03171", `"st/d/resources/default/redis/r1/5058f"`}},
		{"legacy: two pipelines of one resource share its directory", tenants.ModeLegacy,
			withPipeline(work("r1", nil, "a.yaml", "x"), "p1"), withPipeline(work("r1", nil, "b.yaml", "y"), "p2"),
			[]string{"redis-r1-default-p1-6f1c0", "redis-r1-default-p2-e5826", `"st/d/dst/resources/default/redis/r1"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			s, _ := gitUnderTest(t, e)
			e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store", Mode: tc.mode, InitWorkloads: true})
			e.start(t, nil)
			first := e.submit(t, tc.first)
			e.drain(t, 30*time.Second)
			before := s.files(t)
			err := e.submitErr(tc.clash)
			if !errors.Is(err, tenants.ErrConflict) {
				t.Fatalf("submit of the clashing Work = %v, want a conflict", err)
			}
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("conflict %q does not name %s", err, part)
				}
			}
			e.runner.Wake()
			e.drain(t, 30*time.Second)
			if got := s.files(t); !maps.Equal(got, before) {
				t.Errorf("store changed after a refused submit:\n%v\nwant\n%v", got, before)
			}
			if p := e.placement(t, first.Work); p.State != tenants.StateWritten {
				t.Errorf("first Work's placement = %s, want written", p.State)
			}
		})
	}
}

// TestAggregatedWorksShareTheirFile: on aggregatedYAML every Work writes the same
// one file, which is no conflict.
func TestAggregatedWorksShareTheirFile(t *testing.T) {
	e := newEngine(t)
	srv := gitPeer(t, true)
	e.gitStore(t, srv, "store", "st")
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store", Mode: tenants.ModeAggregated})
	for _, n := range []string{"r1", "r2"} {
		if err := e.submitErr(work(n, nil, "x.yaml", "kind: "+n)); err != nil {
			t.Fatalf("submit %s: %v", n, err)
		}
	}
}

// TestRejectedPlacementFailsAlone: a remote (fsck on, a content policy hook)
// that refuses one placement's file makes that placement fail for good with the
// remote's words; the other placements of the same batch are written, later
// Works of the store are written, and re-submitting the placement with good
// content writes it.
func TestRejectedPlacementFailsAlone(t *testing.T) {
	e := newEngine(t)
	srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Empty: true, Fsck: true})
	e.gitStore(t, srv, "store", "st")
	srv.SetPreReceive(testpeers.RejectContaining("FORBIDDEN"))
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store", Mode: tenants.ModeNone})
	var ids []int64
	for i := range 21 {
		content := fmt.Sprintf("n: %d\n", i)
		if i == 13 {
			content = "FORBIDDEN\n"
		}
		ids = append(ids, e.submit(t, work(fmt.Sprintf("w%02d", i), nil, fmt.Sprintf("w%02d.yaml", i), content)).Work)
	}
	e.start(t, nil)
	testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
		p := e.placement(t, ids[13])
		return p.State == tenants.StateFailed && e.outstanding(t) == 1, fmt.Sprintf("bad placement %s; %d outstanding; %s", p.State, e.outstanding(t), e.recent(t))
	})
	if msg := e.placement(t, ids[13]).Error; !strings.Contains(msg, "content policy: refusing") || !strings.Contains(msg, "w13.yaml") {
		t.Errorf("error of the refused placement = %q, want the remote's words naming the file", msg)
	}
	for i, id := range ids {
		if p := e.placement(t, id); i != 13 && p.State != tenants.StateWritten {
			t.Errorf("placement %d = %s %q, want written", i, p.State, p.Error)
		}
	}
	files := srv.Files(t, srv.Branch())
	if _, ok := files["st/d/w13.yaml"]; ok || files["st/d/w12.yaml"] != "n: 12\n" {
		t.Errorf("store holds %v; want every file but w13.yaml", keysOf(files))
	}
	// The store is not stuck: a later Work is written, the refused one is not retried.
	late := e.submit(t, work("late", nil, "late.yaml", "late\n"))
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		p := e.placement(t, late.Work)
		return p.State == tenants.StateWritten, "late Work is " + p.State + " " + p.Error
	})
	// Fixed content is written.
	e.submit(t, work("w13", nil, "w13.yaml", "fixed\n"))
	e.drain(t, 30*time.Second)
	if got := srv.Files(t, srv.Branch())["st/d/w13.yaml"]; got != "fixed\n" {
		t.Errorf("w13.yaml = %q after the fix, want fixed", got)
	}
}

func keysOf(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func (e *engine) outstanding(t testing.TB) int {
	n, err := e.db.Outstanding(context.Background(), e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGitmodulesRefusedAtSubmit: names a GitOps repository must not receive
// from a Work are refused at submit, at any depth and in any case form.
func TestGitmodulesRefusedAtSubmit(t *testing.T) {
	e := newEngine(t)
	srv := gitPeer(t, true)
	e.gitStore(t, srv, "store", "st")
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store", Mode: tenants.ModeNone})
	for _, name := range []string{".gitmodules", "a/.gitmodules", ".GitModules", ".gitattributes", "x/y/.GITATTRIBUTES", ".gitmodules.", "GITMOD~1", ".git/config", "a/.GIT/hooks/x"} {
		err := e.submitErr(work("r", nil, name, "[submodule \"x\"]\n\tpath = ../../x\n"))
		var ve *tenants.ValidationError
		var ves tenants.ValidationErrors
		if !errors.As(err, &ve) && !errors.As(err, &ves) {
			t.Errorf("submit of %q = %v, want a validation error", name, err)
		}
	}
}

// leaseThief is a JobStore whose claims are always taken over by the time the
// write is about to change the store; asked tells when a heartbeat came.
type leaseThief struct {
	JobStore
	once  *sync.Once
	asked chan struct{}
}

func (l leaseThief) Heartbeat(context.Context, *tenants.Job, time.Duration) error {
	l.once.Do(func() { close(l.asked) })
	return tenants.ErrLeaseLost
}

// TestLostLeaseStopsBeforePush: a worker whose lease is lost never pushes.
func TestLostLeaseStopsBeforePush(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store", Mode: tenants.ModeNone})
	e.submit(t, work("r", nil, "a.yaml", "a"))
	before := srv.CommitCount(t, srv.Branch())
	thief := leaseThief{once: &sync.Once{}, asked: make(chan struct{})}
	e.start(t, func(r *Runner) { thief.JobStore = r.DB; r.DB = thief; r.Lease = time.Hour })
	select {
	case <-thief.asked: // the lease is confirmed right before the push
	case <-time.After(30 * time.Second):
		t.Fatal("the write never confirmed its lease before pushing")
	}
	if after := srv.CommitCount(t, srv.Branch()); after != before {
		t.Errorf("commits %d → %d: a worker without its lease pushed", before, after)
	}
}

// TestSameContentTwiceInOnePush: two new files with the same content are one
// blob; a pack that carried it twice is refused by a remote that checks what it
// receives ("tried to add buffer twice").
func TestSameContentTwiceInOnePush(t *testing.T) {
	srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Fsck: true})
	g := newTestGit(t, srv, nil)
	b := Batch{Message: "twins", Puts: []File{{Key: "a/x.yaml", Content: []byte("same\n")}, {Key: "b/x.yaml", Content: []byte("same\n")}}}
	if _, err := g.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := srv.Files(t, srv.Branch()); got["a/x.yaml"] != "same\n" || got["b/x.yaml"] != "same\n" {
		t.Errorf("remote holds %v", got)
	}
}

// TestDeleteFileAndKeysBelowIt: a write may have to remove a stale file and stale
// keys below the same name (the history of a placement that turned a file into
// a directory); whichever the store holds goes.
func TestDeleteFileAndKeysBelowIt(t *testing.T) {
	for _, held := range []string{"st/app", "st/app/config.yaml"} {
		t.Run(held, func(t *testing.T) {
			srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Fsck: true})
			g := newTestGit(t, srv, nil)
			ctx := context.Background()
			if _, err := g.Apply(ctx, Batch{Message: "seed", Puts: []File{{Key: held, Content: []byte("x\n")}, {Key: "st/keep.yaml", Content: []byte("k\n")}}}); err != nil {
				t.Fatal(err)
			}
			del := Batch{Message: "remove", Deletes: []string{"st/app", "st/app/config.yaml"}, Keep: []string{"st/keep.yaml"}}
			if _, err := g.Apply(ctx, del); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := srv.Files(t, srv.Branch())
			if _, ok := got[held]; ok || got["st/keep.yaml"] != "k\n" {
				t.Errorf("remote holds %v, want %s gone and st/keep.yaml kept", keysOf(got), held)
			}
		})
	}
}

// TestDeletedStoreReleasesItsClone: the clone of a deleted Git store is closed
// and its cache directory removed.
func TestDeletedStoreReleasesItsClone(t *testing.T) {
	e := newEngine(t)
	s, _ := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	e.start(t, nil)
	e.submit(t, work("r", nil, "a.yaml", "a"))
	e.drain(t, 30*time.Second)
	dirs, _ := filepath.Glob(filepath.Join(e.cacheDir, "*", "git-*"))
	if len(dirs) != 1 {
		t.Fatalf("clone directories %v, want one", dirs)
	}
	ctx := context.Background()
	if err := e.db.DeleteDestination(ctx, e.tenant, "dst"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DeleteStore(ctx, e.tenant, tenants.KindGit, "store"); err != nil {
		t.Fatal(err)
	}
	if err := e.runner.sweepCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("clone %s of the deleted store is still there (%v)", dirs[0], err)
	}
	e.runner.mu.Lock()
	defer e.runner.mu.Unlock()
	if len(e.runner.backends) != 0 {
		t.Errorf("runner still holds %d backends", len(e.runner.backends))
	}
}

// TestInterruptedPushCannotLandLate: a push whose connection broke while the
// remote was still receiving it may complete after the writer gave up. A later
// write that changes nothing (here: removing the Work the push was for, which
// the branch does not hold yet) must still move the branch, so that the late
// push fails its compare-and-swap and the removed file never appears.
func TestInterruptedPushCannotLandLate(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store", Mode: tenants.ModeNone})
	dir := t.TempDir()
	entered, release, done := filepath.Join(dir, "entered"), filepath.Join(dir, "go"), filepath.Join(dir, "done")
	exited := filepath.Join(dir, "exited")
	// The first push waits in pre-receive until released; later ones pass at once.
	// Its hook leaves a watcher behind that marks when its receive-pack (the
	// hook's parent) has exited: by then the ref is updated or refused.
	srv.SetPreReceive("#!/bin/sh\ncat >/dev/null\nif [ ! -e " + entered + " ]; then\n  touch " + entered +
		"\n  while [ ! -e " + release + " ]; do sleep 0.05; done\n  touch " + done +
		"\n  rp=$PPID\n  (while kill -0 $rp 2>/dev/null; do sleep 0.02; done; touch " + exited + ") </dev/null >/dev/null 2>&1 &" +
		"\nfi\nexit 0\n")
	e.start(t, func(r *Runner) {
		r.PollInterval = 20 * time.Millisecond
		if os.Getenv("DEBUG_RUNNER") != "" {
			r.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
	})
	w := e.submit(t, work("r", nil, "app.yaml", "late"))
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(entered)
		return err == nil, "the first push has not reached the remote's hook"
	})
	srv.SetDown(true) // the connection breaks while the remote holds the push
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		p := e.placement(t, w.Work)
		return p.State == tenants.StateRetrying, "placement is " + p.State
	})
	srv.SetDown(false)
	if _, err := e.db.DeleteWork(context.Background(), e.tenant, w.Work); err != nil {
		t.Fatal(err)
	}
	e.runner.Wake()
	e.drainAll(t, 60*time.Second)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(exited)
		return err == nil, "the held push's receive-pack has not exited"
	})
	if got := srv.Files(t, srv.Branch()); got["st/d/app.yaml"] != "" {
		t.Errorf("the interrupted push landed after the Work was removed: remote holds %v", keysOf(got))
		out, _ := exec.Command("git", "-C", srv.Dir(), "log", "--format=%h %s", "--stat", "main").CombinedOutput()
		t.Logf("remote history:\n%s", out)
	}
}

// s3Hold is a proxy in front of an S3 server that lets the first pass object
// PUTs through and holds every later one until its client gives up: a write in
// progress that cannot finish on its own.
type s3Hold struct {
	url     string
	pass    int
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	puts    int
	held    chan struct{} // closed when the first PUT is held
	stopped chan struct{} // closed when a held PUT's client gave up
	stopAt  time.Time
	release chan struct{} // ends the held PUTs still waiting (test cleanup)
}

func newS3Hold(t *testing.T, endpoint string, pass int) *s3Hold {
	h := &s3Hold{pass: pass, held: make(chan struct{}), stopped: make(chan struct{}), release: make(chan struct{})}
	h.proxy = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: endpoint})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { close(h.release); srv.Close() })
	h.url = strings.TrimPrefix(srv.URL, "http://")
	return h
}

func (h *s3Hold) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
		h.proxy.ServeHTTP(w, r) // not an object PUT
		return
	}
	h.mu.Lock()
	h.puts++
	n := h.puts
	if n == h.pass+1 {
		close(h.held)
	}
	h.mu.Unlock()
	if n <= h.pass {
		h.proxy.ServeHTTP(w, r)
		return
	}
	// Read the body: only then does the server notice the client going away.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
		h.mu.Lock()
		if h.stopAt.IsZero() {
			h.stopAt = time.Now()
			close(h.stopped)
		}
		h.mu.Unlock()
	case <-h.release:
		http.Error(w, "test over", http.StatusServiceUnavailable)
	}
}

// holding reports whether a PUT has been held.
func (h *s3Hold) holding() bool {
	select {
	case <-h.held:
		return true
	default:
		return false
	}
}

// dbCutOff is a JobStore that loses the database once the write is under way
// (the proxy holds a PUT): every later heartbeat hangs until its context ends.
// It records when the last heartbeat that succeeded was sent.
type dbCutOff struct {
	JobStore
	hold     *s3Hold
	mu       sync.Mutex
	extended time.Time
}

func (c *dbCutOff) Heartbeat(ctx context.Context, job *tenants.Job, lease time.Duration) error {
	if c.hold.holding() {
		<-ctx.Done()
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection timed out")
	}
	sent := time.Now()
	err := c.JobStore.Heartbeat(ctx, job, lease)
	if err == nil {
		c.mu.Lock()
		c.extended = sent
		c.mu.Unlock()
	}
	return err
}

func (c *dbCutOff) lastExtended() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extended
}

// TestCutOffWriterStops: a writer that loses the database in the middle of a
// bucket write (its PUTs held by a proxy, its heartbeats hanging) stops writing
// before its lease can run out and another replica take the job over; a bucket
// has no compare-and-swap to fence it afterwards. With a 2s lease the writer
// used to go on until 2·Lease/3 + 1s, past the lease.
func TestCutOffWriterStops(t *testing.T) {
	e := newEngine(t)
	s3 := testpeers.MinIO(t)
	hold := newS3Hold(t, s3.Endpoint(), 5)
	st := tenants.BucketStateStore{TenantID: e.tenant, Name: "store", Endpoint: hold.url, BucketName: s3.NewBucket(t), Path: "st",
		Insecure: true, AuthMethod: tenants.AuthAccessKey,
		Credentials: tenants.BucketCredentials{AccessKeyID: s3.AccessKey(), SecretAccessKey: s3.SecretKey()}}
	st.Normalize()
	if _, err := e.db.SaveBucketStore(context.Background(), st, false); err != nil {
		t.Fatal(err)
	}
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindBucket, StoreName: "store", Mode: tenants.ModeNone})
	var files []string
	for i := range 100 {
		files = append(files, fmt.Sprintf("f%04d.yaml", i), fmt.Sprintf("n: %d\n", i))
	}
	w := e.submit(t, work("big", nil, files...))
	const lease = 2 * time.Second
	cut := &dbCutOff{hold: hold}
	e.start(t, func(r *Runner) {
		cut.JobStore = r.DB
		r.DB = cut
		r.Lease = lease
		r.ShutdownGrace = 100 * time.Millisecond
	})
	select {
	case <-hold.held: // the write is under way, and the database cut off
	case <-time.After(30 * time.Second):
		t.Fatalf("the write never started: %s", e.recent(t))
	}
	select {
	case <-hold.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the cut-off writer never gave up its held PUTs")
	}
	extended := cut.lastExtended()
	if extended.IsZero() {
		t.Fatal("no heartbeat succeeded before the cut")
	}
	if took := hold.stopAt.Sub(extended); took >= lease {
		t.Errorf("the writer stopped %v after its lease was last extended, lease %v: another replica could have written beside it", took, lease)
	} else {
		t.Logf("stopped %v after the last extension (lease %v, timer at %v)", took, lease, lease/2)
	}
	if p := e.placement(t, w.Work); p.State == tenants.StateWritten {
		t.Errorf("the placement shows written although its PUTs were held")
	}
}

// TestStaleFileBelowWhichKeysAreRemoved: in an owned directory, a stale file
// whose name the Batch also removes (or keeps) keys below goes like any other
// stale file. The model-based test found it: a Work that turned deep/x/y.yaml
// into a file deep/x, then was deleted, left deep/x behind.
func TestStaleFileBelowWhichKeysAreRemoved(t *testing.T) {
	for _, b := range []Batch{
		{Message: "remove", Deletes: []string{"st/w/deep/x/y.yaml"}, DeletePrefixes: []string{"st/w/"}},
		{Message: "keep below", Keep: []string{"st/w/deep/x/y.yaml"}, DeletePrefixes: []string{"st/w/"}},
	} {
		t.Run(b.Message, func(t *testing.T) {
			srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Fsck: true})
			g := newTestGit(t, srv, nil)
			ctx := context.Background()
			if _, err := g.Apply(ctx, Batch{Message: "seed", Puts: []File{{Key: "st/w/deep/x", Content: []byte("file\n")}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Apply(ctx, b); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := srv.Files(t, srv.Branch()); got["st/w/deep/x"] != "" {
				t.Errorf("remote holds %v: the stale file st/w/deep/x survived its owned directory's write", keysOf(got))
			}
		})
	}
}
