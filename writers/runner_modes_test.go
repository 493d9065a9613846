package writers

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// storeUnderTest is one real store registered as "store" with path "st".
type storeUnderTest struct {
	kind    string
	files   func(t testing.TB) map[string]string
	commits func(t testing.TB) int // Git only
}

func gitUnderTest(t testing.TB, e *engine) (storeUnderTest, *testpeers.GitServer) {
	srv := gitPeer(t, true)
	e.gitStore(t, srv, "store", "st")
	return storeUnderTest{
		kind:    tenants.KindGit,
		files:   func(t testing.TB) map[string]string { return srv.Files(t, srv.Branch()) },
		commits: func(t testing.TB) int { return srv.CommitCount(t, srv.Branch()) },
	}, srv
}

func bucketUnderTest(t testing.TB, e *engine) storeUnderTest {
	s3 := testpeers.MinIO(t)
	bucket := e.bucketStore(t, s3, "store", "st")
	return storeUnderTest{
		kind:  tenants.KindBucket,
		files: func(t testing.TB) map[string]string { return bucketFiles(t, s3, bucket) },
	}
}

// bucketFiles reads every object of bucket; unlike S3Server.Objects it tolerates an
// object deleted between the listing and the read (a write in progress).
func bucketFiles(t testing.TB, s3 *testpeers.S3Server, bucket string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for obj := range s3.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list %s: %v", bucket, obj.Err)
		}
		r, err := s3.Client().GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", obj.Key, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", obj.Key, err)
		}
		out[obj.Key] = string(b)
	}
	return out
}

var backends = []struct {
	name string
	make func(t testing.TB, e *engine) storeUnderTest
}{
	{"git", func(t testing.TB, e *engine) storeUnderTest { s, _ := gitUnderTest(t, e); return s }},
	{"bucket", bucketUnderTest},
}

// wantStore compares the store's files with want.
func wantStore(t testing.TB, s storeUnderTest, step string, want map[string]string) {
	t.Helper()
	if got := s.files(t); !maps.Equal(got, want) {
		t.Errorf("%s: store holds\n%v\nwant\n%v", step, got, want)
	}
}

// modeCase is what each step of TestRunnerModes leaves in the store for one mode.
type modeCase struct {
	mode                 string
	first, second, third map[string]string
}

var (
	nestedA = "st/d/resources/default/redis/a/5058f/"
	nestedB = "st/d/resources/default/redis/b/5058f/"
	legacyA = "st/d/dst/resources/default/redis/a/"
	legacyB = "st/d/dst/resources/default/redis/b/"
	// Kratix's names: <ns>-<promise>-<resource>-<ns>-<md5 suffix>.<dest>-<id>
	stateA = "st/d/.kratix/default-redis-a-default-fa0c9.dst-5058f.yaml"
	stateB = "st/d/.kratix/default-redis-b-default-6bd49.dst-5058f.yaml"
)

var modeCases = []modeCase{
	{tenants.ModeNested,
		map[string]string{nestedA + "a1.yaml": "A1", nestedA + "a2.yaml": "A2", nestedB + "b.yaml": "B"},
		map[string]string{nestedA + "a1.yaml": "A1v2", nestedB + "b.yaml": "B"},
		map[string]string{nestedA + "a1.yaml": "A1v2"}},
	{tenants.ModeLegacy,
		map[string]string{legacyA + "a1.yaml": "A1", legacyA + "a2.yaml": "A2", legacyB + "b.yaml": "B"},
		map[string]string{legacyA + "a1.yaml": "A1v2", legacyB + "b.yaml": "B"},
		map[string]string{legacyA + "a1.yaml": "A1v2"}},
	{tenants.ModeNone,
		map[string]string{"st/d/a1.yaml": "A1", "st/d/a2.yaml": "A2", "st/d/b.yaml": "B",
			stateA: "files:\n- d/a1.yaml\n- d/a2.yaml\n", stateB: "files:\n- d/b.yaml\n"},
		map[string]string{"st/d/a1.yaml": "A1v2", "st/d/b.yaml": "B", stateA: "files:\n- d/a1.yaml\n", stateB: "files:\n- d/b.yaml\n"},
		map[string]string{"st/d/a1.yaml": "A1v2", stateA: "files:\n- d/a1.yaml\n"}},
	{tenants.ModeAggregated,
		map[string]string{"st/d/aggregated.yaml": "A1\n---\nA2\n---\nB"},
		map[string]string{"st/d/aggregated.yaml": "A1v2\n---\nB"},
		map[string]string{"st/d/aggregated.yaml": "A1v2"}},
}

// TestRunnerModes writes two Works in every filepath mode to a real Git remote and
// a real MinIO bucket, then rewrites one without a file (the stale file goes) and
// deletes the other (its files go; aggregatedYAML is rebuilt without it).
func TestRunnerModes(t *testing.T) {
	for _, be := range backends {
		for _, mc := range modeCases {
			t.Run(be.name+"/"+mc.mode, func(t *testing.T) {
				e := newEngine(t)
				s := be.make(t, e)
				e.destination(t, tenants.Destination{Name: "dst", Labels: map[string]string{"env": "x"}, Path: "d",
					StoreKind: s.kind, StoreName: "store", Mode: mc.mode})
				e.start(t, nil)
				sel := map[string]string{"env": "x"}
				a := e.submit(t, work("a", sel, "a1.yaml", "A1", "a2.yaml", "A2"))
				b := e.submit(t, work("b", sel, "b.yaml", "B"))
				e.drain(t, 30*time.Second)
				wantStore(t, s, "two Works", mc.first)
				e.submit(t, work("a", sel, "a1.yaml", "A1v2"))
				e.drain(t, 30*time.Second)
				wantStore(t, s, "a rewritten without a2.yaml", mc.second)
				if _, err := e.db.DeleteWork(context.Background(), e.tenant, b.Work); err != nil {
					t.Fatal(err)
				}
				e.runner.Wake()
				e.drain(t, 30*time.Second)
				wantStore(t, s, "b deleted", mc.third)
				if p := e.placement(t, a.Work); p.State != tenants.StateWritten || p.Version == "" {
					t.Errorf("placement of a = %+v, want written with a version", p)
				}
			})
		}
	}
}

// TestRunnerModeNoneRefusesCollision: a second Work claiming a file another
// Work holds on the same Destination is refused when submitted (a conflict
// naming both Works and the file), never found or resolved at write time.
func TestRunnerModeNoneRefusesCollision(t *testing.T) {
	e := newEngine(t)
	s, _ := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store", Mode: tenants.ModeNone})
	e.start(t, nil)
	a := e.submit(t, work("a", nil, "same.yaml", "from a"))
	e.drain(t, 30*time.Second)
	w, err := work("b", nil, "same.yaml", "from b", "own.yaml", "b").Work()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.db.SubmitWork(context.Background(), e.tenant, w, false)
	if !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("submit of b = %v, want a conflict", err)
	}
	for _, part := range []string{`"st/d/same.yaml"`, "redis-a-default-fa0c9", "redis-b-default-6bd49", "redis-a-default-fa0c9.dst-5058f"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %s", err, part)
		}
	}
	if p := e.placement(t, a.Work); p.State != tenants.StateWritten {
		t.Errorf("placement of a = %s, want written", p.State)
	}
	wantStore(t, s, "after the refused collision", map[string]string{"st/d/same.yaml": "from a", stateA: "files:\n- d/same.yaml\n"})
}

// TestRunnerCanaryFilesAndCleanup: canary files follow initWorkloads, and deleting
// a Destination with cleanup "all" removes its placements' files and its canaries.
func TestRunnerCanaryFilesAndCleanup(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEngine(t)
			s := be.make(t, e)
			dest := tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store",
				InitWorkloads: true, Cleanup: tenants.CleanupAll}
			e.destination(t, dest)
			e.start(t, nil)
			e.submit(t, work("a", nil, "a.yaml", "A"))
			e.drain(t, 30*time.Second)
			got := s.files(t)
			for _, k := range []string{"st/d/dependencies/kratix-canary-namespace.yaml", "st/d/resources/kratix-canary-configmap.yaml", nestedA + "a.yaml"} {
				if _, ok := got[k]; !ok {
					t.Errorf("store lacks %s; holds %v", k, got)
				}
			}
			dest.InitWorkloads = false
			e.destination(t, dest)
			e.runner.Wake()
			e.drain(t, 30*time.Second)
			wantStore(t, s, "initWorkloads off", map[string]string{nestedA + "a.yaml": "A"})
			if err := e.db.DeleteDestination(context.Background(), e.tenant, "dst"); err != nil {
				t.Fatal(err)
			}
			e.runner.Wake()
			testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
				got := s.files(t)
				return len(got) == 0, "store still holds files"
			})
		})
	}
}
