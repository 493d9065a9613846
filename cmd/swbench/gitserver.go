package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// gitServer serves the fixture's bare repositories (dir/repos/*.git) over smart
// HTTP with git http-backend, as testpeers.GitHTTP does, and counts the requests
// each repository gets: that count is how often the server read or pushed to a
// store.
type gitServer struct {
	root string
	srv  *http.Server
	ln   net.Listener

	mu     sync.Mutex
	counts map[string]*repoCounts
}

// repoCounts are the requests of one repository by what they do. A fetch is an
// upload-pack advertisement (every read of a store starts with one, a clone or
// fetch is then a POST of git-upload-pack); a push is a receive-pack
// advertisement (an ls-remote before a push, or the push itself) and a POST of
// git-receive-pack when something is sent.
type repoCounts struct {
	UploadAdverts  int `json:"upload_adverts"`
	UploadPacks    int `json:"upload_packs"`
	ReceiveAdverts int `json:"receive_adverts"`
	ReceivePacks   int `json:"receive_packs"`
}

// startGitServer listens on addr and serves root's repositories until close.
func startGitServer(root, addr string) (*gitServer, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, errors.New("git not found: apt-get install -y git")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("git server: %w (another swbench running on this fixture?)", err)
	}
	g := &gitServer{root: root, ln: ln, counts: map[string]*repoCounts{}}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Dir:  root,
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=swbench",
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + root},
		Stderr: io.Discard,
	}
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.count(r)
		backend.ServeHTTP(w, r)
	})}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// count adds r to its repository's counts.
func (g *gitServer) count(r *http.Request) {
	repo, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.counts[repo]
	if c == nil {
		c = &repoCounts{}
		g.counts[repo] = c
	}
	switch {
	case rest == "info/refs" && r.URL.Query().Get("service") == "git-upload-pack":
		c.UploadAdverts++
	case rest == "info/refs" && r.URL.Query().Get("service") == "git-receive-pack":
		c.ReceiveAdverts++
	case rest == "git-upload-pack":
		c.UploadPacks++
	case rest == "git-receive-pack":
		c.ReceivePacks++
	}
}

// snapshot copies the counts.
func (g *gitServer) snapshot() map[string]repoCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]repoCounts, len(g.counts))
	for k, v := range g.counts {
		out[k] = *v
	}
	return out
}

// url is the address of the repository named name (e.g. "t000-a.git").
func (g *gitServer) url(name string) string {
	return "http://" + g.ln.Addr().String() + "/" + name
}

func (g *gitServer) close() { _ = g.srv.Close() }

// createRepo makes an empty bare repository that accepts pushes over HTTP,
// unless it exists.
func createRepo(root, name string) error {
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return nil
	}
	if out, err := exec.Command("git", "init", "--bare", "--quiet", "--initial-branch=main", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init %s: %v: %s", dir, err, out)
	}
	for _, kv := range [][2]string{{"http.receivepack", "true"}, {"gc.auto", "0"}} {
		if out, err := exec.Command("git", "-C", dir, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("git config %s: %v: %s", dir, err, out)
		}
	}
	return nil
}

// commitCounts is the number of commits on main of every repository under root
// (0 for one without commits).
func commitCounts(root string) (map[string]int, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "*.git"))
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	out := map[string]int{}
	for _, d := range dirs {
		b, err := exec.Command("git", "-C", d, "rev-list", "--count", "refs/heads/main").Output()
		n := 0
		if err == nil {
			_, _ = fmt.Sscan(strings.TrimSpace(string(b)), &n)
		}
		out[filepath.Base(d)] = n
	}
	return out, nil
}
