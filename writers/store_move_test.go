package writers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestStoreMoveUnderStreamOfWorks: a Git store moved to another repository and a
// bucket store moved to another bucket while Works stream in: from the moment
// the move commits, no placement shows written unless its files are in the new
// location; at the end the new locations hold every Work and canary file, and
// the old ones still hold what was written there before (nothing removed).
func TestStoreMoveUnderStreamOfWorks(t *testing.T) {
	ctx := context.Background()
	oldRepo, newRepo := gitPeer(t, true), gitPeer(t, true)
	s3 := testpeers.MinIO(t)
	e := newEngine(t)
	e.gitStore(t, oldRepo, "g", "kratix")
	oldBucket := e.bucketStore(t, s3, "b", "kratix")
	newBucket := s3.NewBucket(t)
	e.destination(t, tenants.Destination{Name: "gdev", Labels: map[string]string{"store": "git"}, Path: "dev",
		StoreKind: tenants.KindGit, StoreName: "g", InitWorkloads: true})
	e.destination(t, tenants.Destination{Name: "bdev", Labels: map[string]string{"store": "bucket"}, Path: "dev",
		StoreKind: tenants.KindBucket, StoreName: "b", InitWorkloads: true})
	e.start(t, nil)

	st := &stream{e: e}
	for i := range 20 {
		if err := st.submit(i, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	testpeers.WaitFor(t, time.Minute, func() (bool, string) {
		n := st.written(t, func(tenants.PlacementView) bool { return true })
		return n >= 6, fmt.Sprintf("%d placements written before the move", n)
	})
	before := map[string]string{} // old locations' files before the move
	for k, v := range oldRepo.Files(t, oldRepo.Branch()) {
		before["git:"+k] = v
	}
	for k, v := range s3.Objects(t, oldBucket, "") {
		before["bucket:"+k] = v
	}

	var done atomic.Bool
	errs := make(chan error, 1)
	go func() {
		defer done.Store(true)
		for i := 20; i < 80; i++ {
			version := "v1"
			n := i
			if i%3 == 0 {
				n, version = i/3, fmt.Sprintf("v%d", i) // a new version of an earlier Work
			}
			if err := st.submit(n, version); err != nil {
				errs <- err
				return
			}
		}
	}()
	testpeers.WaitFor(t, time.Minute, func() (bool, string) { return st.count() >= 35, "the stream did not start" })
	moveGit := tenants.GitStateStore{TenantID: e.tenant, Name: "g", URL: newRepo.URL(), Branch: newRepo.Branch(), Path: "kratix",
		Insecure: true, AuthorName: "Stateward Test", AuthorEmail: "sw@example.com",
		Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
	moveGit.Normalize()
	applied, err := e.db.Apply(ctx, e.tenant, []tenants.Document{{Index: 1, Kind: tenants.KindGit, Name: "g", Git: &moveGit}}, tenants.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if msg := applied.Results[0].Message; !strings.Contains(msg, "will be written to the new location") {
		t.Errorf("apply's message %q; want what the move writes where", msg)
	}
	bucket, err := e.db.BucketStore(ctx, e.tenant, "b")
	if err != nil {
		t.Fatal(err)
	}
	bucket.BucketName, bucket.Credentials, bucket.Status = newBucket, tenants.BucketCredentials{}, tenants.Status{}
	if _, err := e.db.SaveBucketStore(ctx, bucket, true); err != nil { // the dashboard's Edit form keeps blank secrets
		t.Fatal(err)
	}
	e.runner.Wake()

	// From here on, written means written in the new location.
	checks := 0
	testpeers.WaitFor(t, 3*time.Minute, func() (bool, string) {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		views := st.views(t)
		gitFiles := newRepo.Files(t, newRepo.Branch())
		objects := s3.Objects(t, newBucket, "")
		checks++
		pending := 0
		for _, p := range views {
			if p.State != tenants.StateWritten {
				pending++
				continue
			}
			have := gitFiles
			if p.StoreKind == tenants.KindBucket {
				have = objects
			}
			for _, k := range p.Paths {
				if _, ok := have[k]; !ok {
					t.Fatalf("placement %s shows written after the move, but %s is not in the new location", p.Name, k)
				}
			}
		}
		out, err := e.db.Outstanding(ctx, e.tenant)
		if err != nil {
			t.Fatal(err)
		}
		return done.Load() && pending == 0 && out == 0, fmt.Sprintf("%d placements, %d outstanding", pending, out)
	})
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("%d Works, %d checks of the new locations while they were written", st.count(), checks)

	// The new locations hold every Work's latest version and the canary files.
	gitFiles, objects := newRepo.Files(t, newRepo.Branch()), s3.Objects(t, newBucket, "")
	for _, p := range st.views(t) {
		have := gitFiles
		if p.StoreKind == tenants.KindBucket {
			have = objects
		}
		want := st.content(p.WorkID)
		for _, k := range p.Paths {
			if have[k] != want {
				t.Errorf("%s in the new location: %q; want %q", k, have[k], want)
			}
		}
	}
	for _, k := range []string{"kratix/dev/dependencies/kratix-canary-namespace.yaml", "kratix/dev/resources/kratix-canary-configmap.yaml"} {
		if _, ok := gitFiles[k]; !ok {
			t.Errorf("new repository lacks canary file %s", k)
		}
		if _, ok := objects[k]; !ok {
			t.Errorf("new bucket lacks canary file %s", k)
		}
	}
	// Nothing is removed from the old locations.
	after := map[string]bool{}
	for k := range oldRepo.Files(t, oldRepo.Branch()) {
		after["git:"+k] = true
	}
	for k := range s3.Objects(t, oldBucket, "") {
		after["bucket:"+k] = true
	}
	for k := range before {
		if !after[k] {
			t.Errorf("%s was removed from the old location", k)
		}
	}
}

// stream submits Works "w<n>", even ones to the Git store and odd ones to the
// bucket store, and remembers each one's latest content.
type stream struct {
	e     *engine
	mu    sync.Mutex
	ids   []int64
	byID  map[int64]string
	total int
}

func (s *stream) submit(n int, version string) error {
	store := "git"
	if n%2 == 1 {
		store = "bucket"
	}
	content := fmt.Sprintf("kind: ConfigMap\nmetadata: {name: w%d}\ndata: {version: %s}\n", n, version)
	w, err := work(fmt.Sprintf("w%d", n), map[string]string{"store": store}, "cm.yaml", content).Work()
	if err != nil {
		return err
	}
	res, err := s.e.db.SubmitWork(context.Background(), s.e.tenant, w, false)
	if err != nil {
		return fmt.Errorf("submit w%d: %w", n, err)
	}
	s.e.runner.Wake()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[int64]string{}
	}
	if _, ok := s.byID[res.Work]; !ok {
		s.ids = append(s.ids, res.Work)
	}
	s.byID[res.Work] = content
	s.total++
	return nil
}

func (s *stream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *stream) content(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

// views reads the placements of every Work submitted so far.
func (s *stream) views(t *testing.T) []tenants.PlacementView {
	t.Helper()
	s.mu.Lock()
	ids := append([]int64(nil), s.ids...)
	s.mu.Unlock()
	var out []tenants.PlacementView
	for _, id := range ids {
		v, err := s.e.db.Work(context.Background(), s.e.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Placements...)
	}
	return out
}

// written counts the written placements that match.
func (s *stream) written(t *testing.T, match func(tenants.PlacementView) bool) int {
	n := 0
	for _, p := range s.views(t) {
		if p.State == tenants.StateWritten && match(p) {
			n++
		}
	}
	return n
}

// TestGitCacheStartsAfreshForAnotherRemote: a store's clone is not reused for
// another repository: the writer fetches the new remote into an empty cache, and
// nothing of the old one (its tip, its objects) is left to stand for the new
// one.
func TestGitCacheStartsAfreshForAnotherRemote(t *testing.T) {
	oldRepo, newRepo := gitPeer(t, true), gitPeer(t, false)
	dir := t.TempDir()
	g1 := newTestGit(t, oldRepo, func(c *GitConfig) { c.CacheDir = dir })
	res := apply(t, g1, puts("first", "a.yaml", "1"))
	if err := g1.Close(); err != nil {
		t.Fatal(err)
	}
	g2 := newTestGit(t, newRepo, func(c *GitConfig) { c.CacheDir = dir })
	apply(t, g2, puts("second", "b.yaml", "2"))
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
	if files := newRepo.Files(t, newRepo.Branch()); files["b.yaml"] != "2" || files["a.yaml"] != "" {
		t.Errorf("new repository holds %v; want b.yaml and nothing of the old one", files)
	}
	c, err := openGitCache(dir, plumbing.NewBranchReferenceName(newRepo.Branch()), cacheOrigin(newRepo.URL(), newRepo.Branch()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.st.Close()
	if hasObject(c.st, plumbing.NewHash(res.Version)) {
		t.Errorf("the clone of %s still holds the old repository's commit %s", newRepo.URL(), res.Version)
	}
}

// TestRunnerBackendFollowsTheStore: the Runner builds a new backend for a store
// whose URL changed even when the update carries the same timestamp as the
// last one (a cached backend keyed by time alone kept writing the old remote).
func TestRunnerBackendFollowsTheStore(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := db.NewSealer(engineKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, db.Options{Path: t.TempDir() + "/s.db", Sealer: s, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	g := tenants.GitStateStore{TenantID: ten.ID, Name: "g", URL: "https://git.example.com/old.git", Path: "kratix", AuthMethod: tenants.AuthNone}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	r := &Runner{DB: d, Factory: Factory{CacheDir: t.TempDir()}}
	r.init()
	ref := tenants.StoreRef{TenantID: ten.ID, Kind: tenants.KindGit, Name: "g"}
	if _, err := r.backend(ctx, ref); err != nil {
		t.Fatal(err)
	}
	g.URL = "https://git.example.com/new.git"
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	b, err := r.backend(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.(*Git).cfg.URL; got != g.URL {
		t.Errorf("backend after the move writes %s; want %s", got, g.URL)
	}
}
