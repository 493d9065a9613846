package writers

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/cache"
)

// TestClonesShareOneBoundedObjectCache: the objects the Git clones of many
// stores read stay within one budget for the whole process, not one budget per
// clone. Each clone had its own 96 MiB cache and the Runner keeps every store's
// clone open, so the heap grew with the number of stores (cmd/swbench: after a
// re-assert of 200 stores the clones' caches were more than a third of the heap
// in use). Here the budget is 2 MiB and eight stores each read 4 MiB of files
// through their clone, all kept open: what stays in use must be about one
// budget, not eight stores' worth.
func TestClonesShareOneBoundedObjectCache(t *testing.T) {
	saved := cloneObjects
	cloneObjects = cache.NewObjectLRU(2 * cache.MiByte)
	t.Cleanup(func() { cloneObjects = saved })

	const stores, files, size = 8, 512, 8 << 10
	var gits []*Git
	for s := range stores {
		g := newTestGit(t, gitPeer(t, true), nil)
		b := Batch{Message: "files"}
		for i := range files {
			content := make([]byte, size)
			_, _ = rand.Read(content) // incompressible: a blob is as large in memory as on disk
			b.Puts = append(b.Puts, File{Key: fmt.Sprintf("s%d/f%04d", s, i), Content: content})
		}
		apply(t, g, b)
		gits = append(gits, g)
	}
	before := heapInUse()
	for s, g := range gits {
		got, err := g.Read(context.Background(), fmt.Sprintf("s%d/", s))
		if err != nil || len(got) != files {
			t.Fatalf("read store %d: %d files, %v", s, len(got), err)
		}
	}
	grew := heapInUse() - before
	runtime.KeepAlive(gits)
	if grew > 12<<20 {
		t.Errorf("heap in use grew by %d MiB after %d stores read %d MiB each through their clones; "+
			"want about the shared 2 MiB budget, not one cache per clone", grew>>20, stores, files*size>>20)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
