package writers

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	g, err := NewGit(GitConfig{URL: "file://" + dir, AuthMethod: GitAuthNone, CacheDir: t.TempDir()})
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
			cfg.CacheDir = t.TempDir()
			if _, err := NewGit(cfg); err == nil {
				t.Errorf("NewGit(%q) succeeded, want an error", cfg.URL)
			}
		})
	}
}
