package writers

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/tenants"
)

// TestCloseIdleSkipsClonesInUse: with clones in use (their lock held by a
// write) among the least recently written, closeIdle passes over them and
// closes the next idle ones until the bound holds, never touching a clone in
// use.
func TestCloseIdleSkipsClonesInUse(t *testing.T) {
	r := &Runner{MaxOpenClones: 1}
	r.init()
	var gits []*Git
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		c, err := openGitCache(dir, plumbing.NewBranchReferenceName("main"), "file:///x\nmain\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		g := &Git{cfg: GitConfig{CacheDir: dir}, cache: c}
		t.Cleanup(func() { _ = g.Close() })
		gits = append(gits, g)
		r.backends[tenants.StoreRef{Kind: tenants.KindGit, Name: fmt.Sprint(i)}] = cachedBackend{backend: g}
		r.cache.used[dir] = base.Add(time.Duration(i) * time.Minute) // 0 written first
	}
	func() {
		gits[0].mu.Lock() // the two least recently written are in use
		gits[1].mu.Lock()
		defer gits[0].mu.Unlock()
		defer gits[1].mu.Unlock()
		r.closeIdle(gits[4].cfg.CacheDir)
	}()
	for i, g := range gits {
		open := g.cache != nil
		if want := i <= 1 || i == 4; open != want {
			t.Errorf("clone %d open: %v, want %v", i, open, want)
		}
	}
	if n := r.ClonesClosed(); n != 2 {
		t.Errorf("%d clones closed, want 2", n)
	}
}
