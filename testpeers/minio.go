package testpeers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOVersion is the version of github.com/minio/minio that scripts/test.sh
// installs.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

const minioInstall = "MinIO not found; run scripts/test.sh, or: " +
	"GOBIN=$HOME/.cache/stateward-peers/bin go install github.com/minio/minio@" + MinIOVersion

// minioReadyTimeout bounds the start of the MinIO process.
const minioReadyTimeout = 90 * time.Second

// S3Server is a running MinIO server that every test of the test binary
// shares. Give each test its own bucket with NewBucket.
type S3Server struct {
	endpoint  string
	accessKey string
	secretKey string
	client    *minio.Client

	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	dataDir string
	output  *syncBuffer
}

var (
	sharedMinIOMu   sync.Mutex
	sharedMinIO     *S3Server
	sharedMinIOErr  error
	sharedMinIODone bool // a start was attempted
)

// MinIO returns the MinIO server of the test binary, starting it on first use
// on free 127.0.0.1 ports with random root credentials and a temporary data
// directory. The test package's TestMain must call RunMain, which stops the
// server after the tests.
//
// The binary is $STATEWARD_PEERS_DIR/bin/minio (STATEWARD_PEERS_DIR defaults to
// $HOME/.cache/stateward-peers) or else minio on PATH.
func MinIO(t testing.TB) *S3Server {
	t.Helper()
	if !runMainActive.Load() {
		t.Fatalf("testpeers.MinIO needs the test package to stop the shared MinIO: add\n\tfunc TestMain(m *testing.M) { testpeers.RunMain(m) }")
	}
	sharedMinIOMu.Lock()
	defer sharedMinIOMu.Unlock()
	if !sharedMinIODone {
		sharedMinIODone = true
		sharedMinIO, sharedMinIOErr = startMinIO()
	}
	if sharedMinIOErr != nil {
		t.Fatalf("%v", sharedMinIOErr)
	}
	return sharedMinIO
}

// stopSharedMinIO stops the shared MinIO server, if it runs.
func stopSharedMinIO() {
	sharedMinIOMu.Lock()
	defer sharedMinIOMu.Unlock()
	if sharedMinIO != nil {
		sharedMinIO.stop()
		sharedMinIO = nil
	}
	sharedMinIOErr = errors.New("testpeers: MinIO was already stopped by RunMain")
}

// minioPath finds the MinIO binary.
func minioPath() (string, error) {
	if peers := peersDir(); peers != "" {
		p := filepath.Join(peers, "bin", "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New(minioInstall)
}

func startMinIO() (*S3Server, error) {
	bin, err := minioPath()
	if err != nil {
		return nil, err
	}
	// A port can be taken between freePort and the start of MinIO; try again
	// then.
	var lastErr error
	for range 3 {
		s, err := startMinIOOnce(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startMinIOOnce(bin string) (*S3Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("testpeers: MinIO port: %w", err)
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("testpeers: MinIO console port: %w", err)
	}
	dataDir, err := os.MkdirTemp("", "stateward-minio-")
	if err != nil {
		return nil, fmt.Errorf("testpeers: MinIO data dir: %w", err)
	}
	s := &S3Server{
		endpoint:  "127.0.0.1:" + strconv.Itoa(port),
		accessKey: "sw" + randomName(18),
		secretKey: randomName(26),
		exited:    make(chan struct{}),
		dataDir:   dataDir,
		output:    &syncBuffer{},
	}
	s.cmd = exec.Command(bin, "server",
		"--address", s.endpoint,
		"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort),
		filepath.Join(dataDir, "data"))
	s.cmd.Env = append(os.Environ(),
		"MINIO_BROWSER=off",
		"MINIO_ROOT_USER="+s.accessKey,
		"MINIO_ROOT_PASSWORD="+s.secretKey,
		"MINIO_UPDATE=off",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	// Kill MinIO when the test binary dies without running RunMain's cleanup
	// (a panic or the test timeout).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("testpeers: start MinIO %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()

	ready := "http://" + s.endpoint + "/minio/health/ready"
	hc := &http.Client{Timeout: 2 * time.Second}
	exited := false
	ok := Poll(minioReadyTimeout, 100*time.Millisecond, func() bool {
		select {
		case <-s.exited:
			exited = true
			return true
		default:
		}
		resp, err := hc.Get(ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if exited || !ok {
		s.stop()
		what := "exited"
		if !exited {
			what = "was not ready after " + minioReadyTimeout.String()
		}
		return nil, fmt.Errorf("testpeers: MinIO %s on %s; output:\n%s", what, s.endpoint, s.output.String())
	}

	s.client, err = minio.New(s.endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.accessKey, s.secretKey, ""),
		Secure: false,
	})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("testpeers: MinIO client: %w", err)
	}
	return s, nil
}

// stop terminates MinIO, waits for it and removes its data.
func (s *S3Server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	os.RemoveAll(s.dataDir)
}

// Endpoint returns host:port of the S3 API, without a scheme. It is plain
// HTTP.
func (s *S3Server) Endpoint() string { return s.endpoint }

// AccessKey returns the root access key.
func (s *S3Server) AccessKey() string { return s.accessKey }

// SecretKey returns the root secret key.
func (s *S3Server) SecretKey() string { return s.secretKey }

// StoreYAML is a Kratix BucketStateStore named minio on bucket (path
// "clusters") and its Secret s3 holding the root credentials, as a team applies
// them; it ends with a document separator.
func (s *S3Server) StoreYAML(bucket string) string {
	return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: minio}
spec: {endpoint: "%s", bucketName: %s, insecure: true, path: clusters, secretRef: {name: s3}}
---
apiVersion: v1
kind: Secret
metadata: {name: s3}
stringData: {accessKeyID: %s, secretAccessKey: "%s"}
---
`, s.Endpoint(), bucket, s.accessKey, s.secretKey)
}

// Client returns a minio-go client with the root credentials.
func (s *S3Server) Client() *minio.Client { return s.client }

// NewBucket creates a bucket with a unique name and returns the name. The
// bucket and its objects are removed at cleanup.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "sw-test-" + randomName(20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for obj := range s.client.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Errorf("cleanup bucket %s: %v", name, obj.Err)
				return
			}
			if err := s.client.RemoveObject(ctx, name, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				t.Errorf("cleanup bucket %s: %v", name, err)
				return
			}
		}
		if err := s.client.RemoveBucket(ctx, name); err != nil {
			t.Errorf("cleanup bucket %s: %v", name, err)
		}
	})
	return name
}

// Objects returns every object of bucket whose key starts with prefix, by key
// to content.
func (s *S3Server) Objects(t testing.TB, bucket, prefix string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	objects := map[string]string{}
	for obj := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, obj.Err)
		}
		r, err := s.client.GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("get %s/%s: %v", bucket, obj.Key, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s/%s: %v", bucket, obj.Key, err)
		}
		objects[obj.Key] = string(b)
	}
	return objects
}

// syncBuffer is a bytes.Buffer that a process can write while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
