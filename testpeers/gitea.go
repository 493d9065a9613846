package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GiteaVersion is the version of code.gitea.io/gitea that scripts/peers.sh
// builds into $STATEWARD_PEERS_DIR/gitea.
const GiteaVersion = "v1.27.3"

// giteaReadyTimeout bounds each step of the start of Gitea: migrate, creating
// the admin, and the web server answering.
const giteaReadyTimeout = 120 * time.Second

// giteaAdmin is the name of the site administrator that owns the repositories
// of NewRepo. ("admin" is a reserved name in Gitea.)
const giteaAdmin = "stateward"

// GiteaServer is a real Gitea server that every test of the test binary shares:
// SQLite in a throwaway work path, HTTP on a free 127.0.0.1 port, no SSH, no
// mail, webhooks allowed to loopback. Give each test its own repositories with
// NewRepo and its own people with NewUser.
type GiteaServer struct {
	url      string // ROOT_URL without the trailing slash
	password string // of giteaAdmin
	token    string // of giteaAdmin
	dir      string // work path, removed at stop
	bin      string
	cmd      *exec.Cmd
	exited   chan struct{}
	output   *syncBuffer
	client   *http.Client
	started  time.Duration // how long the start took
}

var (
	sharedGiteaMu   sync.Mutex
	sharedGitea     *GiteaServer
	sharedGiteaErr  error
	sharedGiteaDone bool
)

// Gitea returns the Gitea server of the test binary, starting it on first use
// (a few seconds). The test package's TestMain must call RunMain, which stops it
// after the tests.
//
// The build is $STATEWARD_PEERS_DIR/gitea (STATEWARD_PEERS_DIR defaults to
// $HOME/.cache/stateward-peers), made by scripts/peers.sh: the binary, the
// module's options/ and templates/, and a VERSION file naming GiteaVersion.
func Gitea(t testing.TB) *GiteaServer {
	t.Helper()
	if !runMainActive.Load() {
		t.Fatalf("testpeers.Gitea needs the test package to stop the shared Gitea: add\n\tfunc TestMain(m *testing.M) { testpeers.RunMain(m) }")
	}
	sharedGiteaMu.Lock()
	defer sharedGiteaMu.Unlock()
	if !sharedGiteaDone {
		sharedGiteaDone = true
		sharedGitea, sharedGiteaErr = startGitea()
	}
	if sharedGiteaErr != nil {
		t.Fatalf("%v", sharedGiteaErr)
	}
	return sharedGitea
}

func stopSharedGitea() {
	sharedGiteaMu.Lock()
	defer sharedGiteaMu.Unlock()
	if sharedGitea != nil {
		sharedGitea.stop()
		sharedGitea = nil
	}
	sharedGiteaErr = errors.New("testpeers: Gitea was already stopped by RunMain")
}

// giteaBuild finds the directory of the Gitea build and checks that it is
// complete and of GiteaVersion.
func giteaBuild() (string, error) {
	peers := peersDir()
	install := "run: bash scripts/peers.sh (builds Gitea " + GiteaVersion + " once into " +
		filepath.Join(peers, "gitea") + ", about 10 CPU-minutes)"
	if peers == "" {
		return "", errors.New("testpeers: Gitea: no STATEWARD_PEERS_DIR and no home directory; set STATEWARD_PEERS_DIR and " + install)
	}
	dir := filepath.Join(peers, "gitea")
	fi, err := os.Stat(filepath.Join(dir, "gitea"))
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("testpeers: Gitea not found at %s; %s", filepath.Join(dir, "gitea"), install)
	}
	for _, sub := range []string{"options", "templates"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("testpeers: Gitea build in %s has no %s/; %s", dir, sub, install)
		}
	}
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if got := strings.TrimSpace(string(v)); err != nil || got != GiteaVersion {
		return "", fmt.Errorf("testpeers: Gitea build in %s is %q, want %s; %s", dir, got, GiteaVersion, install)
	}
	return dir, nil
}

func startGitea() (*GiteaServer, error) {
	begin := time.Now()
	build, err := giteaBuild()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stateward-gitea-")
	if err != nil {
		return nil, fmt.Errorf("testpeers: Gitea work path: %w", err)
	}
	g := &GiteaServer{
		password: randomName(24),
		dir:      dir,
		bin:      filepath.Join(build, "gitea"),
		output:   &syncBuffer{},
		client:   &http.Client{Timeout: 60 * time.Second},
	}
	secrets := giteaSecrets{secretKey: randomName(26) + randomName(26), internalToken: randomName(26) + randomName(26)}
	// migrate and admin do not listen; the port of the first app.ini is free
	// for them whatever it is.
	err = g.writeConfig(build, 0, secrets)
	if err == nil {
		err = g.prepare()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port can be taken between freePort and the start of Gitea; try again
	// then.
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			err = fmt.Errorf("testpeers: Gitea port: %w", err)
			break
		}
		if err = g.writeConfig(build, port, secrets); err != nil {
			break
		}
		if err = g.serve(); err == nil {
			break
		}
	}
	if err == nil {
		g.token, err = g.createToken(giteaAdmin, g.password, giteaAdminScopes)
		if err != nil {
			g.stop()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	g.started = time.Since(begin)
	return g, nil
}

type giteaSecrets struct{ secretKey, internalToken string }

// writeConfig writes the app.ini of the server: everything in the work path,
// loopback only, nothing that reaches out (mail, update checks, actions).
func (g *GiteaServer) writeConfig(build string, port int, s giteaSecrets) error {
	cur, err := user.Current()
	if err != nil {
		return fmt.Errorf("testpeers: Gitea: current user: %w", err)
	}
	g.url = "http://127.0.0.1:" + strconv.Itoa(port)
	var ini strings.Builder
	fmt.Fprintf(&ini, "APP_NAME = Stateward test Gitea\nRUN_MODE = prod\nRUN_USER = %s\nWORK_PATH = %s\n", cur.Username, g.dir)
	if os.Geteuid() == 0 {
		// Gitea refuses root otherwise; the tests of this machine run as root.
		ini.WriteString("I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true\n")
	}
	fmt.Fprintf(&ini, `
[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[1]d
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:%[1]d/
LOCAL_ROOT_URL = http://127.0.0.1:%[1]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = %[2]s/data
STATIC_ROOT_PATH = %[3]s

[database]
DB_TYPE = sqlite3
PATH = %[2]s/data/gitea.db

[repository]
ROOT = %[2]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[4]s
INTERNAL_TOKEN = %[5]s
PASSWORD_COMPLEXITY = off
MIN_PASSWORD_LENGTH = 8
ALLOWED_HOST_LIST = loopback

[service]
DISABLE_REGISTRATION = true
ENABLE_NOTIFY_MAIL = false

[mailer]
ENABLED = false

[actions]
ENABLED = false

[oauth2]
ENABLED = false

[cron.update_checker]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[2]s/log
`, port, g.dir, build, s.secretKey, s.internalToken)
	if err := os.WriteFile(g.configPath(), []byte(ini.String()), 0o600); err != nil {
		return fmt.Errorf("testpeers: Gitea app.ini: %w", err)
	}
	return nil
}

func (g *GiteaServer) configPath() string { return filepath.Join(g.dir, "app.ini") }

// command is the Gitea CLI with the work path and config of g.
func (g *GiteaServer) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, g.bin, append([]string{"--work-path", g.dir, "--config", g.configPath()}, args...)...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GITEA_WORK_DIR="+g.dir, "HOME="+g.dir)
	// Kill Gitea when the test binary dies without running RunMain's cleanup
	// (a panic or the test timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// prepare creates the database and the site administrator.
func (g *GiteaServer) prepare() error {
	steps := [][]string{
		{"migrate"},
		{"admin", "user", "create", "--admin", "--username", giteaAdmin, "--password", g.password,
			"--email", giteaAdmin + "@example.com", "--must-change-password=false"},
	}
	for _, args := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), giteaReadyTimeout)
		out, err := g.command(ctx, args...).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("testpeers: gitea %s: %v\n%s", strings.Join(args[:1], " "), err, out)
		}
	}
	return nil
}

// serve starts the web server and waits until it answers.
func (g *GiteaServer) serve() error {
	g.exited = make(chan struct{})
	g.cmd = g.command(context.Background(), "web")
	g.cmd.Stdout, g.cmd.Stderr = g.output, g.output
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("testpeers: start Gitea %s: %w", g.bin, err)
	}
	go func() {
		_ = g.cmd.Wait()
		close(g.exited)
	}()
	hc := &http.Client{Timeout: 2 * time.Second}
	exited := false
	ok := Poll(giteaReadyTimeout, 100*time.Millisecond, func() bool {
		select {
		case <-g.exited:
			exited = true
			return true
		default:
		}
		resp, err := hc.Get(g.url + "/api/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if exited || !ok {
		g.kill()
		what := "exited"
		if !exited {
			what = "was not ready after " + giteaReadyTimeout.String()
		}
		return fmt.Errorf("testpeers: Gitea %s on %s; output:\n%s", what, g.url, g.output.String())
	}
	return nil
}

// stop terminates Gitea, waits for it and removes its work path.
func (g *GiteaServer) stop() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			g.kill()
		}
	}
	os.RemoveAll(g.dir)
}

func (g *GiteaServer) kill() {
	_ = g.cmd.Process.Kill()
	<-g.exited
}

// URL returns the root URL of the web server, http://127.0.0.1:PORT, without a
// trailing slash.
func (g *GiteaServer) URL() string { return g.url }

// APIURL returns the base URL of the REST API, URL()+"/api/v1".
func (g *GiteaServer) APIURL() string { return g.url + "/api/v1" }

// Token returns an access token of the site administrator, the owner of the
// repositories of NewRepo, with write access to everything.
func (g *GiteaServer) Token() string { return g.token }

// Admin returns the name of the site administrator.
func (g *GiteaServer) Admin() string { return giteaAdmin }

// StartTime returns how long the start of the server took: migrate, the
// administrator, the web server and its token.
func (g *GiteaServer) StartTime() time.Duration { return g.started }

// GiteaAPIError is an answer of the API with an unexpected status.
type GiteaAPIError struct {
	Method, Path string
	Status       int
	// Message is the "message" of Gitea's JSON error, else the body.
	Message string
}

func (e *GiteaAPIError) Error() string {
	return fmt.Sprintf("gitea %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Call sends a request to the API path (below /api/v1, e.g.
// "/repos/o/r/pulls") with token (none when empty) and body as JSON (none when
// nil). When the status is want it decodes the answer into out (unless nil)
// and returns nil; otherwise it returns a *GiteaAPIError.
func (g *GiteaServer) Call(token, method, path string, body any, want int, out any) error {
	return g.call(func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "token "+token)
		}
	}, method, path, body, want, out)
}

// MustCall is Call that fails the test on an error.
func (g *GiteaServer) MustCall(t testing.TB, token, method, path string, body any, want int, out any) {
	t.Helper()
	if err := g.Call(token, method, path, body, want, out); err != nil {
		t.Fatal(err)
	}
}

func (g *GiteaServer) call(auth func(*http.Request), method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("gitea %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.APIURL()+path, rd)
	if err != nil {
		return fmt.Errorf("gitea %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("gitea %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("gitea %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		e := &GiteaAPIError{Method: method, Path: path, Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &m) == nil && m.Message != "" {
			e.Message = m.Message
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("gitea %s %s: decode %s: %w", method, path, b, err)
		}
	}
	return nil
}

// Scopes of the tokens of the administrator and of the people of NewUser.
var (
	giteaAdminScopes = []string{"write:admin", "write:repository", "write:issue", "write:user", "write:organization"}
	giteaUserScopes  = []string{"write:repository", "write:issue", "write:user"}
)

// createToken makes an access token with scopes for user, authenticated with
// its password. write:repository covers Git and pull requests, write:issue
// reviews and comments.
func (g *GiteaServer) createToken(name, password string, scopes []string) (string, error) {
	body := map[string]any{"name": "stateward-" + randomName(8), "scopes": scopes}
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	err := g.call(func(r *http.Request) { r.SetBasicAuth(name, password) },
		http.MethodPost, "/users/"+url.PathEscape(name)+"/tokens", body, http.StatusCreated, &tok)
	if err != nil {
		return "", fmt.Errorf("testpeers: Gitea token for %s: %w", name, err)
	}
	if tok.SHA1 == "" {
		return "", fmt.Errorf("testpeers: Gitea token for %s: empty answer", name)
	}
	return tok.SHA1, nil
}

// NewUser creates a person with a unique name (not an administrator) and
// returns the name and an access token of theirs, e.g. a reviewer who approves
// a pull request. Give them access to a repository with AddCollaborator.
func (g *GiteaServer) NewUser(t testing.TB) (name, token string) {
	t.Helper()
	name = "u" + randomName(12)
	password := randomName(20)
	g.MustCall(t, g.token, http.MethodPost, "/admin/users", map[string]any{
		"username":             name,
		"email":                name + "@example.com",
		"password":             password,
		"must_change_password": false,
	}, http.StatusCreated, nil)
	t.Cleanup(func() {
		if err := g.Call(g.token, http.MethodDelete, "/admin/users/"+name+"?purge=true", nil, http.StatusNoContent, nil); err != nil {
			t.Errorf("cleanup Gitea user %s: %v", name, err)
		}
	})
	token, err := g.createToken(name, password, giteaUserScopes)
	if err != nil {
		t.Fatal(err)
	}
	return name, token
}

// NewRepo creates a private repository with a unique name, owned by the site
// administrator, with a first commit (a README) on main, and returns its owner,
// name and HTTP clone URL. Authenticate Git with the owner's name and Token().
//
// With protectedBranch, main is protected as a team that requires review does
// it: nobody may push to it (enable_push false), a pull request needs one
// approval, a head branch behind main cannot be merged, and administrators get
// no override. The repository is deleted at cleanup.
func (g *GiteaServer) NewRepo(t testing.TB, protectedBranch bool) (owner, name, cloneURL string) {
	t.Helper()
	var repo struct {
		Name     string `json:"name"`
		CloneURL string `json:"clone_url"`
		Owner    struct {
			Login string `json:"login"`
		} `json:"owner"`
	}
	g.MustCall(t, g.token, http.MethodPost, "/user/repos", map[string]any{
		"name":           "r" + randomName(12),
		"private":        true,
		"auto_init":      true,
		"readme":         "Default",
		"default_branch": "main",
	}, http.StatusCreated, &repo)
	owner, name = repo.Owner.Login, repo.Name
	t.Cleanup(func() {
		if err := g.Call(g.token, http.MethodDelete, "/repos/"+owner+"/"+name, nil, http.StatusNoContent, nil); err != nil {
			t.Errorf("cleanup Gitea repository %s/%s: %v", owner, name, err)
		}
	})
	if protectedBranch {
		g.MustCall(t, g.token, http.MethodPost, "/repos/"+owner+"/"+name+"/branch_protections", map[string]any{
			"rule_name":                  "main",
			"enable_push":                false,
			"required_approvals":         1,
			"block_on_outdated_branch":   true,
			"block_admin_merge_override": true,
		}, http.StatusCreated, nil)
	}
	return owner, name, repo.CloneURL
}

// AddCollaborator gives user permission ("read", "write" or "admin") on the
// repository owner/name. Only the approvals of people with write access count
// towards a protected branch's required approvals.
func (g *GiteaServer) AddCollaborator(t testing.TB, owner, name, user, permission string) {
	t.Helper()
	g.MustCall(t, g.token, http.MethodPut, "/repos/"+owner+"/"+name+"/collaborators/"+user,
		map[string]any{"permission": permission}, http.StatusNoContent, nil)
}

// AddWebhook registers a webhook of type gitea on the repository owner/name
// that POSTs the events (e.g. "pull_request") as JSON to target, signed with
// secret in X-Gitea-Signature (HMAC-SHA256 of the body, hex). It returns the
// hook's id.
func (g *GiteaServer) AddWebhook(t testing.TB, owner, name, target, secret string, events ...string) int64 {
	t.Helper()
	var hook struct {
		ID int64 `json:"id"`
	}
	g.MustCall(t, g.token, http.MethodPost, "/repos/"+owner+"/"+name+"/hooks", map[string]any{
		"type":          "gitea",
		"active":        true,
		"events":        events,
		"branch_filter": "*",
		"config": map[string]string{
			"url":          target,
			"content_type": "json",
			"secret":       secret,
		},
	}, http.StatusCreated, &hook)
	return hook.ID
}

// GiteaPull is the part of a Gitea pull request that tests look at.
type GiteaPull struct {
	Number         int64  `json:"number"`
	State          string `json:"state"` // open, closed
	Merged         bool   `json:"merged"`
	Mergeable      bool   `json:"mergeable"`
	MergeCommitSHA string `json:"merge_commit_sha"`
	HTMLURL        string `json:"html_url"`
	Head           struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
}

// Pull returns pull request number of the repository owner/name.
func (g *GiteaServer) Pull(t testing.TB, owner, name string, number int64) GiteaPull {
	t.Helper()
	var p GiteaPull
	g.MustCall(t, g.token, http.MethodGet, fmt.Sprintf("/repos/%s/%s/pulls/%d", owner, name, number), nil, http.StatusOK, &p)
	return p
}

// WaitMergeable waits until Gitea has checked pull request number for conflicts
// and found none. Until then a merge answers 405 "Please try again later"
// whatever the branch protection says.
func (g *GiteaServer) WaitMergeable(t testing.TB, owner, name string, number int64, timeout time.Duration) GiteaPull {
	t.Helper()
	var p GiteaPull
	if !Poll(timeout, 50*time.Millisecond, func() bool {
		p = g.Pull(t, owner, name, number)
		return p.Mergeable
	}) {
		t.Fatalf("Gitea pull request %s/%s#%d not mergeable after %s: %+v", owner, name, number, timeout, p)
	}
	return p
}

// BranchCommit returns the id of the commit at the tip of branch of the
// repository owner/name.
func (g *GiteaServer) BranchCommit(t testing.TB, owner, name, branch string) string {
	t.Helper()
	var b struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	g.MustCall(t, g.token, http.MethodGet, "/repos/"+owner+"/"+name+"/branches/"+url.PathEscape(branch), nil, http.StatusOK, &b)
	return b.Commit.ID
}
