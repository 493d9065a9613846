// Package writers applies computed changes to State Stores (Git repositories and
// S3-compatible buckets) and runs the durable background jobs that drive them.
//
// A Backend knows nothing about Works, Destinations or layouts: it receives a Batch of
// full object keys (already computed and validated by package pathing) and makes the
// store hold exactly that. This keeps every store kind honest about one contract:
// same content → no commit and no PUT.
package writers

import (
	"context"
	"errors"
	"strings"
)

// File is one object to hold at Key (a full key inside the store, no leading slash).
type File struct {
	Key     string
	Content []byte
	// Meta is the object's user metadata on a bucket (x-amz-meta-<key>); Git
	// ignores it. It is sent with a PUT, never a reason for one.
	Meta map[string]string
}

// Batch is everything one write must achieve on one store, applied atomically where
// the store allows it (one commit for Git).
type Batch struct {
	// Puts are written (created or replaced) when their content differs.
	Puts []File
	// Deletes are exact keys to remove; a missing key is not an error.
	Deletes []string
	// DeletePrefixes name directories that a write owns wholly: every existing key
	// under such a prefix that is not among Puts is removed (stale-file deletion).
	// A prefix always ends in "/".
	DeletePrefixes []string
	// Keep names what neither Deletes nor DeletePrefixes may remove because
	// someone else wants it: an exact key, or a directory ending in "/" whose
	// whole content stays.
	Keep []string
	// Message describes the write (Git commit message).
	Message string
	// Describe, when set, is called once the write is known to change the
	// store, and gives the Message and Author to use instead of those above. A
	// Git store calls it before making its commit; an error stops the write
	// there. Buckets ignore it.
	Describe func(context.Context) (message string, author *Person, err error)
	// ObjectMeta, when set, is called by a bucket once it knows which objects
	// it must put (keys), before the first PUT, and gives the user metadata of
	// those it returns instead of their File.Meta; an error stops the write
	// there. Git ignores it.
	ObjectMeta func(ctx context.Context, keys []string) (map[string]map[string]string, error)
	// Author, when set, is the Git commit's author; the store's identity stays
	// the committer (as `git commit --author` does). Buckets ignore it.
	Author *Person
	// Fence asks a Git store to commit and push even when nothing changes: an
	// earlier push of this store was interrupted (its worker died, or the
	// connection broke while the remote received it) and may still land; moving
	// the branch makes that push fail its compare-and-swap, so a stale write can
	// never land after a newer one was recorded. Buckets ignore it.
	Fence bool
	// Guard, when set, runs right before the store is changed (before the push, or
	// before the first PUT); an error stops the write there. The job runner uses it
	// to confirm it still holds the job's lease.
	Guard func(context.Context) error
	// ResetHead, for a pull-request store, starts the head branch again from
	// the base branch's tip (the last pull request was closed unmerged).
	ResetHead bool
}

// Person is a commit author: a name and an email.
type Person struct{ Name, Email string }

// guard runs b.Guard if there is one.
func (b Batch) guard(ctx context.Context) error {
	if b.Guard == nil {
		return nil
	}
	return b.Guard(ctx)
}

// kept reports whether key is protected by keep (exact keys and "/"-directories).
func kept(keep []string, key string) bool {
	for _, k := range keep {
		if k == key || strings.HasSuffix(k, "/") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// Result reports what a Batch did.
type Result struct {
	// Version is the commit SHA (Git) or a content version (bucket) after the write.
	Version string
	// Changed is false when the store already held exactly this content.
	Changed bool
	// Puts and Deletes count the objects actually written and removed.
	Puts, Deletes int
	// For a pull-request store (GitConfig.HeadBranch), Version is the base
	// branch's tip, Head the head branch's commit after the write, and Proposed
	// the keys whose content on the head differs from the base: nil when the
	// base holds everything (then Head is empty). HeadRestarted says the head
	// was built anew on the base.
	// HeadCarried: the new head carries what the old one proposed (rebuilt
	// on a moved base). HeadMerged: the old head's commits are all on the
	// base (its pull request was merged), so what it proposed is written.
	Head                                   string
	Proposed                               map[string]bool
	HeadRestarted, HeadCarried, HeadMerged bool
}

// Backend is one State Store as the writers see it.
type Backend interface {
	// Apply makes the store hold the Batch. It is idempotent.
	Apply(ctx context.Context, b Batch) (Result, error)
	// Check performs a real round trip with the store's credentials that leaves no
	// trace (no commit, no object). A nil error means ready.
	Check(ctx context.Context) error
}

// ErrUnsafeKey is returned when a key would leave the store's directory.
var ErrUnsafeKey = errors.New("unsafe key")

// ErrRejected marks a write the store refused for what it contained (a Git remote's
// fsck or pre-receive hook, a bucket's refusal of one object): retrying the same
// content cannot succeed, but a part of it may.
var ErrRejected = errors.New("rejected by the store")

// ErrInvalidBatch marks a Batch whose keys cannot coexist (a file where another key
// needs a directory) or are unsafe: the same content never succeeds.
var ErrInvalidBatch = errors.New("invalid batch")
