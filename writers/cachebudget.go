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
	if r.cache.max.Load() <= 0 || dir == "" {
		return
	}
	b := &r.cache
	b.mu.Lock()
	b.size[dir] = dirSize(dir)
	b.used[dir] = r.clock.Now()
	b.mu.Unlock()
	r.evictOver(dir)
}

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
		if g.cache != nil {
			_ = g.cache.st.Close()
			g.cache = nil
		}
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
