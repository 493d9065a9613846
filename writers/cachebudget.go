package writers

import (
	"cmp"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stateward/stateward/tenants"
)

// cacheBudget bounds the disk the Git clones take (Runner.CacheMax,
// STATEWARD_CACHE_MAX): when their total passes it, the clones written least
// recently are removed, and fetched again the next time their store is
// written. Sizes are measured from the files (a clone is a few packs and
// refs), once per clone at start and after each write.
type cacheBudget struct {
	max     atomic.Int64 // Runner.CacheMax
	mu      sync.Mutex
	size    map[string]int64     // clone dir → bytes
	used    map[string]time.Time // clone dir → last written
	evicted int64                // clones removed so far
	closed  atomic.Int64         // open clones closed (closeIdle)
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// noteClones records every clone directory on disk (at start: their last
// write is the directory's modification time).
func (r *Runner) noteClones(dirs []string) {
	b := &r.cache
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range dirs {
		if _, ok := b.size[d]; ok {
			continue
		}
		b.size[d] = dirSize(d)
		if fi, err := os.Stat(d); err == nil {
			b.used[d] = fi.ModTime()
		}
	}
}

// noteWrite records that the clone at dir was just written, and evicts other
// clones while the total is over the budget.
func (r *Runner) noteWrite(dir string) {
	if dir == "" {
		return
	}
	b := &r.cache
	b.mu.Lock()
	b.used[dir] = r.clock.Now()
	budget := b.max.Load() > 0
	if budget {
		b.size[dir] = dirSize(dir)
	}
	b.mu.Unlock()
	r.closeIdle(dir)
	if budget {
		r.evictOver(dir)
	}
}

// DefaultMaxOpenClones is Runner.MaxOpenClones when it is not set.
const DefaultMaxOpenClones = 16

// closeIdle closes the open clones written least recently, never keep nor one
// a write is using, while more than MaxOpenClones are open. An open clone
// holds its packs' indexes in memory (go-git reads a pack's whole index
// once, ~1.8 MB for a store of 5,000 files), and the Runner keeps a backend
// for every store it ever wrote: 200 stores held their indexes for good. A
// closed clone stays on disk and is opened again at its next write, which
// reads its indexes again (milliseconds).
func (r *Runner) closeIdle(keep string) {
	limit := r.MaxOpenClones
	if limit == 0 {
		limit = DefaultMaxOpenClones
	}
	if limit < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var open []*Git
	for _, c := range r.backends {
		if g, ok := c.backend.(*Git); ok && g.isOpen() {
			open = append(open, g)
		}
	}
	if len(open) <= limit {
		return
	}
	b := &r.cache
	b.mu.Lock()
	slices.SortFunc(open, func(x, y *Git) int {
		return cmp.Or(b.used[x.cfg.CacheDir].Compare(b.used[y.cfg.CacheDir]), cmp.Compare(x.cfg.CacheDir, y.cfg.CacheDir))
	})
	b.mu.Unlock()
	excess := len(open) - limit
	for _, g := range open {
		if excess == 0 {
			return
		}
		if g.cfg.CacheDir == keep || !g.mu.TryLock() { // in use: not idle
			continue
		}
		if g.cache != nil {
			_ = g.closeClone()
			r.cache.closed.Add(1)
		}
		g.mu.Unlock()
		excess--
	}
}

// ClonesClosed counts the open clones closed to stay within MaxOpenClones.
func (r *Runner) ClonesClosed() int64 { return r.cache.closed.Load() }

// forgetClone drops dir from the budget (its store is gone).
func (r *Runner) forgetClone(dir string) {
	b := &r.cache
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.size, dir)
	delete(b.used, dir)
}

// evictOver removes the least recently written clones, never keep nor one a
// write is using, until the total is within the budget.
func (r *Runner) evictOver(keep string) {
	b := &r.cache
	b.mu.Lock()
	var total int64
	dirs := make([]string, 0, len(b.size))
	for d, n := range b.size {
		total += n
		if d != keep {
			dirs = append(dirs, d)
		}
	}
	slices.SortFunc(dirs, func(x, y string) int { return cmp.Or(b.used[x].Compare(b.used[y]), cmp.Compare(x, y)) })
	b.mu.Unlock()
	for _, d := range dirs {
		if total <= b.max.Load() {
			return
		}
		n, ok := r.evictClone(d)
		if !ok {
			continue
		}
		b.mu.Lock()
		delete(b.size, d)
		delete(b.used, d)
		b.evicted++
		b.mu.Unlock()
		total -= n
		r.Log.Info("removed a Git clone to stay within the cache budget (it is fetched again when its store is written)",
			"dir", d, "bytes", n, "cache_max", b.max.Load())
	}
}

// evictClone removes the clone at dir unless a write is using it: with its
// backend's lock held (TryLock: a busy clone is in use, so not the least
// recently used for long), or with the runner's lock held when no backend
// has it open (a backend is only made under that lock).
func (r *Runner) evictClone(dir string) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.backends {
		g, ok := c.backend.(*Git)
		if !ok || g.cfg.CacheDir != dir {
			continue
		}
		if !g.mu.TryLock() {
			return 0, false
		}
		defer g.mu.Unlock()
		_ = g.closeClone()
		break
	}
	n := dirSize(dir)
	if err := os.RemoveAll(dir); err != nil {
		r.Log.Warn("remove a Git clone over the cache budget", "dir", dir, "err", err)
		return 0, false
	}
	return n, true
}

// CacheEvictions counts the clones removed to stay within CacheMax.
func (r *Runner) CacheEvictions() int64 {
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	return r.cache.evicted
}

// cloneDir is the clone directory of the store's open backend ("" if none).
func (r *Runner) cloneDir(ref tenants.StoreRef) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.backends[ref]; ok {
		if g, ok := c.backend.(*Git); ok {
			return g.cfg.CacheDir
		}
	}
	return ""
}
