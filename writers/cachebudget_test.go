package writers

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// threeStores gives e three Git stores a, b and c, each on a remote of its
// own, with a Destination d-<name> labelled store=<name>.
func threeStores(t *testing.T, e *engine) []*testpeers.GitServer {
	t.Helper()
	var srvs []*testpeers.GitServer
	for _, name := range []string{"a", "b", "c"} {
		srv := gitPeer(t, false)
		srvs = append(srvs, srv)
		e.gitStore(t, srv, name, "")
		e.destination(t, tenants.Destination{Name: "d-" + name, Labels: map[string]string{"store": name}, Path: "d",
			StoreKind: tenants.KindGit, StoreName: name})
	}
	return srvs
}

// branchHas reports whether srv's branch holds a file whose key ends in
// suffix with content.
func branchHas(t *testing.T, srv *testpeers.GitServer, suffix, content string) bool {
	t.Helper()
	for k, v := range srv.Files(t, srv.Branch()) {
		if strings.HasSuffix(k, suffix) && v == content {
			return true
		}
	}
	return false
}

// TestCloneCacheBudget: with CacheMax below what three stores' clones take,
// the least recently written clone is removed after a write, and a later
// write to its store fetches it again and succeeds; the clone just written is
// never the one removed.
func TestCloneCacheBudget(t *testing.T) {
	e := newEngine(t)
	rnd := make([]byte, 192<<10)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(rnd)
	big := base64.StdEncoding.EncodeToString(rnd) // 256 KiB that does not compress
	srvs := threeStores(t, e)
	// Measure one clone first: the budget holds two of them, not three.
	e.start(t, func(r *Runner) { r.CacheMax = 1 << 40 })
	e.submit(t, work("w-a", map[string]string{"store": "a"}, "f.yaml", big+"a"))
	e.drain(t, time.Minute)
	one := dirSize(e.runner.cloneDir(tenants.StoreRef{TenantID: e.tenant, Kind: tenants.KindGit, Name: "a"}))
	if one < 100<<10 {
		t.Fatalf("a clone of %d bytes", one)
	}
	e.runner.cache.max.Store(one*2 + one/2)
	evictions := func(n int64) {
		t.Helper()
		testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
			got := e.runner.CacheEvictions()
			return got == n, fmt.Sprintf("%d evictions, want %d", got, n)
		})
	}
	e.submit(t, work("w-b", map[string]string{"store": "b"}, "f.yaml", big+"b"))
	e.drain(t, time.Minute)
	e.submit(t, work("w-c", map[string]string{"store": "c"}, "f.yaml", big+"c"))
	e.drain(t, time.Minute)
	evictions(1)
	dirOf := func(name string) string {
		return filepath.Join(e.cacheDir, itoa(e.tenant), "git-"+itoa(e.storeID(t, name)))
	}
	if _, err := os.Stat(dirOf("a")); !os.IsNotExist(err) {
		t.Fatalf("the least recently written clone (a) is still there: %v", err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := os.Stat(dirOf(name)); err != nil {
			t.Fatalf("clone %s removed: %v", name, err)
		}
	}
	// Store a is written again: its clone is fetched anew; now b goes.
	e.submit(t, work("w-a2", map[string]string{"store": "a"}, "g.yaml", "small"))
	e.drain(t, time.Minute)
	evictions(2)
	if !branchHas(t, srvs[0], "/g.yaml", "small") {
		t.Fatal("store a's second Work is not on its branch after its clone was removed")
	}
	if _, err := os.Stat(dirOf("b")); !os.IsNotExist(err) {
		t.Fatalf("clone b not removed after a's re-fetch: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// storeID is the id of Git store name.
func (e *engine) storeID(t *testing.T, name string) int64 {
	t.Helper()
	s, err := e.db.GitStore(context.Background(), e.tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// BenchmarkCloneRefetch is what the clone cache budget costs a store whose clone
// was removed: its next write fetches the whole branch again. "warm" is a
// one-file write to a repository of 1,000 placements with its clone on disk;
// "evicted" the same write after the clone was removed (fetch, then commit and
// push). The eviction itself (closing and removing the clone) is "evict".
func BenchmarkCloneRefetch(b *testing.B) {
	srv := gitPeer(b, false)
	g := newTestGit(b, srv, nil)
	ctx := context.Background()
	if _, err := g.Apply(ctx, placements1000("base")); err != nil {
		b.Fatal(err)
	}
	i := 0
	one := func() Batch {
		i++
		return Batch{Message: "one", Puts: []File{{Key: "extra/one.yaml", Content: fmt.Appendf(nil, "n: %d\n", i)}}}
	}
	evict := func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.cache != nil {
			_ = g.cache.st.Close()
			g.cache = nil
		}
		if err := os.RemoveAll(g.cfg.CacheDir); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			if _, err := g.Apply(ctx, one()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("evicted", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			evict()
			b.StartTimer()
			if _, err := g.Apply(ctx, one()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("evict", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if _, err := g.Apply(ctx, one()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			evict()
		}
	})
}

// TestIdleClonesAreClosed: with MaxOpenClones 1, writing three stores in turn
// closes the clones written before (their pack indexes leave memory) but keeps
// them on disk, and a later write to a closed store opens its clone again and
// lands on its branch.
func TestIdleClonesAreClosed(t *testing.T) {
	e := newEngine(t)
	srvs := threeStores(t, e)
	e.start(t, func(r *Runner) { r.MaxOpenClones = 1 })
	closed := func(n int64) {
		t.Helper()
		testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
			got := e.runner.ClonesClosed()
			return got == n, fmt.Sprintf("%d clones closed, want %d", got, n)
		})
	}
	open := func() (n int) {
		e.runner.mu.Lock()
		defer e.runner.mu.Unlock()
		for _, c := range e.runner.backends {
			if g, ok := c.backend.(*Git); ok && g.isOpen() {
				n++
			}
		}
		return n
	}
	for i, name := range []string{"a", "b", "c"} {
		e.submit(t, work("w-"+name, map[string]string{"store": name}, "f.yaml", name))
		e.drain(t, time.Minute)
		closed(int64(i))
		if n := open(); n > 1 {
			t.Errorf("after writing %s: %d clones open, want at most 1", name, n)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(e.cacheDir, itoa(e.tenant), "git-"+itoa(e.storeID(t, name)))); err != nil {
			t.Errorf("clone %s is not on disk: %v", name, err)
		}
	}
	e.submit(t, work("w-a2", map[string]string{"store": "a"}, "g.yaml", "again"))
	e.drain(t, time.Minute)
	closed(3)
	if !branchHas(t, srvs[0], "/g.yaml", "again") {
		t.Fatal("store a's second Work is not on its branch after its clone was closed")
	}
	if e.runner.CacheEvictions() != 0 {
		t.Errorf("%d clones removed from disk; closing must not remove any", e.runner.CacheEvictions())
	}
}
