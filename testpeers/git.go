package testpeers

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Content of the initial commit that GitHTTP and GitFile make unless
// GitOptions.Empty is set.
const (
	InitialFile    = "README.md"
	InitialContent = "stateward test repository\n"
)

// Identity of the commits that the test repositories get from this package.
const (
	SetupAuthorName    = "Stateward Testpeers"
	SetupAuthorEmail   = "testpeers@example.com"
	OutsideAuthorName  = "Outside Author"
	OutsideAuthorEmail = "outside@example.com"
)

const gitInstall = "git not found: apt-get install -y git"

// repoName is the name of the bare repository under the project root, and the
// last element of the URL path.
const repoName = "repo.git"

// GitOptions configures a test Git repository.
type GitOptions struct {
	// Username and Password turn on HTTP basic auth for GitHTTP when either
	// is set. GitFile ignores them.
	Username, Password string
	// Branch is the default branch of the repository. It defaults to "main".
	Branch string
	// Empty makes a repository with no commits. Otherwise the repository has
	// one commit on Branch that adds InitialFile with InitialContent.
	Empty bool
	// Fsck makes the repository check every pushed object (receive.fsckObjects),
	// as GitHub, GitLab and Gitea do.
	Fsck bool
	// Authorize, when set, decides GitHTTP's basic auth instead of Username and
	// Password, e.g. GitHubAppAPI.Accepts for a remote that takes only the
	// installation tokens a GitHub App API issued.
	Authorize func(user, password string) bool
}

// GitServer is a bare Git repository in a temporary directory, served over
// smart HTTP by GitHTTP or reachable as a file:// URL from GitFile.
type GitServer struct {
	root   string // GIT_PROJECT_ROOT, the parent of dir
	dir    string // the bare repository
	branch string
	url    string

	srv       *httptest.Server // nil for GitFile
	down      atomic.Bool
	closeOnce sync.Once
	// requests counts what http-backend served, by service (GitRequests).
	adverts, fetches, pushes atomic.Int64

	mu       sync.Mutex // guards fileDown
	fileDown bool
}

// Commit describes one commit of a test repository.
type Commit struct {
	Hash        string
	AuthorName  string
	AuthorEmail string
	// Message is the full commit message without the trailing newline.
	Message string
}

// GitHTTP creates a bare repository in a temporary directory and serves it over
// smart HTTP (fetch and push) with git http-backend behind net/http/cgi, on an
// httptest server bound to 127.0.0.1. When opts sets Username or Password, every
// request needs HTTP basic auth with them and gets 401 with WWW-Authenticate
// otherwise. The server closes at cleanup.
func GitHTTP(t testing.TB, opts GitOptions) *GitServer {
	t.Helper()
	s := newGitRepo(t, opts)
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("%s", gitInstall)
	}
	remoteUser := opts.Username
	if remoteUser == "" {
		remoteUser = "anonymous"
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Dir:  s.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + remoteUser,
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"HOME=" + s.root,
		},
		// The git client sees the errors of http-backend and of the hooks in
		// the response; its own stderr would only clutter the test output.
		Stderr: io.Discard,
	}
	authorize := opts.Authorize
	if authorize == nil && (opts.Username != "" || opts.Password != "") {
		authorize = func(u, p string) bool {
			return subtle.ConstantTimeCompare([]byte(u), []byte(opts.Username)) == 1 &&
				subtle.ConstantTimeCompare([]byte(p), []byte(opts.Password)) == 1
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			http.Error(w, "git server is down for this test", http.StatusServiceUnavailable)
			return
		}
		if authorize != nil {
			u, p, ok := r.BasicAuth()
			if !ok || !authorize(u, p) {
				w.Header().Set("WWW-Authenticate", `Basic realm="stateward-testpeers"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.adverts.Add(1)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.fetches.Add(1)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			s.pushes.Add(1)
		}
		backend.ServeHTTP(w, r)
	})
	s.srv = httptest.NewServer(handler) // binds 127.0.0.1
	s.url = s.srv.URL + "/" + repoName
	t.Cleanup(s.Close)
	return s
}

// GitFile creates the same repository as GitHTTP but serves nothing: URL
// returns the file:// URL of the bare repository. Username and Password are
// ignored.
func GitFile(t testing.TB, opts GitOptions) *GitServer {
	t.Helper()
	s := newGitRepo(t, opts)
	s.url = "file://" + s.dir
	return s
}

func newGitRepo(t testing.TB, opts GitOptions) *GitServer {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("%s", gitInstall)
	}
	branch := opts.Branch
	if branch == "" {
		branch = "main"
	}
	root := t.TempDir()
	s := &GitServer{root: root, dir: filepath.Join(root, repoName), branch: branch}
	if _, err := runGit("", nil, "init", "--bare", "--quiet", "--initial-branch="+branch, s.dir); err != nil {
		t.Fatalf("git init --bare: %v", err)
	}
	for _, kv := range [][2]string{
		{"http.receivepack", "true"},
		{"receive.denyNonFastForwards", "false"},
		{"gc.auto", "0"},
		{"receive.fsckObjects", fmt.Sprint(opts.Fsck)},
	} {
		if _, err := runGit(s.dir, nil, "config", kv[0], kv[1]); err != nil {
			t.Fatalf("git config %s: %v", kv[0], err)
		}
	}
	if !opts.Empty {
		author := []string{
			"GIT_AUTHOR_NAME=" + SetupAuthorName, "GIT_AUTHOR_EMAIL=" + SetupAuthorEmail,
			"GIT_COMMITTER_NAME=" + SetupAuthorName, "GIT_COMMITTER_EMAIL=" + SetupAuthorEmail,
		}
		wt := t.TempDir()
		if _, err := runGit("", nil, "init", "--quiet", "--initial-branch="+branch, wt); err != nil {
			t.Fatalf("initial commit: %v", err)
		}
		if err := os.WriteFile(filepath.Join(wt, InitialFile), []byte(InitialContent), 0o644); err != nil {
			t.Fatalf("initial commit: %v", err)
		}
		for _, args := range [][]string{
			{"add", "--all"},
			{"commit", "--quiet", "-m", "Initial commit"},
			{"push", "--quiet", s.dir, "HEAD:refs/heads/" + branch},
		} {
			if _, err := runGit(wt, author, args...); err != nil {
				t.Fatalf("initial commit: %v", err)
			}
		}
	}
	return s
}

// GitRequests counts the requests a GitHTTP server passed to http-backend:
// Adverts are the ref advertisements (GET …/info/refs, one before every fetch
// and push and every ls-remote), Fetches the upload-pack POSTs (a clone or
// fetch that wanted objects), Pushes the receive-pack POSTs.
type GitRequests struct{ Adverts, Fetches, Pushes int64 }

// Requests returns what the server has served so far (zero for GitFile).
func (s *GitServer) Requests() GitRequests {
	return GitRequests{s.adverts.Load(), s.fetches.Load(), s.pushes.Load()}
}

// URL returns the URL to clone the repository from: for GitHTTP
// http://127.0.0.1:PORT/repo.git, for GitFile file:///…/repo.git. The URL
// holds no credentials.
func (s *GitServer) URL() string { return s.url }

// StoreYAML is a Kratix GitStateStore named repo on this server (path "gitops")
// and its Secret git with username and password, as a team applies them; it
// ends with a document separator.
func (s *GitServer) StoreYAML(username, password string) string {
	return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo}
spec: {url: "%s", insecure: true, path: gitops, secretRef: {name: git}}
---
apiVersion: v1
kind: Secret
metadata: {name: git}
stringData: {username: %s, password: %s}
---
`, s.url, username, password)
}

// Dir returns the path of the bare repository.
func (s *GitServer) Dir() string { return s.dir }

// Branch returns the default branch of the repository.
func (s *GitServer) Branch() string { return s.branch }

// Close stops the HTTP server for good: later requests get connection refused.
// It is idempotent and also runs at cleanup. For GitFile it does nothing.
func (s *GitServer) Close() {
	s.closeOnce.Do(func() {
		if s.srv != nil {
			s.srv.CloseClientConnections()
			s.srv.Close()
		}
	})
}

// SetDown makes the server unavailable (down true) or available again (down
// false). While down, GitHTTP answers every request with 503 Service
// Unavailable; GitFile moves the bare repository away, so the file:// URL does
// not resolve (Dir, Files and the other inspection methods fail meanwhile).
func (s *GitServer) SetDown(down bool) {
	if s.srv != nil {
		s.down.Store(down)
		if down {
			s.srv.CloseClientConnections()
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fileDown == down {
		return
	}
	from, to := s.dir, s.dir+".down"
	if !down {
		from, to = to, from
	}
	if err := os.Rename(from, to); err != nil {
		panic(fmt.Sprintf("testpeers: SetDown(%v): %v", down, err))
	}
	s.fileDown = down
}

// SetPreReceiveReject installs a pre-receive hook that prints msg to stderr and
// exits 1, so the server rejects every push and the pusher sees msg (as
// "remote: msg"). An empty msg removes the hook. The hook also rejects
// PushOutside.
func (s *GitServer) SetPreReceiveReject(msg string) {
	hook := filepath.Join(s.dir, "hooks", "pre-receive")
	if msg == "" {
		if err := os.Remove(hook); err != nil && !errors.Is(err, os.ErrNotExist) {
			panic(fmt.Sprintf("testpeers: remove pre-receive hook: %v", err))
		}
		return
	}
	script := "#!/bin/sh\nprintf '%s\\n' " + shellQuote(msg) + " >&2\nexit 1\n"
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		panic(fmt.Sprintf("testpeers: install pre-receive hook: %v", err))
	}
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		panic(fmt.Sprintf("testpeers: install pre-receive hook: %v", err))
	}
}

// SetPreReceive installs script (a complete shell script, "#!/bin/sh" first) as
// the repository's pre-receive hook; an empty script removes it. The hook runs in
// the bare repository with the pushed objects in quarantine, as on any server.
func (s *GitServer) SetPreReceive(script string) {
	hook := filepath.Join(s.dir, "hooks", "pre-receive")
	if script == "" {
		if err := os.Remove(hook); err != nil && !errors.Is(err, os.ErrNotExist) {
			panic(fmt.Sprintf("testpeers: remove pre-receive hook: %v", err))
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		panic(fmt.Sprintf("testpeers: install pre-receive hook: %v", err))
	}
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		panic(fmt.Sprintf("testpeers: install pre-receive hook: %v", err))
	}
}

// RejectContaining is a pre-receive hook script that refuses a push whose new
// tip holds a file containing word, naming the file, like a content policy.
func RejectContaining(word string) string {
	return "#!/bin/sh\nwhile read old new ref; do\n" +
		"  if hit=$(git grep -l -F " + shellQuote(word) + " \"$new\" 2>/dev/null); then\n" +
		"    echo \"content policy: refusing $hit\" >&2; exit 1\n  fi\ndone\nexit 0\n"
}

// Files returns every file at the tip of branch, by path (slash-separated,
// relative to the repository root) to content. It returns an empty map when
// the branch does not exist.
func (s *GitServer) Files(t testing.TB, branch string) map[string]string {
	t.Helper()
	files := map[string]string{}
	if s.Head(t, branch) == "" {
		return files
	}
	out, err := runGit(s.dir, nil, "ls-tree", "-r", "-z", "--full-tree", "refs/heads/"+branch)
	if err != nil {
		t.Fatalf("git ls-tree %s: %v", branch, err)
	}
	for entry := range strings.SplitSeq(strings.TrimSuffix(out, "\x00"), "\x00") {
		if entry == "" {
			continue
		}
		// "<mode> <type> <object>\t<path>"
		meta, path, ok := strings.Cut(entry, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			t.Fatalf("git ls-tree %s: unexpected entry %q", branch, entry)
		}
		if fields[1] != "blob" {
			continue // submodules
		}
		content, err := runGit(s.dir, nil, "cat-file", "blob", fields[2])
		if err != nil {
			t.Fatalf("git cat-file %s: %v", path, err)
		}
		files[path] = content
	}
	return files
}

// CommitCount returns the number of commits reachable from branch, or 0 when
// the branch does not exist.
func (s *GitServer) CommitCount(t testing.TB, branch string) int {
	t.Helper()
	if s.Head(t, branch) == "" {
		return 0
	}
	out, err := runGit(s.dir, nil, "rev-list", "--count", "refs/heads/"+branch)
	if err != nil {
		t.Fatalf("git rev-list %s: %v", branch, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("git rev-list %s: %v", branch, err)
	}
	return n
}

// Head returns the commit hash at the tip of branch, or "" when the branch does
// not exist.
func (s *GitServer) Head(t testing.TB, branch string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	cmd.Dir = s.dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 && stderr.Len() == 0 {
		return ""
	}
	if err != nil {
		t.Fatalf("git rev-parse %s: %v: %s", branch, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// LastCommit returns the commit at the tip of branch. It fails the test when
// the branch does not exist.
func (s *GitServer) LastCommit(t testing.TB, branch string) Commit {
	t.Helper()
	head := s.Head(t, branch)
	if head == "" {
		t.Fatalf("branch %q does not exist in %s", branch, s.dir)
	}
	out, err := runGit(s.dir, nil, "log", "-1", "--format=%H%x00%an%x00%ae%x00%B", head)
	if err != nil {
		t.Fatalf("git log %s: %v", branch, err)
	}
	parts := strings.SplitN(out, "\x00", 4)
	if len(parts) != 4 {
		t.Fatalf("git log %s: unexpected output %q", branch, out)
	}
	return Commit{
		Hash:        parts[0],
		AuthorName:  parts[1],
		AuthorEmail: parts[2],
		Message:     strings.TrimRight(parts[3], "\n"),
	}
}

// PushOutside simulates someone else pushing: it clones the repository
// directly from Dir (bypassing HTTP, auth and SetDown), writes content to path
// (slash-separated, parents created) on the default branch, commits it as
// OutsideAuthorName and pushes. It works on an empty repository too.
func (s *GitServer) PushOutside(t testing.TB, path, content string) {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "outside")
	author := []string{
		"GIT_AUTHOR_NAME=" + OutsideAuthorName, "GIT_AUTHOR_EMAIL=" + OutsideAuthorEmail,
		"GIT_COMMITTER_NAME=" + OutsideAuthorName, "GIT_COMMITTER_EMAIL=" + OutsideAuthorEmail,
	}
	if _, err := runGit("", nil, "clone", "--quiet", s.dir, wt); err != nil {
		t.Fatalf("PushOutside: %v", err)
	}
	if _, err := runGit(wt, nil, "checkout", "--quiet", "-B", s.branch); err != nil {
		t.Fatalf("PushOutside: %v", err)
	}
	file := filepath.Join(wt, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatalf("PushOutside: %v", err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatalf("PushOutside: %v", err)
	}
	for _, args := range [][]string{
		{"add", "--all"},
		{"commit", "--quiet", "--allow-empty", "-m", "Outside change to " + path},
		{"push", "--quiet", "origin", "HEAD:refs/heads/" + s.branch},
	} {
		if _, err := runGit(wt, author, args...); err != nil {
			t.Fatalf("PushOutside: %v", err)
		}
	}
}

// gitEnv is the environment for every git process: the inherited one without
// user or system configuration, prompts or a pager.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_PAGER=cat",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"LC_ALL=C",
	)
}

// runGit runs git with args in dir (the current directory when empty) and
// returns its standard output.
func runGit(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
