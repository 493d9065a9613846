package writers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// bareRepo creates an empty bare repository with the git binary, as a user following
// the README would.
func bareRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gitops.git")
	if out, err := exec.Command("git", "init", "--bare", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v: %s", err, out)
	}
	return dir
}

// gitOut runs git in dir and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestGitFileURLWritesIntoBareRepository: a file:// store (the local default's way to
// try Stateward without a Git server) is checked, written and read like a remote one,
// and the git binary sees the commit.
func TestGitFileURLWritesIntoBareRepository(t *testing.T) {
	dir := bareRepo(t)
	g, err := NewGit(GitConfig{URL: "file://" + dir, AuthMethod: GitAuthNone, CacheDir: t.TempDir(), LocalRepos: &tenants.LocalRepos{}})
	if err != nil {
		t.Fatalf("NewGit: %v", err)
	}
	ctx := context.Background()
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check of an empty bare repository: %v", err)
	}
	res := apply(t, g, puts("Update from: first", "d/a.yaml", "a"))
	if !res.Changed || res.Version == "" {
		t.Fatalf("result = %+v, want a commit", res)
	}
	if head := gitOut(t, dir, "rev-parse", "refs/heads/main"); head != res.Version {
		t.Errorf("main = %s, want the written commit %s", head, res.Version)
	}
	if got := gitOut(t, dir, "show", "main:d/a.yaml"); got != "a" {
		t.Errorf("d/a.yaml = %q, want a", got)
	}
	if got := gitOut(t, dir, "log", "-1", "--format=%an <%ae>"); got != "stateward <stateward@localhost>" {
		t.Errorf("author = %q, want the default stateward <stateward@localhost>", got)
	}
	// A second write on top of the first.
	apply(t, g, puts("two", "d/b.yaml", "b"))
	if n := gitOut(t, dir, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("commits = %s, want 2", n)
	}
}

func TestGitFileURLRefusals(t *testing.T) {
	dir := bareRepo(t)
	for name, cfg := range map[string]GitConfig{
		"not a repository": {URL: "file://" + t.TempDir()},
		"relative path":    {URL: "file://relative/repo.git"},
		"with a password":  {URL: "file://" + dir, Password: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.CacheDir, cfg.LocalRepos = t.TempDir(), &tenants.LocalRepos{}
			if _, err := NewGit(cfg); err == nil {
				t.Errorf("NewGit(%q) succeeded, want an error", cfg.URL)
			}
		})
	}
}

// TestGitLocalSpellingsRefusedBeforeAnyDial: the writers classify a URL with the
// parser that dials it, so no spelling of a local path reaches go-git's in-process
// file server without the local default's policy, nor, with it, in any spelling but
// file:///absolute/path.
func TestGitLocalSpellingsRefusedBeforeAnyDial(t *testing.T) {
	dir := bareRepo(t)
	spellings := []string{
		"/x@localhost:y/../.." + dir, "/x@127.0.0.1:y/../.." + dir, dir, dir + "/", "file:" + dir,
		"file://localhost" + dir, "FILE://" + dir, "file://" + dir + "/../" + filepath.Base(dir),
	}
	for _, raw := range spellings {
		for _, policy := range []*tenants.LocalRepos{nil, {}} {
			if _, err := NewGit(GitConfig{URL: raw, AuthMethod: GitAuthNone, CacheDir: t.TempDir(), LocalRepos: policy}); err == nil {
				t.Errorf("NewGit(%q, policy %v) accepted it", raw, policy)
			}
			f := Factory{CacheDir: t.TempDir(), LocalRepos: policy}
			if _, err := f.GitBackend(tenants.GitStateStore{URL: raw, AuthMethod: tenants.AuthNone, Branch: "main"}); err == nil {
				t.Errorf("Factory.GitBackend(%q, policy %v) accepted it", raw, policy)
			}
		}
	}
	if _, err := NewGit(GitConfig{URL: "file://" + dir, AuthMethod: GitAuthNone, CacheDir: t.TempDir()}); err == nil {
		t.Errorf("NewGit without LocalRepos accepted file://%s", dir)
	}
}

// TestGitFileURLCheckedAgainBeforeEachSession: a file:// store whose path becomes a
// symbolic link into the server's own files after it was accepted is refused when
// the writer next dials, and the protected repository is left alone.
func TestGitFileURLCheckedAgainBeforeEachSession(t *testing.T) {
	data := t.TempDir()
	inside := filepath.Join(data, "git", "1", "git-2.git")
	if out, err := exec.Command("git", "init", "--bare", "-q", "-b", "main", inside).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v: %s", err, out)
	}
	dir := bareRepo(t)
	policy := &tenants.LocalRepos{Protected: []string{data}}
	g, err := NewGit(GitConfig{URL: "file://" + dir, AuthMethod: GitAuthNone, CacheDir: t.TempDir(), LocalRepos: policy})
	if err != nil {
		t.Fatalf("NewGit: %v", err)
	}
	ctx := context.Background()
	if err := g.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(inside, dir); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx); err == nil || !strings.Contains(err.Error(), "server's own files") {
		t.Errorf("Check through a link into the data dir: %v, want a refusal", err)
	}
	if _, err := g.Apply(ctx, puts("into the data dir", "d/a.yaml", "a")); err == nil {
		t.Errorf("Apply through a link into the data dir succeeded")
	}
	if out, err := exec.Command("git", "-C", inside, "rev-parse", "--verify", "-q", "refs/heads/main").CombinedOutput(); err == nil {
		t.Errorf("the protected repository got a branch: %s", out)
	}
}

// TestStoreWriteErrorFollowsTheLatestFailure: a file:// store whose bare repository
// is moved away after a successful write fails first at the push (the cached
// clone) and then when the clone is opened again; the store's write error is the
// latest failure's message, the one its placement shows, not the first push's.
func TestStoreWriteErrorFollowsTheLatestFailure(t *testing.T) {
	dir := bareRepo(t)
	e := newEngine(t)
	s := tenants.GitStateStore{TenantID: e.tenant, Name: "local", URL: "file://" + dir, Branch: "main", AuthMethod: tenants.AuthNone}
	s.Normalize()
	if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
	e.destination(t, tenants.Destination{Name: "prod", Path: "prod", Labels: map[string]string{"env": "prod"},
		StoreKind: tenants.KindGit, StoreName: "local"})
	e.start(t, func(r *Runner) { r.Factory.LocalRepos = &tenants.LocalRepos{} })
	e.submit(t, work("a", map[string]string{"env": "prod"}, "a.yaml", "a"))
	e.drain(t, time.Minute)

	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	id := e.submit(t, work("b", map[string]string{"env": "prod"}, "b.yaml", "b")).Work
	ctx := context.Background()
	testpeers.WaitFor(t, time.Minute, func() (bool, string) {
		p := e.placement(t, id)
		if !strings.Contains(p.Error, "no bare repository there") {
			// Retry at once rather than after the backoff.
			if _, err := e.db.RetryStore(ctx, e.tenant, tenants.KindGit, "local"); err != nil {
				return false, err.Error()
			}
			e.runner.Wake()
			return false, fmt.Sprintf("placement %s %q, want the reopened clone's failure", p.State, p.Error)
		}
		st, err := e.db.GitStore(ctx, e.tenant, "local")
		if err != nil {
			return false, err.Error()
		}
		return st.Status.WriteError == p.Error, fmt.Sprintf("store write error %q, placement's %q", st.Status.WriteError, p.Error)
	})
}
