package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// maxOwnCommits bounds the walk down a head branch to its base: a pull request
// of more of Stateward's commits is rebuilt as one.
const maxOwnCommits = 5000

// ForeignCommitError: the head branch of a pull-request store carries a commit
// Stateward did not make. Nothing is written; the pull request is left to
// people until they merge or close it.
type ForeignCommitError struct {
	Branch string
	Commit string // its hash
	Who    string // its committer (or author), "name <email>"
	Merge  bool   // a merge commit (a host's "update branch" button)
}

func (e *ForeignCommitError) Error() string {
	what := "a commit by " + e.Who
	if e.Merge {
		what = "a merge commit by " + e.Who
	}
	return fmt.Sprintf("head branch %q carries %s (%.12s): Stateward does not update this pull request "+
		"until a person merges or closes it, so that nobody's commit is discarded", e.Branch, what, e.Commit)
}

// headStart is where a write to a head branch starts.
type headStart struct {
	parent    plumbing.Hash // the commit the write goes on
	restarted bool          // parent is the base: the head is built anew
	merged    bool          // every earlier commit of the head is on the base: its pull request was merged
	replay    *Batch        // what the head changed on its old base, to apply again on the new one
}

// applyHead is applyOnce for a pull-request store: the Batch goes to the head
// branch, built on the base branch's tip, and never to the base branch.
//
//   - No head branch yet, or the last pull request was closed unmerged
//     (b.ResetHead), or every commit of the head is on the base already
//     (merged): the write starts from the base tip.
//   - The head holds only Stateward's commits on top of the current base: the
//     write is one more commit on it (a fast-forward).
//   - The base moved (people merged other changes): the head is rebuilt on the
//     new base tip with what its commits changed and the Batch, in one commit,
//     and force-pushed to the head branch (compare-and-swap on the old head).
//   - A commit by anyone else on the head: ForeignCommitError, nothing pushed.
//
// Result.Version is the base tip; Result.Head the head commit; Result.Proposed
// the keys whose content on the head differs from the base (nil: the base holds
// everything, and nothing is pushed).
func (g *Git) applyHead(ctx context.Context, c *gitCache, b Batch) (res Result, err error) {
	s, ar, err := g.startPush(ctx, c)
	if err != nil {
		return Result{}, err
	}
	defer g.endPush(s, &res, &err)
	base, err := tipOf(ar, g.branch)
	if err != nil {
		return Result{}, g.remote.wrap("push to", err)
	}
	if !base.exists {
		return Result{}, faulty(fmt.Errorf("branch %q not found in %s: a pull-request store proposes changes to an existing branch", g.cfg.Branch, g.remote.url))
	}
	head, err := tipOf(ar, g.head)
	if err != nil {
		return Result{}, g.remote.wrap("push to", err)
	}
	for _, t := range []struct {
		ref plumbing.ReferenceName
		tip remoteTip
	}{{g.branch, base}, {g.head, head}} {
		if !t.tip.exists {
			continue
		}
		if hasObject(c.st, t.tip.hash) {
			if err := c.setTip(t.ref, t.tip.hash); err != nil {
				return Result{}, err
			}
			continue
		}
		fetched, err := g.remote.fetch(ctx, c.st, t.ref)
		if err != nil {
			return Result{}, g.remote.wrap("fetch from", err)
		}
		if fetched.hash != t.tip.hash {
			return Result{}, errStale
		}
		if err := c.setTip(t.ref, fetched.hash); err != nil {
			return Result{}, err
		}
	}
	start, err := g.headStart(c, base.hash, head, b.ResetHead)
	if err != nil {
		return Result{}, err
	}
	batch, msg, author := b, b.Message, b.Author
	if start.replay != nil {
		author = nil // the rebuild carries earlier writes too: not one requester's commit
		batch = mergeReplay(*start.replay, b)
		msg = fmt.Sprintf("Rebuild %s on %s (%.12s): the pull request's %d changed files, applied again on the moved base",
			g.head.Short(), g.branch.Short(), base.hash, len(start.replay.Puts)+len(start.replay.Deletes))
		if len(b.Puts)+len(b.Deletes)+len(b.DeletePrefixes) > 0 {
			msg += "\n\n" + b.Message
		}
	}
	edits, err := newEditTree(ctx, batch)
	if err != nil {
		return Result{}, err
	}
	// No fence: a late push to the head branch can only be Stateward's own
	// commit, and the next write builds on whatever the head then holds.
	cm, err := c.commit(ctx, start.parent, edits, func() (signature, string, error) { return g.signature(author), msg, nil }, false)
	if err != nil {
		return Result{}, err
	}
	tip := start.parent
	if cm.res.Changed {
		tip = cm.hash
	}
	var st storer.EncodedObjectStorer = c.st
	if cm.res.Changed {
		st = overlay{EncodedObjectStorer: c.st, top: cm.tb.out} // the new commit is not in the clone yet
	}
	proposed, err := changedKeys(st, base.hash, tip)
	if err != nil {
		return Result{}, err
	}
	res = Result{Version: base.hash.String(), Puts: cm.res.Puts, Deletes: cm.res.Deletes, HeadRestarted: start.restarted,
		HeadCarried: start.replay != nil, HeadMerged: start.merged}
	if len(proposed) == 0 {
		// The base holds everything: nothing to propose. A head left with
		// commits of a closed pull request goes, so that none of it is ever
		// proposed again.
		if b.ResetHead && head.exists {
			if err := b.guard(ctx); err != nil {
				return Result{}, err
			}
			if err := g.remote.send(ctx, s, ar, g.head, head.hash, plumbing.ZeroHash, nil); err != nil {
				if errors.Is(err, errStale) {
					return Result{}, err
				}
				return Result{}, g.remote.wrap("push to", err)
			}
		}
		res.Puts, res.Deletes = 0, 0
		return res, nil
	}
	res.Proposed, res.Head = proposed, tip.String()
	if tip == head.hash {
		return res, nil // the head holds it already
	}
	var pack builtPack
	if cm.res.Changed {
		if pack, err = cm.pack(); err != nil {
			return Result{}, err
		}
	}
	if err := b.guard(ctx); err != nil {
		return Result{}, err
	}
	if err := g.remote.send(ctx, s, ar, g.head, head.hash, tip, pack.data); err != nil {
		if errors.Is(err, errStale) {
			return Result{}, err
		}
		return Result{}, g.remote.wrap("push to", err)
	}
	res.Changed = true
	if cm.res.Changed {
		return res, c.keep(g.head, tip, pack)
	}
	return res, c.setTip(g.head, tip)
}

// BaseTip is the base branch's commit on the remote now (one advertisement,
// as Check reads; no local state).
func (g *Git) BaseTip(ctx context.Context) (string, error) {
	s, ar, err := g.remote.advertise(ctx)
	if err != nil {
		return "", g.remote.wrap("ls-remote", err)
	}
	if err := s.Close(); err != nil {
		return "", g.remote.wrap("ls-remote", err)
	}
	tip, err := tipOf(ar, g.branch)
	if err != nil {
		return "", g.remote.wrap("ls-remote", err)
	}
	return versionOf(tip.hash), nil
}

// headStart decides where a write to the head branch starts (see applyHead).
func (g *Git) headStart(c *gitCache, base plumbing.Hash, head remoteTip, reset bool) (headStart, error) {
	if !head.exists {
		return headStart{parent: base, restarted: true}, nil
	}
	baseCommit, err := object.GetCommit(c.st, base)
	if err != nil {
		return headStart{}, fmt.Errorf("read commit %s: %w", base, err)
	}
	headCommit, err := object.GetCommit(c.st, head.hash)
	if err != nil {
		return headStart{}, fmt.Errorf("read commit %s: %w", head.hash, err)
	}
	bases, err := headCommit.MergeBase(baseCommit)
	if err != nil {
		return headStart{}, fmt.Errorf("merge base of %s and %s: %w", g.head.Short(), g.branch.Short(), err)
	}
	if len(bases) == 0 {
		return headStart{}, &ForeignCommitError{Branch: g.head.Short(), Commit: head.hash.String(), Who: who(headCommit)}
	}
	mb := bases[0]
	own := 0
	for cm := headCommit; cm.Hash != mb.Hash; own++ {
		if own == maxOwnCommits {
			break
		}
		if cm.NumParents() != 1 || !g.ours(cm) {
			return headStart{}, &ForeignCommitError{Branch: g.head.Short(), Commit: cm.Hash.String(), Who: who(cm), Merge: cm.NumParents() > 1}
		}
		if cm, err = cm.Parent(0); err != nil {
			return headStart{}, fmt.Errorf("walk %s: %w", g.head.Short(), err)
		}
	}
	switch {
	case reset:
		return headStart{parent: base, restarted: true}, nil
	case own == 0:
		return headStart{parent: base, restarted: true, merged: true}, nil
	case mb.Hash == base:
		return headStart{parent: head.hash}, nil
	}
	replay, err := replay(c.st, mb.TreeHash, headCommit.TreeHash)
	if err != nil {
		return headStart{}, err
	}
	return headStart{parent: base, restarted: true, replay: &replay}, nil
}

// ours reports whether Stateward made cm: it is committed with this store's
// identity (a person's commit, or a host's merge of the base into the head, is
// not).
func (g *Git) ours(cm *object.Commit) bool {
	return cm.Committer.Name == g.cfg.AuthorName && cm.Committer.Email == g.cfg.AuthorEmail
}

func who(cm *object.Commit) string {
	return fmt.Sprintf("%s <%s>", cm.Committer.Name, cm.Committer.Email)
}

// replay is what changed from tree from to tree to, as a Batch: the content of
// every file added or changed, and every file removed.
func replay(st storer.EncodedObjectStorer, from, to plumbing.Hash) (Batch, error) {
	changes, err := diffTrees(st, from, to)
	if err != nil {
		return Batch{}, err
	}
	var b Batch
	for _, ch := range changes {
		if ch.To.Name == "" {
			b.Deletes = append(b.Deletes, ch.From.Name)
			continue
		}
		blob, err := object.GetBlob(st, ch.To.TreeEntry.Hash)
		if err != nil {
			return Batch{}, fmt.Errorf("read %s: %w", ch.To.Name, err)
		}
		r, err := blob.Reader()
		if err != nil {
			return Batch{}, err
		}
		content, err := io.ReadAll(r)
		_ = r.Close()
		if err != nil {
			return Batch{}, err
		}
		if ch.From.Name != "" && ch.From.Name != ch.To.Name {
			b.Deletes = append(b.Deletes, ch.From.Name)
		}
		b.Puts = append(b.Puts, File{Key: ch.To.Name, Content: content})
	}
	return b, nil
}

// mergeReplay is the Batch that applies replay and then b: b's puts win, b's
// deletes and owned directories apply to what replay put, and nothing b keeps
// is removed by replay.
func mergeReplay(replay, b Batch) Batch {
	out := b
	puts := map[string]bool{}
	for _, f := range b.Puts {
		puts[f.Key] = true
	}
	drop := func(key string) bool {
		if puts[key] || slices.Contains(b.Deletes, key) {
			return true
		}
		for _, p := range b.DeletePrefixes {
			if strings.HasPrefix(key, p) {
				return true
			}
		}
		return false
	}
	out.Puts = slices.Clone(b.Puts)
	for _, f := range replay.Puts {
		if !drop(f.Key) {
			out.Puts = append(out.Puts, f)
		}
	}
	out.Deletes = slices.Clone(b.Deletes)
	for _, k := range replay.Deletes {
		if !puts[k] && !kept(b.Keep, k) && !slices.Contains(out.Deletes, k) && !replayPuts(replay, k) {
			out.Deletes = append(out.Deletes, k)
		}
	}
	return out
}

func replayPuts(b Batch, key string) bool {
	return slices.ContainsFunc(b.Puts, func(f File) bool { return f.Key == key })
}

// diffTrees lists the file changes from tree from to tree to (ZeroHash: empty).
func diffTrees(st storer.EncodedObjectStorer, from, to plumbing.Hash) (object.Changes, error) {
	tree := func(h plumbing.Hash) (*object.Tree, error) {
		if h.IsZero() {
			return &object.Tree{}, nil
		}
		return object.GetTree(st, h)
	}
	a, err := tree(from)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", from, err)
	}
	b, err := tree(to)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", to, err)
	}
	return object.DiffTree(a, b)
}

// changedKeys is the set of keys whose content differs between commits base
// and head (added, changed or removed on head).
func changedKeys(st storer.EncodedObjectStorer, base, head plumbing.Hash) (map[string]bool, error) {
	if base == head {
		return nil, nil
	}
	tree := func(h plumbing.Hash) (plumbing.Hash, error) {
		cm, err := object.GetCommit(st, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", h, err)
		}
		return cm.TreeHash, nil
	}
	bt, err := tree(base)
	if err != nil {
		return nil, err
	}
	ht, err := tree(head)
	if err != nil {
		return nil, err
	}
	if bt == ht {
		return nil, nil
	}
	changes, err := diffTrees(st, bt, ht)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(changes))
	for _, ch := range changes {
		if ch.From.Name != "" {
			out[ch.From.Name] = true
		}
		if ch.To.Name != "" {
			out[ch.To.Name] = true
		}
	}
	return out, nil
}

// overlay reads objects from top first (a commit built in memory, not pushed
// yet), then from the clone.
type overlay struct {
	storer.EncodedObjectStorer
	top *memory.Storage
}

func (o overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, err := o.top.EncodedObject(t, h); err == nil {
		return obj, nil
	}
	return o.EncodedObjectStorer.EncodedObject(t, h)
}
