package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// minioServer is the fixture's MinIO (-kind bucket) in dir/minio, kept between
// runs, and a counting proxy in front of it: the stores' endpoint is the proxy,
// so every PUT, DELETE and listing of each bucket is counted.
type minioServer struct {
	cmd    *exec.Cmd
	done   chan struct{}
	client *minio.Client
	proxy  *http.Server

	mu     sync.Mutex
	counts map[string]*bucketCounts
}

// bucketCounts are the requests one bucket got, by what they do.
type bucketCounts struct {
	Lists, Gets, Puts, Deletes, Other int
}

// cpu is the CPU time MinIO used so far; 0 without one (-kind git) or if it
// cannot be read.
func (m *minioServer) cpu() time.Duration {
	if m == nil || m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	d, err := processCPU(m.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return d
}

// meanwhile says, for output, how much CPU MinIO used since it had used
// before; "" without MinIO.
func (m *minioServer) meanwhile(before time.Duration) string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf("; MinIO %.1f CPU-seconds meanwhile", (m.cpu() - before).Seconds())
}

// startMinIO starts MinIO on f.MinIOAddr with f's credentials and the counting
// proxy on f.StoreAddr, its data scanner at the speed given (-minio-scanner).
func startMinIO(ctx context.Context, dir string, f *fixture, scanner string) (*minioServer, error) {
	bin, err := minioPath()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	m := &minioServer{done: make(chan struct{}), counts: map[string]*bucketCounts{}}
	m.cmd = exec.Command(bin, "server", "--address", f.MinIOAddr, "--console-address", console, filepath.Join(dir, "data"))
	m.cmd.Env = append(os.Environ(), "MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_SCANNER_SPEED="+scanner,
		"MINIO_ROOT_USER="+f.MinIOUser, "MINIO_ROOT_PASSWORD="+f.MinIOPassword)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "minio.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { _ = m.cmd.Wait(); logFile.Close(); close(m.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + f.MinIOAddr + "/minio/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("MinIO exited at start: see %s", logFile.Name())
		default:
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, errors.New("MinIO not ready after 60 s")
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
	if m.client, err = minio.New(f.MinIOAddr, &minio.Options{Creds: credentials.NewStaticV4(f.MinIOUser, f.MinIOPassword, "")}); err != nil {
		m.stop()
		return nil, err
	}
	if err := m.startProxy(f.StoreAddr, f.MinIOAddr); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

// startProxy forwards everything on addr to MinIO and counts it per bucket.
func (m *minioServer) startProxy(addr, target string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bucket proxy: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	m.proxy = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.count(r)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = m.proxy.Serve(ln) }()
	return nil
}

func (m *minioServer) count(r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counts[bucket]
	if c == nil {
		c = &bucketCounts{}
		m.counts[bucket] = c
	}
	switch {
	case r.Method == http.MethodGet && key == "" && (r.URL.Query().Has("list-type") || r.URL.Query().Has("prefix")):
		c.Lists++
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		c.Gets++
	case r.Method == http.MethodPut && key != "":
		c.Puts++
	case r.Method == http.MethodDelete:
		c.Deletes++
	default:
		c.Other++
	}
}

func (m *minioServer) snapshot() map[string]bucketCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]bucketCounts, len(m.counts))
	for k, v := range m.counts {
		out[k] = *v
	}
	return out
}

// ensureBucket creates bucket unless it exists.
func (m *minioServer) ensureBucket(ctx context.Context, bucket string) error {
	ok, err := m.client.BucketExists(ctx, bucket)
	if err != nil || ok {
		return err
	}
	return m.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
}

func (m *minioServer) stop() {
	if m.proxy != nil {
		_ = m.proxy.Close()
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// newMinIOCredentials fills the fixture's MinIO addresses and credentials once.
func (f *fixture) newMinIOCredentials() error {
	var err error
	if f.MinIOAddr, err = freeAddr(); err != nil {
		return err
	}
	if f.StoreAddr, err = freeAddr(); err != nil {
		return err
	}
	f.MinIOUser, f.MinIOPassword = "swbench", strings.ToLower(rand.Text())
	return nil
}

// minioPath finds MinIO where scripts/peers.sh puts it (as testpeers does:
// $STATEWARD_PEERS_DIR or ~/.cache/stateward-peers, then bin/minio), else on PATH.
func minioPath() (string, error) {
	dir := os.Getenv("STATEWARD_PEERS_DIR")
	if home, err := os.UserHomeDir(); dir == "" && err == nil {
		dir = filepath.Join(home, ".cache", "stateward-peers")
	}
	if p := filepath.Join(dir, "bin", "minio"); dir != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New("minio not found: bash scripts/peers.sh")
}
