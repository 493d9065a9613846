package writers

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
)

func smallObject(i int) plumbing.EncodedObject {
	o := &plumbing.MemoryObject{}
	o.SetType(plumbing.TreeObject)
	_, _ = o.Write(fmt.Appendf(nil, "100644 file-%d.yaml\x00%020d", i, i)) // a tree's size
	return o
}

// TestChargedLRUBoundsTheHeap: 200,000 objects the size of a small tree put
// in a cache of 4 MiB keep the heap within about 4 MiB, where go-git's LRU,
// which counts their content alone, holds three to four times its budget.
func TestChargedLRUBoundsTheHeap(t *testing.T) {
	const budget = 4 << 20
	grew := func(c cache.Object) int64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range 200_000 {
			c.Put(smallObject(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		return int64(after.HeapAlloc) - int64(before.HeapAlloc)
	}
	lru := grew(cache.NewObjectLRU(budget))
	charged := grew(newChargedLRU(budget))
	t.Logf("heap grew by %.1f MiB with go-git's LRU, %.1f MiB with the charged one (budget 4 MiB)", float64(lru)/(1<<20), float64(charged)/(1<<20))
	if charged > budget*5/4 {
		t.Errorf("the charged cache grew the heap by %d bytes, over its budget of %d", charged, budget)
	}
	if lru < budget*2 {
		t.Errorf("go-git's LRU grew the heap by %d bytes only: the comparison no longer shows the overhead", lru)
	}
}

// TestChargedLRUKeepsTheRecent: Get finds what was put, moves it to the
// front, and the least recently used goes first.
func TestChargedLRUKeepsTheRecent(t *testing.T) {
	a, b, c := smallObject(1), smallObject(2), smallObject(3)
	lru := newChargedLRU(2 * charge(a))
	lru.Put(a)
	lru.Put(b)
	if _, ok := lru.Get(a.Hash()); !ok { // a is now the most recent
		t.Fatal("a not kept")
	}
	lru.Put(c) // evicts b
	if _, ok := lru.Get(b.Hash()); ok {
		t.Error("b, the least recently used, was kept")
	}
	for _, o := range []plumbing.EncodedObject{a, c} {
		if got, ok := lru.Get(o.Hash()); !ok || got.Hash() != o.Hash() {
			t.Errorf("%s not kept", o.Hash())
		}
	}
	lru.Clear()
	if _, ok := lru.Get(a.Hash()); ok {
		t.Error("kept after Clear")
	}
}
