package writers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stateward/stateward/egress"
)

func TestBucketCheckGoodLeavesNoTrace(t *testing.T) {
	f := newBucketFixture(t)
	if err := f.bucket.Check(context.Background()); err != nil {
		t.Fatalf("Check = %v, want nil", err)
	}
	if got := f.s3.Objects(t, f.name, ""); len(got) != 0 {
		t.Errorf("Check left objects %v", got)
	}
	ctx := context.Background()
	for u := range f.s3.Client().ListIncompleteUploads(ctx, f.name, "", true) {
		if u.Err != nil {
			t.Fatalf("list uploads: %v", u.Err)
		}
		t.Errorf("Check left an incomplete upload of %s", u.Key)
	}
	var probes []string
	for _, q := range f.rec.all() {
		if path, _, _ := strings.Cut(q, "?"); strings.HasSuffix(path, "/store/.kratix-write-permission-check") {
			probes = append(probes, path)
		}
	}
	want := []string{
		"POST /" + f.name + "/store/.kratix-write-permission-check",
		"DELETE /" + f.name + "/store/.kratix-write-permission-check",
	}
	if !slices.Equal(probes, want) {
		t.Errorf("Check requests = %q, want %q", probes, want)
	}
}

func TestBucketCheckFailures(t *testing.T) {
	f := newBucketFixture(t)
	closed := closedPort(t)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	tlsAddr := tlsSrv.Listener.Addr().String()
	tests := []struct {
		name string
		edit func(*BucketConfig)
		want []string // all must appear in the error
	}{
		{"wrong secret", func(c *BucketConfig) { c.SecretAccessKey = "wrong-secret-key" },
			[]string{"access denied: ", "signature"}},
		{"unknown access key", func(c *BucketConfig) { c.AccessKeyID = "no-such-key" },
			[]string{"access denied: The Access Key Id you provided does not exist in our records."}},
		{"missing bucket", func(c *BucketConfig) { c.BucketName = "no-such-bucket-sw" },
			[]string{`bucket "no-such-bucket-sw" does not exist: The specified bucket does not exist`}},
		{"connection refused", func(c *BucketConfig) { c.Endpoint = closed },
			[]string{"connection refused by " + closed}},
		{"DNS failure", func(c *BucketConfig) { c.Endpoint = "no-such-host.invalid:9000" },
			[]string{`DNS lookup of "no-such-host.invalid" failed`}},
		{"TLS to plain HTTP", func(c *BucketConfig) { c.Insecure = false },
			[]string{"TLS failure talking to " + f.s3.Endpoint(), "HTTP response to HTTPS client"}},
		{"untrusted certificate", func(c *BucketConfig) { c.Endpoint, c.Insecure = tlsAddr, false },
			[]string{"TLS failure talking to " + tlsAddr, "certificate signed by unknown authority"}},
		{"egress refuses loopback", func(c *BucketConfig) { c.Transport = egress.Policy{}.Transport(nil) },
			[]string{"address 127.0.0.1 is not allowed (loopback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			err := f.writer(t, tt.edit).Check(ctx)
			if err == nil {
				t.Fatalf("Check = nil, want an error containing %q", tt.want)
			}
			t.Logf("Check: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %q, want it to contain %q", err, w)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Check took %v, want a prompt answer", d)
			}
		})
	}
}

func TestBucketEgressTransport(t *testing.T) {
	f := newBucketFixture(t)
	lax := f.writer(t, func(c *BucketConfig) { c.Transport = egress.Policy{AllowPrivate: true}.Transport(nil) })
	if err := lax.Check(context.Background()); err != nil {
		t.Errorf("Check with AllowPrivate = %v, want nil", err)
	}
	if _, err := lax.Apply(context.Background(), Batch{Puts: files("store/e/a.yaml", "a")}); err != nil {
		t.Errorf("Apply with AllowPrivate = %v, want nil", err)
	}
	strict := f.writer(t, func(c *BucketConfig) { c.Transport = egress.Policy{}.Transport(nil) })
	_, err := strict.Apply(context.Background(), Batch{Puts: files("store/e/b.yaml", "b")})
	if !errors.Is(err, egress.ErrNotAllowed) || !strings.Contains(err.Error(), "address 127.0.0.1 is not allowed") {
		t.Errorf("strict Apply = %v, want a refusal of 127.0.0.1", err)
	}
	if got := f.s3.Objects(t, f.name, "store/e/b.yaml"); len(got) != 0 {
		t.Errorf("strict Apply wrote %v", got)
	}
}

func TestBucketCheckKeepsS3ErrorCause(t *testing.T) {
	f := newBucketFixture(t)
	err := f.writer(t, func(c *BucketConfig) { c.BucketName = "no-such-bucket-sw" }).Check(context.Background())
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) || resp.Code != "NoSuchBucket" {
		t.Errorf("Check = %v, want the minio.ErrorResponse NoSuchBucket kept as cause", err)
	}
}

// closedPort returns 127.0.0.1:<port> where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
