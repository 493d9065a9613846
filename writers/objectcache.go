package writers

import (
	"container/list"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
)

// objectOverhead is what the heap holds for a cached object beyond its
// content: the object, its content slice's spare capacity, the LRU's list
// element and its map entry (measured: a re-assert of 200 stores filled go-git's
// LRU, which counts content alone, with 96 MiB of small trees in ~330 MB of
// heap).
const objectOverhead = 320

// chargedLRU is an object cache (go-git's cache.Object) bounded by what its
// objects cost the heap, not their content alone: Git trees are a hundred
// bytes or so, and an LRU that counts their content holds three times its
// budget. Safe for concurrent use.
type chargedLRU struct {
	max int64

	mu    sync.Mutex
	used  int64
	ll    *list.List // front: most recently used
	items map[plumbing.Hash]*list.Element
}

func newChargedLRU(max int64) *chargedLRU {
	return &chargedLRU{max: max, ll: list.New(), items: map[plumbing.Hash]*list.Element{}}
}

func charge(o plumbing.EncodedObject) int64 { return o.Size() + o.Size()/2 + objectOverhead }

// Put keeps o, evicting the least recently used objects past the budget; an
// object larger than the whole budget is not kept.
func (c *chargedLRU) Put(o plumbing.EncodedObject) {
	n := charge(o)
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[o.Hash()]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[o.Hash()] = c.ll.PushFront(o)
	c.used += n
	for c.used > c.max {
		last := c.ll.Back()
		old := last.Value.(plumbing.EncodedObject)
		c.ll.Remove(last)
		delete(c.items, old.Hash())
		c.used -= charge(old)
	}
}

// Get returns the object of hash k, if kept.
func (c *chargedLRU) Get(k plumbing.Hash) (plumbing.EncodedObject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(plumbing.EncodedObject), true
}

// Clear drops every object.
func (c *chargedLRU) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.items)
	c.used = 0
}

// sweepObjects is the budget of the object cache a full rewrite of one store
// reads through (Git.sweep): all the trees of a store of 5,000 placements
// (~2.5 MB) several times over.
const sweepObjects = 16 << 20

// cloneCache is the object cache a clone's storage reads through: the
// process's shared cloneObjects, or during a full rewrite of its store
// (Git.sweep) one of that write's own, dropped when it ends. A re-assert reads
// every tree of every store once; through the shared cache it left the 64 MiB
// full of the last stores' trees, which no write came back for, and with the
// indexes of the clones it opened the heap stayed at 100 – 150 MB after it, and
// the accept path slower, until the process restarted (swbench -restart-after).
type cloneCache struct {
	own atomic.Pointer[chargedLRU] // nil: cloneObjects
}

func (c *cloneCache) target() cache.Object {
	if o := c.own.Load(); o != nil {
		return o
	}
	return cloneObjects
}

func (c *cloneCache) Put(o plumbing.EncodedObject)                       { c.target().Put(o) }
func (c *cloneCache) Get(k plumbing.Hash) (plumbing.EncodedObject, bool) { return c.target().Get(k) }
func (c *cloneCache) Clear()                                             { c.target().Clear() }
