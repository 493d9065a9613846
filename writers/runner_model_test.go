package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// The model-based test of the write engine: thousands of random submits,
// re-submits and deletes of Works with overlapping paths on all four layouts of
// a Git remote (fsck on) and a MinIO bucket, while the writers run in a child
// process that is killed with SIGKILL at random and both remotes go down at
// random. Afterwards each store must hold exactly what the surviving Works say
// (plus canary and state files), every placement must be written, and every
// submit the engine refused must have clashed in the model.
//
//	STATEWARD_MODEL_OPS   operations (default 2000; `make model` runs 3000)
//	STATEWARD_MODEL_SEED  random seed (default: the time; logged)
//	STATEWARD_MODEL_NO_KILLS=1  no SIGKILLs (outages only), to narrow a failure down
//	STATEWARD_MODEL_DEBUG=1     on a mismatch, also log the Git history

// modelModes are the layouts; each has a Destination per store.
var modelModes = []string{tenants.ModeNested, tenants.ModeAggregated, tenants.ModeNone, tenants.ModeLegacy}

// modelPaths are the files Works choose from: some are another's directory.
var modelPaths = []string{"app", "app/config.yaml", "a.yaml", "b.yaml", "dir/c.yaml", "dir", "deep/x/y.yaml", "deep/x"}

// modelWork is a Work identity as the model sees it.
type modelWork struct {
	name, dest, pipeline string
	files                map[string]string // accepted content; nil when deleted or never accepted
}

func (m *modelWork) request(files map[string]string) tenants.WorkRequest {
	req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: m.name},
		Pipeline: m.pipeline, DestinationSelectors: map[string]string{"d": m.dest}}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		req.Files = append(req.Files, tenants.WorkFile{Path: p, Content: files[p]})
	}
	return req
}

// modelDest is one Destination of the model.
type modelDest struct {
	d     pathing.Destination
	store string // "git" or "s3"
}

// model is what the accepted operations say each store must hold.
type model struct {
	dests map[string]modelDest
	works []*modelWork
}

// plan is the layout of w's files on its Destination (pathing is the reference).
func (m *model) plan(t testing.TB, w *modelWork, files map[string]string) pathing.Plan {
	t.Helper()
	plan, err := m.layout(w, files)
	if err != nil {
		t.Fatalf("layout of %s: %v", w.name, err)
	}
	return plan
}

// layout is plan, or the layout's own refusal (a file inside another).
func (m *model) layout(w *modelWork, files map[string]string) (pathing.Plan, error) {
	g := pathing.Group{Promise: "redis", Namespace: "default", Resource: w.name, Pipeline: w.pipeline, Directory: "."}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		g.Files = append(g.Files, pathing.File{Path: p, Content: []byte(files[p])})
	}
	d := m.dests[w.dest]
	name := pathing.PlacementName(pathing.WorkName("redis", "default", w.name, w.pipeline), d.d.Name, pathing.GroupID("."))
	return pathing.Layout("st", d.d, name, g)
}

// claims are the keys (and owned directories) a plan wants.
func modelClaims(p pathing.Plan) (keys, dirs []string) {
	for _, f := range p.Files {
		keys = append(keys, f.Path)
	}
	if p.StateFile != nil {
		keys = append(keys, p.StateFile.Path)
	}
	if p.OwnedPrefix != "" {
		dirs = append(dirs, strings.TrimSuffix(p.OwnedPrefix, "/"))
	}
	return keys, dirs
}

// clashes reports whether w with files cannot coexist with the live Works of
// its store (or with itself, or a canary file).
func (m *model) clashes(t testing.TB, w *modelWork, files map[string]string) bool {
	keys, dirs := modelClaims(m.plan(t, w, files))
	for i, a := range keys {
		for _, b := range keys[i+1:] {
			if a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") {
				return true
			}
		}
	}
	mine := append(slices.Clone(keys), dirs...)
	var theirs []string
	store := m.dests[w.dest].store
	for _, o := range m.works {
		if o == w || o.files == nil || m.dests[o.dest].store != store || m.dests[o.dest].d.Mode == pathing.ModeAggregated {
			continue
		}
		k, d := modelClaims(m.plan(t, o, o.files))
		theirs = append(append(theirs, k...), d...)
	}
	for _, d := range m.dests {
		if d.store == store {
			cs, _ := pathing.Canary("st", d.d)
			for _, c := range cs {
				theirs = append(theirs, c.Path)
			}
		}
	}
	if m.dests[w.dest].d.Mode == pathing.ModeAggregated {
		return false
	}
	for _, a := range mine {
		for _, b := range theirs {
			if a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") {
				return true
			}
		}
	}
	return false
}

// want is what store must hold.
func (m *model) want(t testing.TB, store string) map[string]string {
	out := map[string]string{}
	parts := map[string][]pathing.AggregatePart{}
	for _, d := range m.dests {
		if d.store != store {
			continue
		}
		cs, _ := pathing.Canary("st", d.d)
		for _, c := range cs {
			out[c.Path] = string(c.Content)
		}
	}
	for _, w := range m.works {
		if w.files == nil || m.dests[w.dest].store != store {
			continue
		}
		p := m.plan(t, w, w.files)
		if p.Aggregate != nil {
			parts[p.Target] = append(parts[p.Target], *p.Aggregate)
			continue
		}
		for _, f := range p.Files {
			out[f.Path] = string(f.Content)
		}
		if p.StateFile != nil {
			out[p.StateFile.Path] = string(p.StateFile.Content)
		}
	}
	for key, ps := range parts {
		if content := pathing.Aggregated(ps); len(content) > 0 {
			out[key] = string(content)
		}
	}
	return out
}

// flakyProxy forwards TCP connections to a backend and can be taken down: while
// down, connections are refused at once and open ones are cut.
type flakyProxy struct {
	ln      net.Listener
	backend string
	down    atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

func newFlakyProxy(t testing.TB, backend string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, backend: backend, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.SetDown(true) })
	return p
}

func (p *flakyProxy) Addr() string { return p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *flakyProxy) pipe(c net.Conn) {
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[b] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// SetDown takes the proxy down (cutting open connections) or brings it back.
func (p *flakyProxy) SetDown(down bool) {
	p.down.Store(down)
	if !down {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// writerChild is the Runner in a child process, which the test kills.
type writerChild struct {
	e   *engine
	cmd *exec.Cmd
}

func (c *writerChild) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=model", "HELPER_DB="+c.e.dbPath, "HELPER_CACHE="+c.e.cacheDir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd = cmd
}

func (c *writerChild) kill() {
	if c.cmd != nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		c.cmd = nil
	}
}

// runModelWriter is the child: a Runner with a short lease until it is killed.
func runModelWriter(t *testing.T) {
	d := openEngineDB(t, os.Getenv("HELPER_DB"))
	r := &Runner{DB: d, Lease: 2 * time.Second, PollInterval: 50 * time.Millisecond,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Factory: Factory{Egress: egress.Policy{AllowPrivate: true}, CacheDir: os.Getenv("HELPER_CACHE")}}
	r.Run(context.Background())
}

func modelOps(t *testing.T) (int, uint64) {
	ops := 2000
	if v, err := strconv.Atoi(os.Getenv("STATEWARD_MODEL_OPS")); err == nil && v > 0 {
		ops = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("STATEWARD_MODEL_SEED"), 10, 64); err == nil {
		seed = v
	}
	return ops, seed
}

func TestWriteEngineModel(t *testing.T) {
	ops, seed := modelOps(t)
	t.Logf("%d operations, seed %d (STATEWARD_MODEL_SEED=%d reproduces the operations)", ops, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	e := newEngine(t)
	srv := testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Empty: true, Fsck: true})
	e.gitStore(t, srv, "git", "st")
	s3 := testpeers.MinIO(t)
	proxy := newFlakyProxy(t, s3.Endpoint())
	bucket := s3.NewBucket(t)
	bs := tenants.BucketStateStore{TenantID: e.tenant, Name: "s3", Endpoint: proxy.Addr(), BucketName: bucket, Path: "st",
		Insecure: true, AuthMethod: tenants.AuthAccessKey,
		Credentials: tenants.BucketCredentials{AccessKeyID: s3.AccessKey(), SecretAccessKey: s3.SecretKey()}}
	bs.Normalize()
	if _, err := e.db.SaveBucketStore(context.Background(), bs, false); err != nil {
		t.Fatal(err)
	}
	m := &model{dests: map[string]modelDest{}}
	for _, store := range []string{"git", "s3"} {
		kind := map[string]string{"git": tenants.KindGit, "s3": tenants.KindBucket}[store]
		for _, mode := range modelModes {
			name := store + "-" + strings.ToLower(mode)
			e.destination(t, tenants.Destination{Name: name, Labels: map[string]string{"d": name}, Path: strings.ToLower(mode),
				StoreKind: kind, StoreName: store, Mode: mode, InitWorkloads: true})
			m.dests[name] = modelDest{d: pathing.Destination{Name: name, Path: strings.ToLower(mode), Mode: pathing.Mode(mode)}, store: store}
			for i := range 5 {
				pipeline := ""
				if rng.IntN(3) == 0 {
					pipeline = "p" + strconv.Itoa(rng.IntN(2))
				}
				m.works = append(m.works, &modelWork{name: fmt.Sprintf("%s-w%d", name, i), dest: name, pipeline: pipeline})
			}
		}
	}
	child := &writerChild{e: e}
	child.start(t)
	t.Cleanup(child.kill)

	var accepted, refused, deletes, kills, outages int
	gitDown, s3Down := false, false
	for i := range ops {
		w := m.works[rng.IntN(len(m.works))]
		switch x := rng.IntN(1000); {
		case x < 700:
			files := map[string]string{}
			for range 1 + rng.IntN(3) {
				files[modelPaths[rng.IntN(len(modelPaths))]] = fmt.Sprintf("op: %d\nwork: %s\n", i, w.name)
			}
			err := e.submitErr(w.request(files))
			if _, lerr := m.layout(w, files); lerr != nil {
				var ve *tenants.ValidationError
				var ves tenants.ValidationErrors
				if !errors.As(err, &ve) && !errors.As(err, &ves) {
					t.Fatalf("op %d: submit %s %v = %v, want the layout's refusal %v", i, w.name, slices.Sorted(maps.Keys(files)), err, lerr)
				}
				refused++
				continue
			}
			clash := m.clashes(t, w, files)
			switch {
			case err == nil && clash:
				t.Fatalf("op %d: %s accepted %v, which clashes with a live Work", i, w.name, slices.Sorted(maps.Keys(files)))
			case err == nil:
				w.files = files
				accepted++
			case errors.Is(err, tenants.ErrConflict) && clash:
				refused++
			default:
				t.Fatalf("op %d: submit %s %v = %v (model clash: %v)", i, w.name, slices.Sorted(maps.Keys(files)), err, clash)
			}
		case x < 850:
			if w.files == nil {
				continue
			}
			if err := e.submitErr(tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: w.name},
				Pipeline: w.pipeline, Delete: true}); err != nil {
				t.Fatalf("op %d: delete %s: %v", i, w.name, err)
			}
			w.files = nil
			deletes++
		case x < 920:
			gitDown = !gitDown && rng.IntN(2) == 0
			srv.SetDown(gitDown)
			if gitDown {
				outages++
			}
		case x < 990:
			s3Down = !s3Down && rng.IntN(2) == 0
			proxy.SetDown(s3Down)
			if s3Down {
				outages++
			}
		default:
			if os.Getenv("STATEWARD_MODEL_NO_KILLS") != "" {
				continue
			}
			child.kill()
			kills++
			child.start(t)
		}
		time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond)
	}
	srv.SetDown(false)
	proxy.SetDown(false)
	t.Logf("%d operations: %d submits accepted, %d refused as conflicts, %d deletes, %d outages, %d kill -9",
		ops, accepted, refused, deletes, outages, kills)
	child.kill()
	e.start(t, func(r *Runner) { r.PollInterval = 50 * time.Millisecond })
	e.drainAll(t, 3*time.Minute)

	for store, got := range map[string]map[string]string{"git": srv.Files(t, srv.Branch()), "s3": bucketFilesDeep(t, s3, bucket)} {
		want := m.want(t, store)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] {
				t.Errorf("%s: %s = %q, want %q", store, k, got[k], want[k])
				m.explain(t, e, srv, store, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: holds %s, which no surviving Work says", store, k)
				m.explain(t, e, srv, store, k)
			}
		}
	}
	works, err := e.db.Works(context.Background(), e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range works {
		v, err := e.db.Work(context.Background(), e.tenant, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Placements {
			if p.State != tenants.StateWritten {
				t.Errorf("placement %s is %s (%s), want written", p.Name, p.State, p.Error)
			}
		}
	}
}

// bucketFilesDeep reads every object of bucket, also those MinIO leaves out of a
// listing because an object is named like their directory ("a" hides "a/b").
func bucketFilesDeep(t testing.TB, s3 *testpeers.S3Server, bucket string) map[string]string {
	t.Helper()
	out := bucketFiles(t, s3, bucket)
	for _, k := range slices.Sorted(maps.Keys(out)) {
		for obj := range s3.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: k + "/", Recursive: true}) {
			if obj.Err != nil {
				t.Fatalf("list %s/: %v", k, obj.Err)
			}
			r, err := s3.Client().GetObject(context.Background(), bucket, obj.Key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[obj.Key] = string(b)
		}
	}
	return out
}

// explain logs what the model and the database say of the Work that key belongs
// to, and the Git history of key.
func (m *model) explain(t testing.TB, e *engine, srv *testpeers.GitServer, store, key string) {
	for _, w := range m.works {
		if !strings.Contains(key, "/"+w.name+"/") && !strings.Contains(key, w.name) {
			continue
		}
		t.Logf("  model: %s (pipeline %q) files %v", w.name, w.pipeline, slices.Sorted(maps.Keys(w.files)))
	}
	works, _ := e.db.Works(context.Background(), e.tenant)
	for _, ws := range works {
		v, _ := e.db.Work(context.Background(), e.tenant, ws.ID)
		for _, p := range v.Placements {
			if strings.Contains(key, "/"+strings.TrimPrefix(strings.Split(p.Name, "-default-")[0], "redis-")+"/") || slices.Contains(p.Paths, key) {
				t.Logf("  db: work %d deleted=%v placement %s state=%s deleting=%v paths=%v version=%s updated=%v", ws.ID, ws.Deleted, p.Name, p.State, p.Deleting, p.Paths, p.Version, p.UpdatedAt)
			}
		}
	}
	if store == "git" {
		out, _ := exec.Command("git", "-C", srv.Dir(), "log", "--format=%h %ci %s", "--stat=200", "-n", "8", "main", "--", key).CombinedOutput()
		t.Logf("  git log -- %s:\n%s", key, out)
		if os.Getenv("STATEWARD_MODEL_DEBUG") != "" {
			out, _ = exec.Command("git", "-C", srv.Dir(), "log", "--format=%h %p %ci %s", "-n", "40", "main").CombinedOutput()
			t.Logf("  git log:\n%s", out)
		}
	}
}

// drainAll waits until nothing is outstanding, re-waking the runner, for jobs
// waiting out a backoff.
func (e *engine) drainAll(t testing.TB, within time.Duration) {
	t.Helper()
	testpeers.WaitFor(t, within, func() (bool, string) {
		e.runner.Wake()
		n, err := e.db.Outstanding(context.Background(), e.tenant)
		if err != nil {
			return false, err.Error()
		}
		jobs, _ := e.db.Jobs(context.Background(), e.tenant, 3)
		return n == 0, fmt.Sprintf("%d placements or canaries not written; recent: %s; jobs: %+v", n, e.recent(t), jobs)
	})
}
