package writers

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/stateward/stateward/pressure"
)

// editNode is one path segment of a Batch seen as a tree of edits. A node is a put
// (file content), an exact delete, a kept key, or a directory with children; owned
// marks a DeletePrefix directory, where every file not put is removed; keepAll
// marks a kept directory, below which nothing is removed.
type editNode struct {
	children       map[string]*editNode
	content        []byte
	put, del, keep bool
	owned, keepAll bool
}

// hasPut reports whether n or a node below it puts a file.
func (n *editNode) hasPut() bool {
	if n.put {
		return true
	}
	for _, c := range n.children {
		if c.hasPut() {
			return true
		}
	}
	return false
}

// dir returns the child directory node name, creating it.
func (n *editNode) dir(name, key string) (*editNode, error) {
	c := n.children[name]
	if c == nil {
		c = &editNode{children: map[string]*editNode{}}
		n.children[name] = c
	}
	if c.put {
		return nil, fmt.Errorf("key %q needs a directory where another key is a file", key)
	}
	if c.children == nil {
		c.children = map[string]*editNode{} // a deleted or kept key that is also a directory
	}
	return c, nil
}

// newEditTree validates every key of b and arranges the edits by path. An error
// matches ErrInvalidBatch (and ErrUnsafeKey for an unsafe key).
func newEditTree(ctx context.Context, b Batch) (*editNode, error) {
	root, err := buildEditTree(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	return root, nil
}

func buildEditTree(ctx context.Context, b Batch) (*editNode, error) {
	root := &editNode{children: map[string]*editNode{}}
	for _, f := range b.Puts {
		pressure.Pace(ctx) // a full rewrite's, while submits pour in
		if err := root.addPut(f); err != nil {
			return nil, err
		}
	}
	for _, k := range b.Deletes {
		if err := root.addDelete(k); err != nil {
			return nil, err
		}
	}
	for _, p := range b.DeletePrefixes {
		if err := root.addOwned(p); err != nil {
			return nil, err
		}
	}
	for _, k := range b.Keep {
		if err := root.addKeep(k); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// underPut reports whether a parent directory of key is a file the Batch puts:
// everything below it is gone with the put, so a delete there has nothing to do.
func (n *editNode) underPut(key string) bool {
	segs := strings.Split(key, "/")
	for _, s := range segs[:len(segs)-1] {
		c := n.children[s]
		if c == nil {
			return false
		}
		if c.put {
			return true
		}
		n = c
	}
	return false
}

// addKeep protects key (a file) or, ending in "/", a directory from removal.
func (n *editNode) addKeep(key string) error {
	dir := strings.HasSuffix(key, "/")
	parent, name, err := n.walk(strings.TrimSuffix(key, "/"))
	if err != nil {
		return err
	}
	c := parent.children[name]
	switch {
	case c == nil && dir:
		c = &editNode{children: map[string]*editNode{}}
		parent.children[name] = c
	case c == nil:
		c = &editNode{}
		parent.children[name] = c
	case c.put:
		return nil // put again: survives anyway
	}
	c.del = false
	if dir {
		if c.children == nil {
			c.children = map[string]*editNode{}
		}
		c.keepAll = true
	} else {
		c.keep = true
	}
	return nil
}

// walk returns the parent directory node of key and its last segment.
func (n *editNode) walk(key string) (*editNode, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	segs := strings.Split(key, "/")
	parent := n
	for _, s := range segs[:len(segs)-1] {
		var err error
		if parent, err = parent.dir(s, key); err != nil {
			return nil, "", err
		}
	}
	return parent, segs[len(segs)-1], nil
}

func (n *editNode) addPut(f File) error {
	parent, name, err := n.walk(f.Key)
	if err != nil {
		return err
	}
	c := parent.children[name]
	switch {
	case c == nil:
	case c.put && !bytes.Equal(c.content, f.Content):
		return fmt.Errorf("key %q is put twice with different content", f.Key)
	case !c.put && !c.del:
		return fmt.Errorf("key %q is a file where another key needs a directory", f.Key)
	}
	parent.children[name] = &editNode{put: true, content: f.Content}
	return nil
}

// addDelete records an exact delete; a put of the same key wins.
func (n *editNode) addDelete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if n.underPut(key) {
		return nil
	}
	parent, name, err := n.walk(key)
	if err != nil {
		return err
	}
	if _, ok := parent.children[name]; !ok {
		parent.children[name] = &editNode{del: true}
	}
	return nil
}

func (n *editNode) addOwned(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w: delete prefix %q must end in \"/\"", ErrUnsafeKey, prefix)
	}
	if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return err
	}
	if n.underPut(strings.TrimSuffix(prefix, "/")) {
		return nil
	}
	parent, name, err := n.walk(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return err
	}
	d, err := parent.dir(name, prefix)
	if err != nil {
		return err
	}
	d.owned = true
	return nil
}

// treeBuilder writes the new tree of a Batch. It reads the base trees from the bare
// clone and writes only new objects into an in-memory store, whose content becomes
// the pushed packfile.
type treeBuilder struct {
	// noShortcut turns the owned-directory shortcut of buildKept off (tests
	// compare the two).
	noShortcut bool
	shortcuts  int    // owned directories found unchanged without reading them
	pace       func() // called at each directory (pressure.Pace), if set
	base       storer.EncodedObjectStorer
	out        *memory.Storage
	written    []plumbing.Hash
	seen       map[plumbing.Hash]bool
	puts       int
	deletes    int
}

func newTreeBuilder(base storer.EncodedObjectStorer) *treeBuilder {
	return &treeBuilder{base: base, out: memory.NewStorage(), seen: map[plumbing.Hash]bool{}}
}

// build returns the hash of the tree that applies n to the tree base (ZeroHash for
// none), with changed false when the result equals base. An empty result is ZeroHash.
func (b *treeBuilder) build(base plumbing.Hash, n *editNode, owned bool) (plumbing.Hash, bool, error) {
	return b.buildKept(base, n, owned, false)
}

// buildKept is build below a kept directory when protected: nothing is removed.
func (b *treeBuilder) buildKept(base plumbing.Hash, n *editNode, owned, protected bool) (plumbing.Hash, bool, error) {
	if b.pace != nil {
		b.pace()
	}
	protected = protected || n.keepAll
	owned = (owned || n.owned) && !protected
	if owned && !base.IsZero() && !b.noShortcut {
		// An owned directory holds exactly what the Batch puts in it: when
		// the tree that would be is the one there, nothing changes, and its
		// trees need not be read (a full rewrite's every Work directory).
		if h, ok := ownedTree(n); ok && h == base {
			b.shortcuts++
			return base, false, nil
		}
	}
	entries, err := b.entries(base)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	changed := false
	kept := make(map[string]object.TreeEntry, len(entries)+len(n.children))
	for _, e := range entries {
		c, edited := n.children[e.Name]
		if edited && !c.del && !c.put && !c.keep && e.Mode != filemode.Dir && owned && !protected && !c.hasPut() {
			// A file of an owned directory where the edits only remove or keep keys
			// below its name: those edits do not make it the Batch's; it goes.
			edited = false
		}
		if (edited && !c.del) || !owned || protected {
			kept[e.Name] = e
			continue
		}
		if err := b.drop(e); err != nil {
			return plumbing.ZeroHash, false, err
		}
		changed = true
	}
	for name, c := range n.children {
		ch, err := b.edit(kept, name, c, owned, protected)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		changed = changed || ch
	}
	if !changed {
		return base, false, nil
	}
	if len(kept) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	h, err := b.writeTree(kept)
	return h, true, err
}

// ownedTree is the hash of the tree an owned directory n would hold, computed
// from its edits alone (ZeroHash for none), when they are only puts and
// directories of puts; ok is false when the result would depend on what is
// there (a delete, a kept key or directory). A put is a regular file: an
// executable one there keeps its mode, and so differs from this tree, and
// the caller reads it as usual.
func ownedTree(n *editNode) (h plumbing.Hash, ok bool) {
	var entries []object.TreeEntry
	for name, c := range n.children {
		switch {
		case c.del || c.keep || c.keepAll:
			return plumbing.ZeroHash, false
		case c.put:
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: plumbing.ComputeHash(plumbing.BlobObject, c.content)})
		default:
			sub, ok := ownedTree(c)
			if !ok {
				return plumbing.ZeroHash, false
			}
			if !sub.IsZero() {
				entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: sub})
			}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true
	}
	sort.Slice(entries, func(i, j int) bool { return gitSortName(entries[i]) < gitSortName(entries[j]) })
	var obj plumbing.MemoryObject
	if err := (&object.Tree{Entries: entries}).Encode(&obj); err != nil {
		return plumbing.ZeroHash, false
	}
	return obj.Hash(), true
}

// entries lists the tree h; ZeroHash is the empty tree.
func (b *treeBuilder) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := object.GetTree(b.base, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// edit applies child c named name to the entries in kept and reports a change.
func (b *treeBuilder) edit(kept map[string]object.TreeEntry, name string, c *editNode, owned, protected bool) (bool, error) {
	e, exists := kept[name]
	isDir := exists && e.Mode == filemode.Dir
	switch {
	case c.put:
		return b.putFile(kept, name, c.content)
	case c.keep && len(c.children) == 0 || c.del && protected:
		return false, nil
	case c.del && len(c.children) == 0:
		if !exists || isDir {
			return false, nil
		}
		delete(kept, name)
		b.deletes++
		return true, nil
	}
	sub := plumbing.ZeroHash
	if isDir {
		sub = e.Hash
	}
	if !isDir && c.children != nil && len(c.children) == 0 && !c.owned {
		return false, nil // a kept directory that does not exist
	}
	h, changed, err := b.buildKept(sub, c, owned, protected)
	if err != nil {
		return false, err
	}
	if exists && !isDir && c.del && !protected && h.IsZero() {
		delete(kept, name) // a stale file where stale keys below it were deleted too
		b.deletes++
		return true, nil
	}
	if !changed {
		return false, nil
	}
	if exists && !isDir {
		b.deletes++ // a file replaced by a directory
	}
	if h.IsZero() {
		delete(kept, name)
	} else {
		kept[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	return true, nil
}

// putFile writes content at name unless the same blob is already there.
func (b *treeBuilder) putFile(kept map[string]object.TreeEntry, name string, content []byte) (bool, error) {
	h := plumbing.ComputeHash(plumbing.BlobObject, content)
	e, exists := kept[name]
	mode := filemode.Regular
	if exists && e.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	if exists && e.Hash == h && e.Mode == mode {
		return false, nil
	}
	if exists && e.Mode == filemode.Dir {
		if err := b.drop(e); err != nil {
			return false, err
		}
	}
	if err := b.writeBlob(content); err != nil {
		return false, err
	}
	kept[name] = object.TreeEntry{Name: name, Mode: mode, Hash: h}
	b.puts++
	return true, nil
}

// drop counts the files removed with entry e (all files below it for a directory).
func (b *treeBuilder) drop(e object.TreeEntry) error {
	if e.Mode != filemode.Dir {
		b.deletes++
		return nil
	}
	entries, err := b.entries(e.Hash)
	if err != nil {
		return err
	}
	for _, c := range entries {
		if err := b.drop(c); err != nil {
			return err
		}
	}
	return nil
}

func (b *treeBuilder) writeBlob(content []byte) error {
	obj := b.out.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return b.store(obj)
}

// writeTree encodes entries in Git's order: by name, a directory sorting as if its
// name ended in "/".
func (b *treeBuilder) writeTree(kept map[string]object.TreeEntry) (plumbing.Hash, error) {
	t := &object.Tree{Entries: make([]object.TreeEntry, 0, len(kept))}
	for _, e := range kept {
		t.Entries = append(t.Entries, e)
	}
	sort.Slice(t.Entries, func(i, j int) bool {
		return gitSortName(t.Entries[i]) < gitSortName(t.Entries[j])
	})
	obj := b.out.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return obj.Hash(), b.store(obj)
}

func gitSortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// writeEmptyTree stores the empty tree, the root of a repository without files.
func (b *treeBuilder) writeEmptyTree() (plumbing.Hash, error) {
	return b.writeTree(nil)
}

func (b *treeBuilder) writeCommit(c *object.Commit) (plumbing.Hash, error) {
	obj := b.out.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return obj.Hash(), b.store(obj)
}

func (b *treeBuilder) store(obj plumbing.EncodedObject) error {
	h, err := b.out.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	if !b.seen[h] { // two files with one content are one blob: a pack holds it once
		b.seen[h] = true
		b.written = append(b.written, h)
	}
	return nil
}

// checkKey rejects a key that could leave the store's directory or touch Git's own
// files: absolute, "..", ".", empty segments, a backslash, NUL, or a ".git" segment
// in any case. Package pathing rejects these first; this is the second line.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrUnsafeKey)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w: %q is absolute", ErrUnsafeKey, key)
	case strings.ContainsAny(key, "\\\x00"):
		return fmt.Errorf("%w: %q contains a backslash or NUL", ErrUnsafeKey, key)
	}
	for _, s := range strings.Split(key, "/") {
		switch {
		case s == "" || s == "." || s == "..":
			return fmt.Errorf("%w: %q has an empty, \".\" or \"..\" segment", ErrUnsafeKey, key)
		case strings.EqualFold(strings.TrimRight(s, ". "), ".git"):
			return fmt.Errorf("%w: %q has a .git segment", ErrUnsafeKey, key)
		case strings.EqualFold(strings.TrimRight(s, ". "), ".gitmodules"), strings.EqualFold(strings.TrimRight(s, ". "), ".gitattributes"):
			return fmt.Errorf("%w: %q names Git configuration (.gitmodules or .gitattributes)", ErrUnsafeKey, key)
		}
	}
	return nil
}
