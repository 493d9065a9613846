package writers

import (
	"fmt"
	"testing"
	"time"
)

// TestReassertLeavesNoCloneOrObjectsBehind: a re-assert of a store whose clone
// is closed (not written lately) reads through an object cache of its own and
// closes the clone again when it is done, so neither the clone's pack indexes
// nor its trees stay in the heap. Before, the clone stayed open and its trees
// filled the process's shared object cache: at a million Works, 100 – 150 MB
// of heap that slowed the accept path until the process restarted (swbench
// -restart-after). A clone that is open when the re-assert starts (its store
// is being written) stays open, and the shared cache keeps what writes put in
// it.
func TestReassertLeavesNoCloneOrObjectsBehind(t *testing.T) {
	shared := newChargedLRU(64 << 20)
	saved := cloneObjects
	cloneObjects = shared
	t.Cleanup(func() { cloneObjects = saved }) // after the runner stops (cleanups run last first)

	e := newEngine(t)
	e.trailStore(t, gitPeer(t, false), nil)
	for i := range 20 {
		e.submit(t, work(fmt.Sprintf("w%02d", i), nil, "w.yaml", fmt.Sprintf("w: %d\n", i)))
	}
	_, reassert := startCountingTrails(t, e)
	if shared.size() == 0 || openClones(e.runner) != 1 {
		t.Fatalf("after the writes: shared cache %d bytes, %d clones open; want objects in it and the store's clone open",
			shared.size(), openClones(e.runner))
	}

	e.runner.closeAll() // as closeIdle does with a store not written lately
	shared.Clear()
	reassert()
	if n, open := shared.size(), openClones(e.runner); n != 0 || open != 0 {
		t.Errorf("after a re-assert of a closed clone: shared object cache %d bytes, %d clones open; want 0 and 0", n, open)
	}

	e.submit(t, work("late", nil, "w.yaml", "late: 1\n"))
	e.drain(t, time.Minute)
	kept := shared.size()
	reassert()
	if n, open := shared.size(), openClones(e.runner); n != kept || open != 1 {
		t.Errorf("after a re-assert of an open clone: shared object cache %d bytes (was %d), %d clones open; want it unchanged and 1",
			n, kept, open)
	}
}

// openClones counts the Runner's Git backends whose clone is open.
func openClones(r *Runner) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.backends {
		if g, ok := c.backend.(*Git); ok && g.isOpen() {
			n++
		}
	}
	return n
}

func (c *chargedLRU) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
