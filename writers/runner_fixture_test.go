package writers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// engine is the durable write engine on a real SQLite file: one tenant, its
// stores and Destinations, and a Runner draining its jobs.
type engine struct {
	db       *db.DB
	dbPath   string
	cacheDir string
	tenant   int64
	metrics  *RunnerMetrics
	runner   *Runner
}

var engineKey = bytes.Repeat([]byte{7}, 32)

func openEngineDB(t testing.TB, path string) *db.DB {
	t.Helper()
	s, err := db.NewSealer(engineKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), db.Options{Path: path, Sealer: s})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newEngine(t testing.TB) *engine {
	t.Helper()
	dir := t.TempDir()
	e := &engine{dbPath: filepath.Join(dir, "stateward.db"), cacheDir: filepath.Join(dir, "cache")}
	e.db = openEngineDB(t, e.dbPath)
	ten, err := e.db.CreateTenant(context.Background(), "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = ten.ID
	return e
}

// gitStore registers srv as Git store name with store path path.
func (e *engine) gitStore(t testing.TB, srv *testpeers.GitServer, name, path string) {
	t.Helper()
	s := tenants.GitStateStore{TenantID: e.tenant, Name: name, URL: srv.URL(), Branch: srv.Branch(), Path: path,
		Insecure: true, AuthorName: "Stateward Test", AuthorEmail: "sw@example.com",
		Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
	s.Normalize()
	if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
}

// bucketStore registers a fresh MinIO bucket as bucket store name; it returns the
// bucket's name.
func (e *engine) bucketStore(t testing.TB, s3 *testpeers.S3Server, name, path string) string {
	t.Helper()
	bucket := s3.NewBucket(t)
	s := tenants.BucketStateStore{TenantID: e.tenant, Name: name, Endpoint: s3.Endpoint(), BucketName: bucket, Path: path,
		Insecure: true, AuthMethod: tenants.AuthAccessKey,
		Credentials: tenants.BucketCredentials{AccessKeyID: s3.AccessKey(), SecretAccessKey: s3.SecretKey()}}
	s.Normalize()
	if _, err := e.db.SaveBucketStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
	return bucket
}

func (e *engine) destination(t testing.TB, d tenants.Destination) {
	t.Helper()
	d.TenantID = e.tenant
	d.Normalize()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SaveDestination(context.Background(), d); err != nil {
		t.Fatalf("SaveDestination: %v", err)
	}
}

// submit decodes body as a Work request and submits it.
func (e *engine) submit(t testing.TB, req tenants.WorkRequest) tenants.SubmitResult {
	t.Helper()
	w, err := req.Work()
	if err != nil {
		t.Fatalf("work request: %v", err)
	}
	res, err := e.db.SubmitWork(context.Background(), e.tenant, w, false)
	if err != nil {
		t.Fatalf("SubmitWork: %v", err)
	}
	if e.runner != nil {
		e.runner.Wake()
	}
	return res
}

// start runs a Runner until the test ends.
func (e *engine) start(t testing.TB, edit func(*Runner)) {
	t.Helper()
	e.metrics = NewRunnerMetrics(prometheus.NewRegistry())
	e.runner = &Runner{DB: e.db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: e.metrics,
		Factory: Factory{Egress: egress.Policy{AllowPrivate: true}, CacheDir: e.cacheDir}}
	if edit != nil {
		edit(e.runner)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// drain waits until every placement and canary file is written.
func (e *engine) drain(t testing.TB, within time.Duration) {
	t.Helper()
	testpeers.WaitFor(t, within, func() (bool, string) {
		n, err := e.db.Outstanding(context.Background(), e.tenant)
		if err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d placements or canaries not written; recent: %s", n, e.recent(t))
	})
}

func (e *engine) recent(t testing.TB) string {
	ps, _ := e.db.RecentPlacements(context.Background(), e.tenant, 3)
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "[%s %s %q] ", p.Name, p.State, p.Error)
	}
	return b.String()
}

// work builds a resource request for promise redis with the given files
// (path, content pairs) and selectors.
func work(name string, selectors map[string]string, files ...string) tenants.WorkRequest {
	req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: name},
		DestinationSelectors: selectors}
	for i := 0; i+1 < len(files); i += 2 {
		req.Files = append(req.Files, tenants.WorkFile{Path: files[i], Content: files[i+1]})
	}
	return req
}

// placement returns the one placement of a Work.
func (e *engine) placement(t testing.TB, workID int64) tenants.PlacementView {
	t.Helper()
	v, err := e.db.Work(context.Background(), e.tenant, workID)
	if err != nil || len(v.Placements) != 1 {
		t.Fatalf("Work %d: %+v, %v; want one placement", workID, v.Placements, err)
	}
	return v.Placements[0]
}
