package writers

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stateward/stateward/testpeers"
)

// TestMain stops the shared MinIO after the tests (see testpeers.RunMain).
func TestMain(m *testing.M) { testpeers.RunMain(m) }

func TestBucketApplyWritesThenReapplyPutsNothing(t *testing.T) {
	f := newBucketFixture(t)
	f.versioned(t)
	batch := Batch{
		Puts: files(
			"store/dev/resources/a.yaml", "kind: A\n",
			"store/dev/resources/b.yaml", "kind: B\n",
			"store/dev/dependencies/c.yaml", "kind: C\n",
		),
		DeletePrefixes: []string{"store/dev/"},
	}
	first := f.apply(t, batch)
	if !first.Changed || first.Puts != 3 || first.Deletes != 0 || first.Version == "" {
		t.Errorf("first Apply = %+v, want Changed, 3 puts, 0 deletes, a version", first)
	}
	want := map[string]string{
		"store/dev/resources/a.yaml":    "kind: A\n",
		"store/dev/resources/b.yaml":    "kind: B\n",
		"store/dev/dependencies/c.yaml": "kind: C\n",
	}
	if got := f.s3.Objects(t, f.name, ""); !mapsEqual(got, want) {
		t.Errorf("bucket holds %v, want %v", got, want)
	}
	if lists := listRequests(f.rec.take("GET")); len(lists) != 1 || !strings.Contains(lists[0], "prefix=store%2Fdev%2F") {
		t.Errorf("first Apply made GET requests %v, want one listing of store/dev/", lists)
	}
	before := f.lastModified(t, "store/")

	second := f.apply(t, batch)
	if !reflect.DeepEqual(second, Result{Version: first.Version}) {
		t.Errorf("re-Apply = %+v, want %+v", second, Result{Version: first.Version})
	}
	if puts := f.rec.take("PUT"); len(puts) != 0 {
		t.Errorf("re-Apply sent PUTs %v, want none", puts)
	}
	for key, n := range f.versions(t, "store/") {
		if n != 1 {
			t.Errorf("%s has %d versions after re-Apply, want 1", key, n)
		}
	}
	if after := f.lastModified(t, "store/"); !mapsEqual(after, before) {
		t.Errorf("LastModified changed on re-Apply: before %v, after %v", before, after)
	}
}

func TestBucketApplyPutsOnlyChangedObjects(t *testing.T) {
	f := newBucketFixture(t)
	first := f.apply(t, Batch{Puts: files("store/d/a.yaml", "1", "store/d/b.yaml", "2")})
	f.rec.all()
	res := f.apply(t, Batch{Puts: files("store/d/a.yaml", "1", "store/d/b.yaml", "two")})
	if !res.Changed || res.Puts != 1 || res.Version == first.Version {
		t.Errorf("Apply = %+v, want Changed, 1 put and a new version (old %s)", res, first.Version)
	}
	if puts := f.rec.take("PUT"); len(puts) != 1 || !strings.HasPrefix(puts[0], "PUT /"+f.name+"/store/d/b.yaml") {
		t.Errorf("PUT requests = %v, want only b.yaml", puts)
	}
}

func TestBucketApplyReplacesMultipartObject(t *testing.T) {
	f := newBucketFixture(t)
	content := strings.Repeat("x", 6<<20)
	_, err := f.s3.Client().PutObject(context.Background(), f.name, "store/big.bin",
		strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{PartSize: 5 << 20})
	if err != nil {
		t.Fatalf("multipart seed: %v", err)
	}
	batch := Batch{Puts: []File{{Key: "store/big.bin", Content: []byte(content)}}}
	if res := f.apply(t, batch); res.Puts != 1 {
		t.Errorf("Apply over a multipart ETag = %+v, want 1 put", res)
	}
	if res := f.apply(t, batch); res.Puts != 0 || res.Changed {
		t.Errorf("re-Apply = %+v, want no change", res)
	}
}

func TestBucketApplyDeletesStaleUnderPrefix(t *testing.T) {
	f := newBucketFixture(t)
	f.seed(t, map[string]string{
		"store/dev/keep.yaml":        "old",
		"store/dev/stale.yaml":       "stale",
		"store/dev/deep/stale.yaml":  "stale",
		"store/devx/other.yaml":      "not under the prefix",
		"store/prod/untouched.yaml":  "other destination",
		"store/dev-sibling/own.yaml": "sibling",
	})
	res := f.apply(t, Batch{
		Puts:           files("store/dev/keep.yaml", "new", "store/dev/added.yaml", "added"),
		DeletePrefixes: []string{"store/dev/"},
	})
	if res.Puts != 2 || res.Deletes != 2 || !res.Changed {
		t.Errorf("Apply = %+v, want 2 puts and 2 deletes", res)
	}
	want := map[string]string{
		"store/dev/keep.yaml":        "new",
		"store/dev/added.yaml":       "added",
		"store/devx/other.yaml":      "not under the prefix",
		"store/prod/untouched.yaml":  "other destination",
		"store/dev-sibling/own.yaml": "sibling",
	}
	if got := f.s3.Objects(t, f.name, ""); !mapsEqual(got, want) {
		t.Errorf("bucket holds %v, want %v", got, want)
	}
}

func TestBucketApplyExactDeletes(t *testing.T) {
	f := newBucketFixture(t)
	f.seed(t, map[string]string{"store/a/x.yaml": "x", "store/a/y.yaml": "y", "top.yaml": "t"})
	res := f.apply(t, Batch{Deletes: []string{"store/a/x.yaml", "store/a/missing.yaml", "top.yaml"}})
	if res.Deletes != 2 || res.Puts != 0 || !res.Changed {
		t.Errorf("Apply = %+v, want 2 deletes", res)
	}
	if got, want := f.s3.Objects(t, f.name, ""), map[string]string{"store/a/y.yaml": "y"}; !mapsEqual(got, want) {
		t.Errorf("bucket holds %v, want %v", got, want)
	}
	if res := f.apply(t, Batch{Deletes: []string{"store/a/x.yaml"}}); res.Changed || res.Deletes != 0 {
		t.Errorf("deleting again = %+v, want no change", res)
	}
}

func TestBucketApplyPutsBeforeDeleting(t *testing.T) {
	f := newBucketFixture(t)
	f.seed(t, map[string]string{"store/d/old-1.yaml": "o", "store/d/old-2.yaml": "o"})
	f.rec.all()
	f.apply(t, Batch{
		Puts:           files("store/d/new-1.yaml", "n", "store/d/new-2.yaml", "n", "store/d/new-3.yaml", "n"),
		DeletePrefixes: []string{"store/d/"},
	})
	var methods []string
	for _, q := range f.rec.all() {
		if m, _, _ := strings.Cut(q, " "); m == "PUT" || m == "DELETE" {
			methods = append(methods, m)
		}
	}
	want := []string{"PUT", "PUT", "PUT", "DELETE", "DELETE"}
	if !slices.Equal(methods, want) {
		t.Errorf("request order = %v, want %v", methods, want)
	}
}

func TestBucketApplyFailedPutDeletesNothing(t *testing.T) {
	f := newBucketFixture(t)
	f.seed(t, map[string]string{"store/d/old.yaml": "o"})
	f.rec.failPut = "/store/d/new-2.yaml"
	_, err := f.bucket.Apply(context.Background(), Batch{
		Puts:           files("store/d/new-1.yaml", "n", "store/d/new-2.yaml", "n"),
		DeletePrefixes: []string{"store/d/"},
	})
	if err == nil || !strings.Contains(err.Error(), `put "store/d/new-2.yaml"`) {
		t.Fatalf("Apply = %v, want the failed put of new-2.yaml", err)
	}
	if deletes := f.rec.take("DELETE"); len(deletes) != 0 {
		t.Errorf("DELETE requests after a failed PUT: %v", deletes)
	}
	if got := f.s3.Objects(t, f.name, "store/d/old.yaml"); got["store/d/old.yaml"] != "o" {
		t.Errorf("stale object removed although a PUT failed: %v", got)
	}
}

func TestBucketApplyRefusesUnsafeKeys(t *testing.T) {
	f := newBucketFixture(t)
	tests := []struct {
		name  string
		batch Batch
		key   string
	}{
		{"absolute", Batch{Puts: files("/etc/passwd", "x")}, "/etc/passwd"},
		{"dot-dot", Batch{Puts: files("store/../other/x.yaml", "x")}, "store/../other/x.yaml"},
		{"dot", Batch{Puts: files("store/./x.yaml", "x")}, "store/./x.yaml"},
		{"backslash", Batch{Puts: files(`store\x.yaml`, "x")}, `store\\x.yaml`},
		{"NUL", Batch{Puts: files("store/x\x00.yaml", "x")}, `store/x\x00.yaml`},
		{"empty segment", Batch{Puts: files("store//x.yaml", "x")}, "store//x.yaml"},
		{"trailing slash", Batch{Puts: files("store/x/", "x")}, "store/x/"},
		{"empty", Batch{Puts: files("", "x")}, `""`},
		{"delete dot-dot", Batch{Deletes: []string{"../x"}}, "../x"},
		{"prefix dot-dot", Batch{DeletePrefixes: []string{"store/../"}}, "store/../"},
		{"prefix without slash", Batch{DeletePrefixes: []string{"store"}}, `"store"`},
		{"prefix root", Batch{DeletePrefixes: []string{"/"}}, `"/"`},
		{"safe put, unsafe delete", Batch{Puts: files("store/ok.yaml", "x"), Deletes: []string{"a//b"}}, "a//b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.bucket.Apply(context.Background(), tt.batch)
			if !errors.Is(err, ErrUnsafeKey) {
				t.Fatalf("Apply = %v, want ErrUnsafeKey", err)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name the key %s", err, tt.key)
			}
		})
	}
	if got := f.s3.Objects(t, f.name, ""); len(got) != 0 {
		t.Errorf("unsafe batches wrote %v", got)
	}
}

func TestBucketRead(t *testing.T) {
	f := newBucketFixture(t)
	f.apply(t, Batch{Puts: files("store/r/a.yaml", "a", "store/r/b/c.yaml", "c", "store/other.yaml", "o")})
	got, err := f.bucket.Read(context.Background(), "store/r/")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := map[string]string{"store/r/a.yaml": "a", "store/r/b/c.yaml": "c"}
	if len(got) != len(want) {
		t.Errorf("Read = %d objects, want %v", len(got), want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("Read[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestNewBucketRejectsBadConfig(t *testing.T) {
	ok := BucketConfig{Endpoint: "s3.example:9000", BucketName: "b", AccessKeyID: "k", SecretAccessKey: "s"}
	tests := []struct {
		name string
		edit func(*BucketConfig)
		want string
	}{
		{"scheme", func(c *BucketConfig) { c.Endpoint = "https://s3.example" }, "without scheme"},
		{"no endpoint", func(c *BucketConfig) { c.Endpoint = "" }, "endpoint is required"},
		{"no bucket", func(c *BucketConfig) { c.BucketName = "" }, "name is required"},
		{"no secret", func(c *BucketConfig) { c.SecretAccessKey = "" }, "needs accessKeyID and secretAccessKey"},
		{"auth method", func(c *BucketConfig) { c.AuthMethod = "token" }, `authMethod "token" is not supported`},
		{"path", func(c *BucketConfig) { c.Path = "a/../b" }, "unsafe key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			_, err := NewBucket(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewBucket = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	iam := ok
	iam.AuthMethod, iam.AccessKeyID, iam.SecretAccessKey = BucketAuthIAM, "", ""
	if _, err := NewBucket(iam); err != nil {
		t.Errorf("NewBucket(IAM) = %v, want nil", err)
	}
}

func TestBucketListPrefixes(t *testing.T) {
	plan, err := newBucketPlan(context.Background(), Batch{
		Puts:           files("s/d/r/a.yaml", "", "s/d/r/b.yaml", "", "s/e/x.yaml", "", "top.yaml", "", "s/dd/y", ""),
		Deletes:        []string{"s/d/r/deep/z.yaml", "s/f/gone.yaml"},
		DeletePrefixes: []string{"s/d/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"s/d/", "s/dd/", "s/e/", "s/f/", "top.yaml"}
	if got := plan.listPrefixes(5); !slices.Equal(got, want) {
		t.Errorf("listPrefixes(5) = %v, want %v", got, want)
	}
	if got := plan.listPrefixes(4); !slices.Equal(got, []string{""}) {
		t.Errorf("listPrefixes(4) = %q, want the bucket root", got)
	}
	delete(plan.content, "top.yaml")
	if got := plan.listPrefixes(3); !slices.Equal(got, []string{"s/"}) {
		t.Errorf("listPrefixes(3) without top.yaml = %q, want [s/]", got)
	}
}

func FuzzCheckBucketKey(f *testing.F) {
	for _, s := range []string{"a/b.yaml", "../x", "/x", "a//b", `a\b`, "a/./b", "a\x00", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkBucketKey(key) != nil {
			return
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("checkBucketKey accepted %q with segment %q", key, seg)
			}
		}
		if strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("checkBucketKey accepted %q", key)
		}
	})
}

// listRequests keeps the object listings (ListObjectsV2) among GET requests.
func listRequests(gets []string) []string {
	var out []string
	for _, q := range gets {
		if strings.Contains(q, "list-type=2") {
			out = append(out, q)
		}
	}
	return out
}
