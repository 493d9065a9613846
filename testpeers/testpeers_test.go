package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestMain(m *testing.M) { RunMain(m) }

// gitCLI runs the git CLI in dir and returns its combined output and error.
func gitCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(),
		"GIT_AUTHOR_NAME=Tester", "GIT_AUTHOR_EMAIL=tester@example.com",
		"GIT_COMMITTER_NAME=Tester", "GIT_COMMITTER_EMAIL=tester@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCLI(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// withCreds returns rawURL with user and password in it.
func withCreds(t *testing.T, rawURL, user, pass string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

func TestGitHTTPCloneAndPushWithGitCLI(t *testing.T) {
	s := GitHTTP(t, GitOptions{Username: "alice", Password: "s3cret"})
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/repo.git") {
		t.Fatalf("URL() = %q, want http://127.0.0.1:PORT/repo.git", s.URL())
	}
	if got, want := s.CommitCount(t, "main"), 1; got != want {
		t.Fatalf("CommitCount before push = %d, want %d", got, want)
	}

	wt := filepath.Join(t.TempDir(), "wt")
	mustGit(t, "", "clone", "--quiet", withCreds(t, s.URL(), "alice", "s3cret"), wt)
	readme, err := os.ReadFile(filepath.Join(wt, InitialFile))
	if err != nil {
		t.Fatalf("clone has no %s: %v", InitialFile, err)
	}
	if string(readme) != InitialContent {
		t.Fatalf("%s = %q, want %q", InitialFile, readme, InitialContent)
	}

	if err := os.MkdirAll(filepath.Join(wt, "dest", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, "dest", "a", "x.yaml"), []byte("kind: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, wt, "add", "--all")
	mustGit(t, wt, "commit", "--quiet", "-m", "Update from: x")
	mustGit(t, wt, "push", "--quiet", "origin", "HEAD:main")

	if got, want := s.CommitCount(t, "main"), 2; got != want {
		t.Errorf("CommitCount after push = %d, want %d", got, want)
	}
	local := strings.TrimSpace(mustGit(t, wt, "rev-parse", "HEAD"))
	if got := s.Head(t, "main"); got != local {
		t.Errorf("Head = %q, want pushed %q", got, local)
	}
	want := map[string]string{InitialFile: InitialContent, "dest/a/x.yaml": "kind: X\n"}
	if got := s.Files(t, "main"); !maps.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
	c := s.LastCommit(t, "main")
	if c.Hash != local || c.AuthorName != "Tester" || c.AuthorEmail != "tester@example.com" || c.Message != "Update from: x" {
		t.Errorf("LastCommit = %+v, want hash %s by Tester <tester@example.com> with message %q", c, local, "Update from: x")
	}
}

func TestGitHTTPBadPassword(t *testing.T) {
	s := GitHTTP(t, GitOptions{Username: "alice", Password: "s3cret"})

	for _, tc := range []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "alice", "wrong", http.StatusUnauthorized},
		{"wrong user", "bob", "s3cret", http.StatusUnauthorized},
		{"right credentials", "alice", "s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.URL()+"/info/refs?service=git-upload-pack", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want Basic challenge", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("git CLI", func(t *testing.T) {
		out, err := gitCLI(t, "", "ls-remote", withCreds(t, s.URL(), "alice", "wrong"))
		if err == nil {
			t.Fatalf("git ls-remote with a wrong password succeeded:\n%s", out)
		}
		if !strings.Contains(out, "Authentication failed") {
			t.Errorf("git ls-remote output = %q, want an authentication failure", out)
		}
	})

	t.Run("go-git", func(t *testing.T) {
		_, err := git.PlainClone(t.TempDir(), false, &git.CloneOptions{
			URL:  s.URL(),
			Auth: &githttp.BasicAuth{Username: "alice", Password: "wrong"},
		})
		if !errors.Is(err, transport.ErrAuthenticationRequired) && !errors.Is(err, transport.ErrAuthorizationFailed) {
			t.Fatalf("go-git clone with a wrong password: err = %v, want an authentication error", err)
		}
	})
}

func TestGitHTTPGoGitPushAndOutsidePush(t *testing.T) {
	s := GitHTTP(t, GitOptions{Username: "bot", Password: "pw", Branch: "trunk"})
	auth := &githttp.BasicAuth{Username: "bot", Password: "pw"}
	dir := t.TempDir()
	repo, err := git.PlainClone(dir, false, &git.CloneOptions{URL: s.URL(), Auth: auth})
	if err != nil {
		t.Fatalf("go-git clone: %v", err)
	}

	// Someone else pushes; our clone is now behind.
	s.PushOutside(t, "outside/file.txt", "from outside\n")
	if got, want := s.CommitCount(t, "trunk"), 2; got != want {
		t.Fatalf("CommitCount after PushOutside = %d, want %d", got, want)
	}
	if c := s.LastCommit(t, "trunk"); c.AuthorName != OutsideAuthorName || c.AuthorEmail != OutsideAuthorEmail {
		t.Errorf("outside commit author = %s <%s>, want %s <%s>", c.AuthorName, c.AuthorEmail, OutsideAuthorName, OutsideAuthorEmail)
	}

	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Pull(&git.PullOptions{Auth: auth}); err != nil {
		t.Fatalf("go-git pull: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("mine.txt"); err != nil {
		t.Fatal(err)
	}
	hash, err := wt.Commit("Add mine", &git.CommitOptions{Author: &object.Signature{Name: "stateward", Email: "sw@example.com", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(&git.PushOptions{Auth: auth}); err != nil {
		t.Fatalf("go-git push: %v", err)
	}
	if got := s.Head(t, "trunk"); got != hash.String() {
		t.Errorf("Head = %s, want %s", got, hash)
	}
	want := map[string]string{
		InitialFile:        InitialContent,
		"outside/file.txt": "from outside\n",
		"mine.txt":         "mine\n",
	}
	if got := s.Files(t, "trunk"); !maps.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
	if got := s.Head(t, "main"); got != "" {
		t.Errorf("Head of missing branch = %q, want empty", got)
	}
}

func TestGitHTTPDownAndBack(t *testing.T) {
	s := GitHTTP(t, GitOptions{})
	infoRefs := s.URL() + "/info/refs?service=git-upload-pack"
	status := func() int {
		t.Helper()
		resp, err := http.Get(infoRefs)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("status while up = %d, want 200", got)
	}
	s.SetDown(true)
	if got := status(); got != http.StatusServiceUnavailable {
		t.Fatalf("status while down = %d, want 503", got)
	}
	if out, err := gitCLI(t, "", "ls-remote", s.URL()); err == nil {
		t.Fatalf("git ls-remote while down succeeded:\n%s", out)
	}
	s.SetDown(false)
	if got := status(); got != http.StatusOK {
		t.Fatalf("status after back = %d, want 200", got)
	}
	s.Close()
	if resp, err := http.Get(infoRefs); err == nil {
		resp.Body.Close()
		t.Fatalf("request after Close answered %d, want a connection error", resp.StatusCode)
	}
}

func TestGitHTTPPreReceiveReject(t *testing.T) {
	s := GitHTTP(t, GitOptions{})
	wt := filepath.Join(t.TempDir(), "wt")
	mustGit(t, "", "clone", "--quiet", s.URL(), wt)
	if err := os.WriteFile(filepath.Join(wt, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, wt, "add", "f")
	mustGit(t, wt, "commit", "--quiet", "-m", "f")

	s.SetPreReceiveReject("policy: it's Friday")
	out, err := gitCLI(t, wt, "push", "origin", "HEAD:main")
	if err == nil {
		t.Fatalf("push succeeded despite the pre-receive hook:\n%s", out)
	}
	if !strings.Contains(out, "remote: policy: it's Friday") {
		t.Errorf("push output = %q, want the hook message", out)
	}
	if got := s.CommitCount(t, "main"); got != 1 {
		t.Errorf("CommitCount after rejected push = %d, want 1", got)
	}

	s.SetPreReceiveReject("")
	mustGit(t, wt, "push", "--quiet", "origin", "HEAD:main")
	if got := s.CommitCount(t, "main"); got != 2 {
		t.Errorf("CommitCount after hook removal = %d, want 2", got)
	}
}

func TestGitHTTPEmpty(t *testing.T) {
	s := GitHTTP(t, GitOptions{Empty: true})
	if got := s.CommitCount(t, "main"); got != 0 {
		t.Fatalf("CommitCount of empty repo = %d, want 0", got)
	}
	if got := s.Head(t, "main"); got != "" {
		t.Fatalf("Head of empty repo = %q, want empty", got)
	}
	if got := s.Files(t, "main"); len(got) != 0 {
		t.Fatalf("Files of empty repo = %v, want none", got)
	}
	wt := t.TempDir()
	mustGit(t, wt, "init", "--quiet", "--initial-branch=main")
	if err := os.WriteFile(filepath.Join(wt, "first"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, wt, "add", "first")
	mustGit(t, wt, "commit", "--quiet", "-m", "first")
	mustGit(t, wt, "push", "--quiet", s.URL(), "HEAD:refs/heads/main")
	if got, want := s.Files(t, "main"), map[string]string{"first": "1"}; !maps.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}

	e := GitFile(t, GitOptions{Empty: true})
	e.PushOutside(t, "a/b.txt", "b")
	if got, want := e.Files(t, "main"), map[string]string{"a/b.txt": "b"}; !maps.Equal(got, want) {
		t.Errorf("PushOutside on empty repo: Files = %q, want %q", got, want)
	}
}

func TestGitFile(t *testing.T) {
	s := GitFile(t, GitOptions{Branch: "prod"})
	if want := "file://" + s.Dir(); s.URL() != want {
		t.Fatalf("URL() = %q, want %q", s.URL(), want)
	}
	wt := filepath.Join(t.TempDir(), "wt")
	mustGit(t, "", "clone", "--quiet", s.URL(), wt)
	if branch := strings.TrimSpace(mustGit(t, wt, "branch", "--show-current")); branch != "prod" {
		t.Errorf("cloned branch = %q, want prod", branch)
	}
	s.SetDown(true)
	if out, err := gitCLI(t, "", "ls-remote", s.URL()); err == nil {
		t.Fatalf("ls-remote while down succeeded:\n%s", out)
	}
	s.SetDown(false)
	mustGit(t, "", "ls-remote", s.URL())
}

func TestMinIO(t *testing.T) {
	s := MinIO(t)
	if s2 := MinIO(t); s2 != s {
		t.Fatalf("second MinIO call returned another server")
	}
	bucket := s.NewBucket(t)
	other := s.NewBucket(t)
	if bucket == other {
		t.Fatalf("NewBucket returned %q twice", bucket)
	}
	ctx := context.Background()
	objs := map[string]string{
		"dest/a.yaml":   "a",
		"dest/b/c.yaml": "c",
		"elsewhere.txt": "e",
	}
	for key, content := range objs {
		if _, err := s.Client().PutObject(ctx, bucket, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	want := map[string]string{"dest/a.yaml": "a", "dest/b/c.yaml": "c"}
	if got := s.Objects(t, bucket, "dest/"); !maps.Equal(got, want) {
		t.Errorf("Objects(dest/) = %q, want %q", got, want)
	}
	if got, want := s.Objects(t, bucket, ""), objs; !maps.Equal(got, want) {
		t.Errorf("Objects() = %q, want %q", got, want)
	}
	if got := s.Objects(t, other, ""); len(got) != 0 {
		t.Errorf("other bucket has %v, want nothing", got)
	}

	// A client with the exported endpoint and keys works, as a store would
	// configure it.
	c, err := minio.New(s.Endpoint(), &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey(), s.SecretKey(), "")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.BucketExists(ctx, bucket); err != nil || !ok {
		t.Errorf("BucketExists(%s) with the exported keys = %v, %v; want true, nil", bucket, ok, err)
	}
}

func TestMinIOWrongSecret(t *testing.T) {
	s := MinIO(t)
	bucket := s.NewBucket(t)
	resp, err := http.Get("http://" + s.Endpoint() + "/" + bucket + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous list status = %d, want 403; body %s", resp.StatusCode, body)
	}
	if s.AccessKey() == "" || len(s.SecretKey()) < 8 {
		t.Errorf("credentials %q/%q look wrong", s.AccessKey(), s.SecretKey())
	}
}

func TestBrowserClick(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>peers</title>
<button id="go" onclick="document.getElementById('out').textContent = 'clicked'">Go</button>
<p id="out">waiting</p>`)
	}))
	defer ts.Close()

	ctx := Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#out")))
	if err != nil {
		t.Fatalf("read text: %v", err)
	}
	if before != "waiting" {
		t.Fatalf("text before click = %q, want %q", before, "waiting")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#go"))); err != nil {
		t.Fatalf("click: %v", err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#out")))
	if err != nil {
		t.Fatalf("read text: %v", err)
	}
	if after != "clicked" {
		t.Errorf("text after click = %q, want %q", after, "clicked")
	}
}

func TestMockOIDCDiscovery(t *testing.T) {
	m := MockOIDC(t)
	if !strings.HasPrefix(m.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("Issuer() = %q, want http://127.0.0.1:…", m.Issuer())
	}
	resp, err := http.Get(m.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery status = %d, want 200", resp.StatusCode)
	}
	var doc struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil {
		t.Fatalf("decode discovery %s: %v", body, err)
	}
	if doc.Issuer != m.Issuer() {
		t.Errorf("issuer = %q, want %q", doc.Issuer, m.Issuer())
	}
	if doc.TokenEndpoint != m.TokenEndpoint() || doc.AuthorizationEndpoint != m.AuthorizationEndpoint() || doc.JWKSURI != m.JWKSEndpoint() {
		t.Errorf("discovery endpoints = %+v, want the server's", doc)
	}
}

func TestPostgresDatabasesAreSeparate(t *testing.T) {
	pg := Postgres(t)
	ctx := context.Background()
	a, b := pg.NewDatabase(t), pg.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatalf("connect %s: %v", a, err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE t (x INT)`); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatalf("connect %s: %v", b, err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 't'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a table made in one database shows in the other: %d tables named t", n)
	}
	var version int
	if err := cb.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 150000 {
		t.Fatalf("server_version_num = %d, want PostgreSQL 15 or later", version)
	}
	wrong := strings.Replace(a, pg.password, "wrong-password", 1)
	if c, err := pgx.Connect(ctx, wrong); err == nil {
		c.Close(ctx)
		t.Fatal("connected with a wrong password; the cluster must require its password")
	}
}
