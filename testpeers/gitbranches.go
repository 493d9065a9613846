package testpeers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outsideAuthor is the environment of a commit made by OutsideAuthorName.
func outsideAuthor() []string {
	return []string{
		"GIT_AUTHOR_NAME=" + OutsideAuthorName, "GIT_AUTHOR_EMAIL=" + OutsideAuthorEmail,
		"GIT_COMMITTER_NAME=" + OutsideAuthorName, "GIT_COMMITTER_EMAIL=" + OutsideAuthorEmail,
	}
}

// outsideClone clones the repository from Dir (bypassing HTTP, auth and
// SetDown) and checks out branch.
func (s *GitServer) outsideClone(t testing.TB, branch string) string {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "outside")
	if _, err := runGit("", nil, "clone", "--quiet", "--no-single-branch", s.dir, wt); err != nil {
		t.Fatalf("clone: %v", err)
	}
	if _, err := runGit(wt, nil, "checkout", "--quiet", branch); err != nil {
		t.Fatalf("checkout %s: %v", branch, err)
	}
	return wt
}

// CommitOutside is PushOutside on another branch, which must exist: someone
// else's commit of content at path on branch.
func (s *GitServer) CommitOutside(t testing.TB, branch, path, content string) {
	t.Helper()
	wt := s.outsideClone(t, branch)
	file := filepath.Join(wt, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"add", "--all"},
		{"commit", "--quiet", "-m", "Outside change to " + path},
		{"push", "--quiet", "origin", "HEAD:refs/heads/" + branch},
	} {
		if _, err := runGit(wt, outsideAuthor(), args...); err != nil {
			t.Fatalf("CommitOutside: %v", err)
		}
	}
}

// MergeOutside merges branch from into branch into as OutsideAuthorName would
// on a host: a merge commit (--no-ff), or with squash one commit with the same
// changes; it returns the new tip of into.
func (s *GitServer) MergeOutside(t testing.TB, from, into string, squash bool) string {
	t.Helper()
	wt := s.outsideClone(t, into)
	steps := [][]string{{"merge", "--quiet", "--no-ff", "-m", "Merge " + from, "origin/" + from}}
	if squash {
		steps = [][]string{{"merge", "--quiet", "--squash", "origin/" + from}, {"commit", "--quiet", "-m", "Squash " + from}}
	}
	steps = append(steps, []string{"push", "--quiet", "origin", "HEAD:refs/heads/" + into})
	for _, args := range steps {
		if _, err := runGit(wt, outsideAuthor(), args...); err != nil {
			t.Fatalf("MergeOutside: %v", err)
		}
	}
	out, err := runGit(wt, nil, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// IsAncestor reports whether commit a is an ancestor of (or is) commit b.
func (s *GitServer) IsAncestor(t testing.TB, a, b string) bool {
	t.Helper()
	_, err := runGit(s.dir, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}
