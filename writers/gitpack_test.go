package writers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestBuiltPackIndexIsGits: the pack a commit is pushed as, and the index built
// while writing it, are what git's own reading of that pack gives (same
// checksum, and per object the same offset and CRC); kept in a cache, every
// object is found there and reads back with its content.
func TestBuiltPackIndexIsGits(t *testing.T) {
	st := memory.NewStorage()
	var hashes []plumbing.Hash
	want := map[plumbing.Hash]string{}
	// Sizes across the header's varint boundaries (4, 11 and 18 bits) and empty.
	for i, size := range []int{0, 1, 15, 16, 2047, 2048, 262143, 262144, 1 << 20} {
		content := strings.Repeat(fmt.Sprint(i%10), size)
		obj := st.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		io.WriteString(w, content)
		w.Close()
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
		want[h] = content
	}
	p, err := encodePack(st, hashes)
	if err != nil {
		t.Fatal(err)
	}

	gits := new(idxfile.Writer)
	parser, err := packfile.NewParser(packfile.NewScanner(bytes.NewReader(p.data)), gits)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := parser.Parse()
	if err != nil {
		t.Fatalf("git's parser refuses the pack: %v", err)
	}
	if sum != p.sum {
		t.Errorf("pack checksum %s, git computes %s", p.sum, sum)
	}
	gitIdx, err := gits.Index()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes {
		off, err1 := p.idx.FindOffset(h)
		gitOff, err2 := gitIdx.FindOffset(h)
		crc, err3 := p.idx.FindCRC32(h)
		gitCRC, err4 := gitIdx.FindCRC32(h)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if off != gitOff || crc != gitCRC {
			t.Errorf("%s: offset %d crc %08x, git reads offset %d crc %08x", h, off, crc, gitOff, gitCRC)
		}
	}

	c, err := openGitCache(t.TempDir(), plumbing.NewBranchReferenceName("main"), cacheOrigin("https://example.com/r.git", "main"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.keep(plumbing.NewBranchReferenceName("main"), plumbing.ZeroHash, p); err != nil {
		t.Fatal(err)
	}
	for h, content := range want {
		// hasObject decides whether a write must fetch: an object in a kept pack
		// is there (go-git's HasEncodedObject says no on this storage).
		if !hasObject(c.st, h) {
			t.Errorf("kept object %s: hasObject says it is missing", h)
		}
		obj, err := c.st.EncodedObject(plumbing.BlobObject, h)
		if err != nil {
			t.Fatalf("kept object %s: %v", h, err)
		}
		r, _ := obj.Reader()
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != content {
			t.Errorf("kept object %s reads back %d bytes, want %d", h, len(got), len(content))
		}
	}
}
