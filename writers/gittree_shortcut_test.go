package writers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestOwnedShortcutChangesNothing: buildKept's shortcut for an owned
// directory that already holds what the Batch puts gives the same tree, the
// same changed flag and the same counts as reading every tree, on random
// stores and random Batches (puts the same or not, owned directories with
// stale files, deletes and keeps inside and outside them, a file where a
// directory is wanted).
func TestOwnedShortcutChangesNothing(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	name := func() string { return []string{"a", "b", "c"}[rnd.IntN(3)] }
	path := func() string {
		p := "d/" + name()
		for range rnd.IntN(3) {
			p += "/" + name()
		}
		return p
	}
	content := func() []byte { return []byte(fmt.Sprint(rnd.IntN(3))) }
	shortcuts := 0
	for round := range 400 {
		// The store: random files, written by a builder from nothing.
		var base Batch
		seen := map[string]bool{}
		for range 1 + rnd.IntN(8) {
			p := path() + ".yaml"
			if !seen[p] {
				seen[p] = true
				base.Puts = append(base.Puts, File{Key: p, Content: content()})
			}
		}
		seed := newTreeBuilder(nil)
		root, err := newEditTree(context.Background(), base)
		if err != nil {
			continue // a file where a directory is: not a store
		}
		baseTree, _, err := seed.build(plumbing.ZeroHash, root, false)
		if err != nil {
			t.Fatal(err)
		}
		// A Batch: often the store's own files under owned directories again.
		var b Batch
		for _, f := range base.Puts {
			if rnd.IntN(4) > 0 {
				c := f.Content
				if rnd.IntN(5) == 0 {
					c = content()
				}
				b.Puts = append(b.Puts, File{Key: f.Key, Content: c})
			}
		}
		for range rnd.IntN(3) {
			b.DeletePrefixes = append(b.DeletePrefixes, "d/"+name()+"/")
		}
		if rnd.IntN(2) == 0 {
			b.DeletePrefixes = append(b.DeletePrefixes, "d/")
		}
		for range rnd.IntN(2) {
			b.Deletes = append(b.Deletes, path()+".yaml")
		}
		for range rnd.IntN(2) {
			k := path()
			if rnd.IntN(2) == 0 {
				k += "/"
			} else {
				k += ".yaml"
			}
			b.Keep = append(b.Keep, k)
		}
		edits, err := newEditTree(context.Background(), b)
		if err != nil {
			continue
		}
		type result struct {
			h             plumbing.Hash
			changed       bool
			puts, deletes int
			err           string
		}
		run := func(noShortcut bool) result {
			tb := newTreeBuilder(seed.out)
			tb.noShortcut = noShortcut
			h, changed, err := tb.build(baseTree, edits, false)
			shortcuts += tb.shortcuts
			r := result{h: h, changed: changed, puts: tb.puts, deletes: tb.deletes}
			if err != nil {
				r.err = err.Error()
			}
			return r
		}
		with, without := run(false), run(true)
		if with != without {
			t.Fatalf("round %d: store %v, batch %+v:\nwith the shortcut %+v\nreading every tree %+v", round, base.Puts, b, with, without)
		}
	}
	if shortcuts == 0 {
		t.Fatal("the shortcut was never taken")
	}
	t.Logf("%d owned directories found unchanged without reading them", shortcuts)
}
