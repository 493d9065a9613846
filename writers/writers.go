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
)

// File is one object to hold at Key (a full key inside the store, no leading slash).
type File struct {
	Key     string
	Content []byte
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
	// Message describes the write (Git commit message).
	Message string
}

// Result reports what a Batch did.
type Result struct {
	// Version is the commit SHA (Git) or a content version (bucket) after the write.
	Version string
	// Changed is false when the store already held exactly this content.
	Changed bool
	// Puts and Deletes count the objects actually written and removed.
	Puts, Deletes int
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
