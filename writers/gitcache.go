package writers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/stateward/stateward/pressure"
)

// maxOpenPacks bounds the packfiles a cache keeps open between reads: every pack
// it can hold (maxPacks, the last push's and a compaction's). Reopening a pack
// for every object read dominated the cost of an unchanged re-apply; with 16
// open of a clone's ~60 packs, go-git's round robin closed and reopened packs
// all through a re-assert's tree reads (osfs's bound open resolves each path
// component: a tenth of a million-Work re-assert's CPU). At most MaxOpenClones
// clones are open, so the descriptors stay bounded too (16 × 66).
const maxOpenPacks = maxPacks + 2

// cloneObjects is the object cache of every clone of the process, bounded in
// all. A cache per clone (go-git's default, 96 MiB
// each) grew with the number of stores: after a re-assert of 200 stores, each
// clone's cache held its trees and the process kept them all (cmd/swbench:
// ~2.5 MB a store of 5,000 placements, more than a third of the heap in use).
// Sharing is safe: objects never change under their hash, and go-git asks its
// cache only for an object it has found in the clone's own packs or loose
// objects, so one store never "has" an object through another's reads.
//
// The budget counts what the objects cost the heap (chargedLRU), 64 MiB: go-git's
// LRU counts their content alone, and at its default 96 MiB of small trees held
// ~330 MB of heap after a re-assert of a million placements (swbench). A
// re-assert itself no longer reads through it (cloneCache, Git.sweep).
var cloneObjects cache.Object = newChargedLRU(64 << 20)

// maxPacks is how many packfiles (one per fetch or push) a cache collects before
// compact merges them: every object lookup searches every pack index.
const maxPacks = 64

// gitCache is a store's bare clone: objects and one ref, the last known tip of the
// branch. Nothing is ever checked out.
type gitCache struct {
	dir      string
	st       *filesystem.Storage
	objects  cache.Object // what st caches its objects in (newCacheStorage)
	maxPacks int
}

// openGitCache opens the bare repository in dir, creating it when dir holds none.
// The filesystem is bound to dir, so no path go-git computes can leave it, and the
// cache is this store's alone (exclusive access lets go-git keep its pack list).
//
// A cache belongs to one remote and branch (remote names both, see
// cacheOrigin): a clone made for another one (the store now points at another
// repository or branch), or one that does not say, is removed and started
// afresh, so that nothing the writer knew of the old remote (its tip, its
// objects) stands for what the new one holds.
//
// Its storage caches objects in objects (nil: the shared cloneObjects).
func openGitCache(dir string, branch plumbing.ReferenceName, remote string, objects cache.Object) (*gitCache, error) {
	if err := resetForeignCache(dir, remote); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if objects == nil {
		objects = cloneObjects
	}
	st := newCacheStorage(dir, objects)
	_, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		_, err = git.InitWithOptions(st, nil, git.InitOptions{DefaultBranch: branch})
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, cacheOriginFile), []byte(remote), 0o600)
	}
	if err != nil {
		return nil, err
	}
	return &gitCache{dir: dir, st: st, objects: objects, maxPacks: maxPacks}, nil
}

// cacheOriginFile, in a clone's directory, names the remote and branch it is a
// clone of.
const cacheOriginFile = "stateward-origin"

// cacheOrigin is what cacheOriginFile holds for a store's URL and branch.
func cacheOrigin(url, branch string) string {
	return url + "\n" + branch + "\n"
}

// resetForeignCache removes dir when it holds a clone of another remote or
// branch than remote, or one that does not say which.
func resetForeignCache(dir, remote string) error {
	got, err := os.ReadFile(filepath.Join(dir, cacheOriginFile))
	switch {
	case err == nil && string(got) == remote:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return nil // no clone yet
		}
	case err != nil:
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the clone of the store's previous remote: %w", err)
	}
	return nil
}

// newCacheStorage opens the storage of the clone in dir on the object cache
// objects (kept when the storage is opened again: objects never change under
// their hash).
func newCacheStorage(dir string, objects cache.Object) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(idxInMemory{osfs.New(dir, osfs.WithBoundOS())}, objects,
		filesystem.Options{ExclusiveAccess: true, MaxOpenDescriptors: maxOpenPacks})
}

// idxInMemory hands out pack index files read whole. go-git decodes an index
// with a read per field of every object (four bytes at a time) from the file it
// opens, and a cache reads every index again after each push it keeps (reopen):
// in 1,000-Work bursts to one store that was a read system call per object per
// commit, an eighth of the benchmark's CPU.
type idxInMemory struct{ billy.Filesystem }

func (fs idxInMemory) Open(name string) (billy.File, error) {
	f, err := fs.Filesystem.Open(name)
	if err == nil && strings.HasSuffix(name, ".pack") {
		packOpens.Add(1)
	}
	if err != nil || !strings.HasSuffix(name, ".idx") {
		return f, err
	}
	data, err := io.ReadAll(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &memFile{name: name, Reader: bytes.NewReader(data)}, nil
}

// packOpens counts the packfiles opened by every clone of the process (tests).
var packOpens atomic.Int64

// memFile is a read-only billy.File over bytes.
type memFile struct {
	name string
	*bytes.Reader
}

func (f *memFile) Name() string              { return f.name }
func (f *memFile) Write([]byte) (int, error) { return 0, os.ErrPermission }
func (f *memFile) Close() error              { return nil }
func (f *memFile) Lock() error               { return nil }
func (f *memFile) Unlock() error             { return nil }
func (f *memFile) Truncate(int64) error      { return os.ErrPermission }

// compact merges the packfiles when there are more than c.maxPacks: every one
// but the largest (the clone's history, as a rule) becomes one new pack, without
// deltas, so a compaction costs what the recent pushes and fetches hold, not the
// whole history. go-git's RepackObjects re-encoded every object with a delta
// search each time: an eighth of the CPU of ten 1,000-Work bursts to one store,
// and seconds for a repository of 100,000 files, while the store's writes waited.
func (c *gitCache) compact() error {
	packs, err := c.st.ObjectPacks()
	if err != nil || len(packs) <= c.maxPacks {
		return err
	}
	type pack struct {
		hash    plumbing.Hash
		objects []plumbing.Hash
	}
	all := make([]pack, 0, len(packs))
	for _, h := range packs {
		objects, err := c.packObjects(h)
		if err != nil {
			return fmt.Errorf("compact cache: %w", err)
		}
		all = append(all, pack{h, objects})
	}
	largest := slices.MaxFunc(all, func(a, b pack) int { return cmp.Compare(len(a.objects), len(b.objects)) })
	seen := map[plumbing.Hash]bool{}
	var merged []plumbing.Hash
	for _, p := range all {
		if p.hash == largest.hash {
			continue
		}
		for _, h := range p.objects {
			if !seen[h] {
				seen[h] = true
				merged = append(merged, h)
			}
		}
	}
	built, err := encodePack(c.st, merged)
	if err != nil {
		return fmt.Errorf("compact cache: %w", err)
	}
	if err := built.writeTo(c.dir); err != nil {
		return fmt.Errorf("compact cache: %w", err)
	}
	// The new pack holds every object of the others before they go: a crash in
	// between leaves objects twice, never missing.
	for _, p := range all {
		if p.hash == largest.hash || p.hash == built.sum {
			continue
		}
		base := filepath.Join(c.dir, "objects", "pack", "pack-"+p.hash.String())
		for _, ext := range []string{".pack", ".idx"} {
			if err := os.Remove(base + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("compact cache: %w", err)
			}
		}
	}
	// With exclusive access the storage keeps its pack list and open pack files;
	// reading on through it would look for the packs just removed.
	if err := c.reopen(); err != nil {
		return fmt.Errorf("after compaction: %w", err)
	}
	return nil
}

// packObjects lists the objects of pack h, from its index.
func (c *gitCache) packObjects(h plumbing.Hash) ([]plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, "objects", "pack", "pack-"+h.String()+".idx"))
	if err != nil {
		return nil, err
	}
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bytes.NewReader(data)).Decode(idx); err != nil {
		return nil, fmt.Errorf("pack index %s: %w", h, err)
	}
	entries, err := idx.Entries()
	if err != nil {
		return nil, err
	}
	defer entries.Close()
	var out []plumbing.Hash
	for {
		e, err := entries.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e.Hash)
	}
}

// reopen gives the cache a fresh view of its directory: with exclusive access the
// storage keeps its pack list, open pack files and pack indexes.
func (c *gitCache) reopen() error {
	if err := c.st.Close(); err != nil {
		return fmt.Errorf("close cache: %w", err)
	}
	c.st = newCacheStorage(c.dir, c.objects)
	return nil
}

// signature is who makes a commit and when.
type signature struct {
	name, email string
	author      *Person // the author when not the committer (name, email above)
	when        time.Time
	signer      *commitSigner // signs (and verifies) the commit when set
}

// builtCommit is a commit made in memory, not yet pushed.
type builtCommit struct {
	res  Result
	hash plumbing.Hash
	tb   *treeBuilder
}

// commit applies edits on the tree of parent (ZeroHash for a first commit). When
// the tree does not change it returns Changed false and no commit.
// With fence, a Batch that changes nothing still makes a commit (same tree), so
// that a push interrupted earlier can no longer land (see Batch.Fence).
//
// describe gives the commit's signature and message; it is called only when a
// commit is made (a Batch's Describe may read what it needs then).
func (c *gitCache) commit(ctx context.Context, parent plumbing.Hash, edits *editNode, describe func() (signature, string, error), fence bool) (builtCommit, error) {
	base, err := c.rootTree(parent)
	if err != nil {
		return builtCommit{}, err
	}
	tb := newTreeBuilder(c.st)
	tb.pace = func() { pressure.Pace(ctx) } // a full rewrite's, while submits pour in
	root, changed, err := tb.build(base, edits, false)
	if err != nil {
		return builtCommit{}, err
	}
	if !changed && !fence {
		return builtCommit{res: Result{Version: versionOf(parent)}}, nil
	}
	sig, msg, err := describe()
	if err != nil {
		return builtCommit{}, err
	}
	if !changed {
		msg, sig.author = fenceMessage, nil // even on an empty repository: a late push would create the branch
	}
	if root.IsZero() {
		if root, err = tb.writeEmptyTree(); err != nil {
			return builtCommit{}, err
		}
	}
	cm := newCommit(parent, root, sig, msg)
	if sig.signer != nil {
		if err := sig.signer.sign(cm); err != nil {
			return builtCommit{}, err
		}
	}
	h, err := tb.writeCommit(cm)
	if err != nil {
		return builtCommit{}, err
	}
	res := Result{Version: h.String(), Changed: true, Puts: tb.puts, Deletes: tb.deletes}
	return builtCommit{res: res, hash: h, tb: tb}, nil
}

// fenceMessage is the message of a commit that changes no file (Batch.Fence).
const fenceMessage = "Fence: an earlier push was interrupted; this commit makes sure it can no longer land"

// rootTree is the tree of commit h, ZeroHash for none.
func (c *gitCache) rootTree(h plumbing.Hash) (plumbing.Hash, error) {
	if h.IsZero() {
		return plumbing.ZeroHash, nil
	}
	cm, err := object.GetCommit(c.st, h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", h, err)
	}
	return cm.TreeHash, nil
}

func versionOf(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

func newCommit(parent, tree plumbing.Hash, sig signature, msg string) *object.Commit {
	if strings.TrimSpace(msg) == "" {
		msg = "Update from stateward"
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	who := object.Signature{Name: sig.name, Email: sig.email, When: sig.when}
	author := who
	if sig.author != nil {
		author = object.Signature{Name: sig.author.Name, Email: sig.author.Email, When: sig.when}
	}
	cm := &object.Commit{Author: author, Committer: who, Message: msg, TreeHash: tree}
	if !parent.IsZero() {
		cm.ParentHashes = []plumbing.Hash{parent}
	}
	return cm
}

// pack encodes every object the commit created, without deltas: the objects are
// new by construction, so no revision walk is needed to find what to send.
func (b builtCommit) pack() (builtPack, error) {
	return encodePack(b.tb.out, b.tb.written)
}

// keep stores a pushed pack (with the index built with it) in the cache and
// records tip as the branch.
func (c *gitCache) keep(branch plumbing.ReferenceName, tip plumbing.Hash, pack builtPack) error {
	if err := pack.writeTo(c.dir); err != nil {
		return fmt.Errorf("store pushed objects: %w", err)
	}
	if err := c.reopen(); err != nil {
		return err
	}
	return c.setTip(branch, tip)
}

func (c *gitCache) setTip(branch plumbing.ReferenceName, tip plumbing.Hash) error {
	if tip.IsZero() {
		return nil
	}
	return c.st.SetReference(plumbing.NewHashReference(branch, tip))
}

// files reads every file under prefix in commit tip.
func (c *gitCache) files(tip plumbing.Hash, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	root, err := c.rootTree(tip)
	if err != nil || root.IsZero() {
		return out, err
	}
	t, err := object.GetTree(c.st, root)
	if err != nil {
		return nil, err
	}
	if prefix != "" {
		if t, err = t.Tree(strings.TrimSuffix(prefix, "/")); errors.Is(err, object.ErrDirectoryNotFound) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
	}
	err = t.Files().ForEach(func(f *object.File) error {
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		out[prefix+f.Name] = b
		return err
	})
	return out, err
}

// fileAt reads the file key in commit tip; ok is false when there is none.
func (c *gitCache) fileAt(tip plumbing.Hash, key string) ([]byte, bool, error) {
	root, err := c.rootTree(tip)
	if err != nil || root.IsZero() {
		return nil, false, err
	}
	t, err := object.GetTree(c.st, root)
	if err != nil {
		return nil, false, err
	}
	f, err := t.File(key)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	content, err := f.Contents()
	return []byte(content), err == nil, err
}
