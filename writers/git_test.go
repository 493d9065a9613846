package writers

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/testpeers"
)

const (
	testGitUser     = "alice"
	testGitPassword = "s3cret-Passw0rd"
)

// gitPeer starts a smart-HTTP Git server with basic auth.
func gitPeer(t testing.TB, empty bool) *testpeers.GitServer {
	t.Helper()
	return testpeers.GitHTTP(t, testpeers.GitOptions{Username: testGitUser, Password: testGitPassword, Empty: empty})
}

// newTestGit returns a Git for srv with a fresh cache; mod may adjust the config.
func newTestGit(t testing.TB, srv *testpeers.GitServer, mod func(*GitConfig)) *Git {
	t.Helper()
	cfg := GitConfig{
		URL: srv.URL(), Branch: srv.Branch(), AuthMethod: GitAuthBasic,
		Username: testGitUser, Password: testGitPassword + "\n", // pasted with a newline
		AuthorName: "Stateward Test", AuthorEmail: "sw@example.com",
		CacheDir: t.TempDir(),
		Now:      func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	if mod != nil {
		mod(&cfg)
	}
	g, err := NewGit(cfg)
	if err != nil {
		t.Fatalf("NewGit: %v", err)
	}
	return g
}

// apply runs g.Apply and fails the test on error.
func apply(t testing.TB, g *Git, b Batch) Result {
	t.Helper()
	res, err := g.Apply(context.Background(), b)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// puts builds a Batch that puts key → content pairs.
func puts(msg string, kv ...string) Batch {
	b := Batch{Message: msg}
	for i := 0; i+1 < len(kv); i += 2 {
		b.Puts = append(b.Puts, File{Key: kv[i], Content: []byte(kv[i+1])})
	}
	return b
}

// wantFiles compares the files on the server's branch with want.
func wantFiles(t testing.TB, srv *testpeers.GitServer, want map[string]string) {
	t.Helper()
	got := srv.Files(t, srv.Branch())
	if !maps.Equal(got, want) {
		t.Errorf("files on branch:\n got %v\nwant %v", got, want)
	}
}

func TestGitApplyIntoEmptyRepo(t *testing.T) {
	srv := gitPeer(t, true)
	g := newTestGit(t, srv, nil)
	res := apply(t, g, puts("Update from: first", "s/d/a.yaml", "a", "s/d/deep/er/b.yaml", "b"))
	if !res.Changed || res.Puts != 2 || res.Deletes != 0 {
		t.Errorf("result = %+v, want Changed with 2 puts", res)
	}
	if head := srv.Head(t, srv.Branch()); res.Version != head {
		t.Errorf("version = %q, want head %q", res.Version, head)
	}
	wantFiles(t, srv, map[string]string{"s/d/a.yaml": "a", "s/d/deep/er/b.yaml": "b"})
	if n := srv.CommitCount(t, srv.Branch()); n != 1 {
		t.Errorf("commit count = %d, want 1", n)
	}
	c := srv.LastCommit(t, srv.Branch())
	if c.AuthorName != "Stateward Test" || c.AuthorEmail != "sw@example.com" || c.Message != "Update from: first" {
		t.Errorf("commit = %+v, want author Stateward Test <sw@example.com> and the batch message", c)
	}
}

func TestGitApplyOntoExistingBranch(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "s/d/x/y/z.yaml", "z"))
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "s/d/x/y/z.yaml": "z"})
	if n := srv.CommitCount(t, srv.Branch()); n != 2 {
		t.Errorf("commit count = %d, want 2", n)
	}
}

func TestGitApplyDeletePrefixRemovesStaleFiles(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "s/w/1.yaml", "1", "s/w/2.yaml", "2", "s/w/sub/3.yaml", "3", "s/other/keep.yaml", "k"))
	b := puts("two", "s/w/1.yaml", "1 changed", "s/w/new/4.yaml", "4")
	b.DeletePrefixes = []string{"s/w/"}
	res := apply(t, g, b)
	if res.Puts != 2 || res.Deletes != 2 {
		t.Errorf("result = %+v, want 2 puts and 2 deletes", res)
	}
	wantFiles(t, srv, map[string]string{
		testpeers.InitialFile: testpeers.InitialContent,
		"s/w/1.yaml":          "1 changed", "s/w/new/4.yaml": "4", "s/other/keep.yaml": "k",
	})
	// Owning a prefix with nothing to put removes the whole directory.
	apply(t, g, Batch{DeletePrefixes: []string{"s/w/"}, Message: "delete"})
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "s/other/keep.yaml": "k"})
}

func TestGitApplyExactDeletes(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "a/1", "1", "a/2", "2", "b/3", "3"))
	res := apply(t, g, Batch{Deletes: []string{"a/1", "b/3", "missing/key"}, Message: "del"})
	if res.Deletes != 2 {
		t.Errorf("deletes = %d, want 2", res.Deletes)
	}
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "a/2": "2"})
}

func TestGitApplyReplacesFileAndDirectory(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "x/f", "file", "y/d/1", "1", "y/d/2", "2"))
	res := apply(t, g, puts("two", "x/f/inner", "now a dir", "y/d", "now a file"))
	if res.Puts != 2 || res.Deletes != 3 {
		t.Errorf("result = %+v, want 2 puts and 3 deletes", res)
	}
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "x/f/inner": "now a dir", "y/d": "now a file"})
}

func TestGitApplySameContentMakesNoCommit(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	b := puts("one", "s/d/a", "a", "s/d/b/c", "c")
	b.DeletePrefixes = []string{"s/d/"}
	first := apply(t, g, b)
	count := srv.CommitCount(t, srv.Branch())
	again := apply(t, g, b)
	if again.Changed || again.Puts != 0 || again.Deletes != 0 || again.Version != first.Version {
		t.Errorf("re-apply = %+v, want unchanged at %s", again, first.Version)
	}
	if n := srv.CommitCount(t, srv.Branch()); n != count {
		t.Errorf("commit count = %d after re-apply, want %d", n, count)
	}
	// A fresh cache (a restarted process) sees the same.
	if res := apply(t, newTestGit(t, srv, nil), b); res.Changed {
		t.Errorf("re-apply from a new cache = %+v, want unchanged", res)
	}
}

func TestGitApplyRebasesOntoOutsideCommit(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "ours/a", "1"))
	srv.PushOutside(t, "theirs/x", "foreign")
	res := apply(t, g, puts("two", "ours/a", "2"))
	if !res.Changed {
		t.Fatalf("result = %+v, want changed", res)
	}
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "ours/a": "2", "theirs/x": "foreign"})
	if n := srv.CommitCount(t, srv.Branch()); n != 4 {
		t.Errorf("commit count = %d, want 4 (initial, ours, theirs, ours)", n)
	}
}

func TestGitApplyConcurrentCallsAreSerialised(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	const n = 6
	want := map[string]string{testpeers.InitialFile: testpeers.InitialContent}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		key, content := fmt.Sprintf("s/d%d/f.yaml", i), fmt.Sprintf("content %d", i)
		want[key] = content
		wg.Go(func() {
			if _, err := g.Apply(context.Background(), puts("c", key, content)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Apply: %v", err)
	}
	wantFiles(t, srv, want)
	if got := srv.CommitCount(t, srv.Branch()); got != n+1 {
		t.Errorf("commit count = %d, want %d", got, n+1)
	}
}

func TestGitReadReturnsFilesUnderPrefix(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "s/a/1", "1", "s/a/b/2", "2", "s/c/3", "3"))
	got, err := g.Read(context.Background(), "s/a/")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := map[string][]byte{"s/a/1": []byte("1"), "s/a/b/2": []byte("2")}; !maps.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("Read = %q, want %q", got, want)
	}
	if got, err := g.Read(context.Background(), "nothing/here/"); err != nil || len(got) != 0 {
		t.Errorf("Read of a missing prefix = %v, %v; want empty", got, err)
	}
}

func TestGitCheck(t *testing.T) {
	srv := gitPeer(t, false)
	if err := newTestGit(t, srv, nil).Check(context.Background()); err != nil {
		t.Errorf("Check on a ready store: %v", err)
	}
	empty := gitPeer(t, true)
	if err := newTestGit(t, empty, nil).Check(context.Background()); err != nil {
		t.Errorf("Check on an empty repository: %v", err)
	}
	err := newTestGit(t, srv, func(c *GitConfig) { c.Branch = "nope" }).Check(context.Background())
	if want := `branch "nope" not found in ` + srv.URL(); err == nil || err.Error() != want {
		t.Errorf("Check on a missing branch = %v, want %q", err, want)
	}
	if n := srv.CommitCount(t, srv.Branch()); n != 1 {
		t.Errorf("commit count after checks = %d, want 1 (no trace)", n)
	}
}

func TestGitApplyToMissingBranchFails(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) { c.Branch = "typo" })
	_, err := g.Apply(context.Background(), puts("one", "a", "1"))
	if err == nil || !strings.Contains(err.Error(), `branch "typo" not found`) {
		t.Errorf("Apply to a missing branch = %v, want branch not found", err)
	}
}

// TestGitCacheCompactionKeepsTheLargestPack: compaction merges the small packs
// (recent pushes) into one and leaves the largest (the history) as it is, so its
// cost does not grow with the repository; git fsck finds the cache whole after.
func TestGitCacheCompactionKeepsTheLargestPack(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	var big []string
	for i := range 200 {
		big = append(big, fmt.Sprintf("big/%03d", i), fmt.Sprint(i))
	}
	apply(t, g, puts("big", big...))
	packs, err := g.cache.st.ObjectPacks()
	if err != nil {
		t.Fatal(err)
	}
	var largest plumbing.Hash
	most := -1
	for _, h := range packs {
		objects, err := g.cache.packObjects(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(objects) > most {
			largest, most = h, len(objects)
		}
	}
	g.cache.maxPacks = 3
	for i := range 6 {
		apply(t, g, puts("small", fmt.Sprintf("small/%d", i), fmt.Sprint(i)))
	}
	// Eight packs without compaction; at most maxPacks, plus the last push.
	if packs, err = g.cache.st.ObjectPacks(); err != nil || len(packs) > 4 {
		t.Errorf("cache holds %d packs (%v), want at most 4 with compaction", len(packs), err)
	}
	if !slices.Contains(packs, largest) {
		t.Errorf("the largest pack %s (%d objects) was rewritten; packs now %v", largest, most, packs)
	}
	if got, err := g.Read(context.Background(), ""); err != nil || len(got) != 1+200+6 {
		t.Errorf("Read after compaction = %d files, %v; want %d", len(got), err, 1+200+6)
	}
	if out, err := exec.Command("git", "--git-dir", g.cfg.CacheDir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Errorf("git fsck of the cache: %v\n%s", err, out)
	}
}

func TestGitCacheCompactsPacks(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "a/1", "1"))
	g.cache.maxPacks = 2
	for i := range 3 {
		apply(t, g, puts("more", "a/1", fmt.Sprint(i), fmt.Sprintf("b/%d", i), "x"))
	}
	packs, err := g.cache.st.ObjectPacks()
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) > 3 {
		t.Errorf("cache holds %d packs, want at most 3 after compaction", len(packs))
	}
	if res := apply(t, g, puts("more", "a/1", "2", "b/2", "x")); res.Changed {
		t.Errorf("re-apply after compaction = %+v, want unchanged", res)
	}
	got, err := g.Read(context.Background(), "")
	if err != nil || len(got) != 5 {
		t.Errorf("Read after compaction = %d files, %v; want 5", len(got), err)
	}
}

// TestGitCacheKeepsEveryPackOpen: reading a clone of many packs (up to
// maxPacks between compactions) opens each pack once, not once per object
// read; with fewer descriptors than packs go-git closes and reopens them in
// turn.
func TestGitCacheKeepsEveryPackOpen(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	for i := range 30 {
		apply(t, g, puts(fmt.Sprintf("w%d", i), fmt.Sprintf("d%02d/f", i), fmt.Sprint(i)))
	}
	packs, err := g.cache.st.ObjectPacks()
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) < 30 {
		t.Fatalf("%d packs, want a pack per push (30 and more)", len(packs))
	}
	before := packOpens.Load()
	for range 3 {
		if got, err := g.Read(context.Background(), ""); err != nil || len(got) != 1+30 {
			t.Fatalf("Read = %d files, %v; want %d", len(got), err, 1+30)
		}
	}
	if opened := packOpens.Load() - before; opened > int64(len(packs)) {
		t.Errorf("three reads of %d packs opened packfiles %d times, want each at most once", len(packs), opened)
	}
}
