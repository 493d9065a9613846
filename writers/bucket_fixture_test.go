package writers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stateward/stateward/testpeers"
)

// bucketFixture is a Bucket writer on a fresh MinIO bucket, with every request
// recorded.
type bucketFixture struct {
	s3     *testpeers.S3Server
	name   string
	bucket *Bucket
	rec    *requestRecorder
}

func newBucketFixture(t testing.TB) *bucketFixture {
	t.Helper()
	s3 := testpeers.MinIO(t)
	f := &bucketFixture{s3: s3, name: s3.NewBucket(t), rec: newRequestRecorder()}
	f.bucket = f.writer(t, func(c *BucketConfig) {})
	return f
}

// writer returns a Bucket on the fixture's bucket, with cfg changed by edit.
func (f *bucketFixture) writer(t testing.TB, edit func(*BucketConfig)) *Bucket {
	t.Helper()
	cfg := BucketConfig{
		Endpoint:        f.s3.Endpoint(),
		BucketName:      f.name,
		Path:            "store",
		Insecure:        true,
		AccessKeyID:     f.s3.AccessKey(),
		SecretAccessKey: f.s3.SecretKey(),
		Transport:       f.rec,
	}
	edit(&cfg)
	b, err := NewBucket(cfg)
	if err != nil {
		t.Fatalf("NewBucket: %v", err)
	}
	return b
}

// apply runs Apply and fails the test on error.
func (f *bucketFixture) apply(t testing.TB, batch Batch) Result {
	t.Helper()
	res, err := f.bucket.Apply(context.Background(), batch)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// seed writes objects directly, bypassing the writer.
func (f *bucketFixture) seed(t testing.TB, objects map[string]string) {
	t.Helper()
	for key, content := range objects {
		_, err := f.s3.Client().PutObject(context.Background(), f.name, key,
			strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatalf("seed %s: %v", key, err)
		}
	}
}

// versioned turns on versioning so that every PUT leaves a trace, and removes
// every version at cleanup (before testpeers removes the bucket).
func (f *bucketFixture) versioned(t *testing.T) {
	t.Helper()
	c := f.s3.Client()
	if err := c.EnableVersioning(context.Background(), f.name); err != nil {
		t.Fatalf("enable versioning: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for v := range c.ListObjects(ctx, f.name, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
			if v.Err == nil {
				_ = c.RemoveObject(ctx, f.name, v.Key, minio.RemoveObjectOptions{VersionID: v.VersionID})
			}
		}
	})
}

// versions counts the stored versions of each key under prefix.
func (f *bucketFixture) versions(t *testing.T, prefix string) map[string]int {
	t.Helper()
	out := map[string]int{}
	opts := minio.ListObjectsOptions{Prefix: prefix, WithVersions: true, Recursive: true}
	for v := range f.s3.Client().ListObjects(context.Background(), f.name, opts) {
		if v.Err != nil {
			t.Fatalf("list versions: %v", v.Err)
		}
		out[v.Key]++
	}
	return out
}

// lastModified returns key → LastModified under prefix.
func (f *bucketFixture) lastModified(t *testing.T, prefix string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
	for o := range f.s3.Client().ListObjects(context.Background(), f.name, opts) {
		if o.Err != nil {
			t.Fatalf("list: %v", o.Err)
		}
		out[o.Key] = o.LastModified
	}
	return out
}

// requestRecorder is an http.RoundTripper that records "METHOD /path?query" of every
// request and can fail the PUT of one key.
type requestRecorder struct {
	base    http.RoundTripper
	mu      sync.Mutex
	reqs    []string
	failPut string // path suffix whose PUT fails
}

func newRequestRecorder() *requestRecorder {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &requestRecorder{base: tr}
}

func (r *requestRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	q := req.Method + " " + req.URL.Path
	if req.URL.RawQuery != "" {
		q += "?" + req.URL.RawQuery
	}
	r.reqs = append(r.reqs, q)
	fail := r.failPut != "" && req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, r.failPut)
	r.mu.Unlock()
	if fail {
		return nil, errors.New("injected PUT failure")
	}
	return r.base.RoundTrip(req)
}

// take returns the recorded requests with the given method and forgets them all.
func (r *requestRecorder) take(method string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if strings.HasPrefix(q, method+" ") {
			out = append(out, q)
		}
	}
	r.reqs = nil
	return out
}

// all returns every recorded request and forgets them.
func (r *requestRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func files(kv ...string) []File {
	var out []File
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, File{Key: kv[i], Content: []byte(kv[i+1])})
	}
	return out
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
