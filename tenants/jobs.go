package tenants

import (
	"errors"
	"time"

	"github.com/stateward/stateward/pathing"
)

// ErrLeaseLost: a worker no longer holds the job it claimed (its lease expired and
// another worker took the job over).
var ErrLeaseLost = errors.New("job lease lost")

// Job states. A job is one write to one State Store; at most one job per store is
// queued at a time, so Works submitted in a burst coalesce into one write.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed" // only a job superseded by another queued job of its store
)

// Job is a claimed write to one State Store: everything the writer needs to build
// one Batch, read in the claiming transaction. The database is the source of truth;
// the writer only executes.
type Job struct {
	ID       int64
	TenantID int64
	Store    StoreRef
	// Attempts counts earlier failed runs of this job.
	Attempts int
	// Owner names the process holding the job (for people); Token is the random
	// lease token of this one claim, which every heartbeat and the finish check.
	Owner, Token string
	// Full is a periodic re-assert: Writes holds every placement of the store.
	Full bool
	// InDoubt: an earlier push to this (Git) store may still land; the write must
	// move the branch even if it changes nothing (writers.Batch.Fence).
	InDoubt bool
	// PushInterval is the least time between two pushes to the (Git) store
	// (GitStateStore.EffectivePushInterval): a job that pushed makes the
	// store's next one wait that long.
	PushInterval time.Duration
	// PullRequest is set for a store whose writes go through a pull request:
	// the write goes to the head branch, never to the store's branch.
	PullRequest *JobPR
	// CommitMessage and AuthorFromRequester are the Git store's commit trail
	// settings (GitStateStore fields of the same names).
	CommitMessage       string
	AuthorFromRequester bool
	// Writes are the placements to write or remove (pending, failed or in flight).
	Writes []PlacementWrite
	// TrailsLater: the Works of Writes carry their ids only; the writer reads
	// what they say of who asked for them (JobStore.JobTrails) once the write
	// is known to change the store, for its commit message or its objects'
	// metadata. A re-assert of a store of 5,000 placements that finds nothing
	// to change never needs them.
	TrailsLater bool
	// Peers are the other live placements on the Destinations that Writes touch:
	// an aggregatedYAML file is rebuilt from them too, and files they hold are
	// neither claimed by nor deleted for a placement of Writes.
	Peers []PlacementWrite
	// Canaries are the Destinations' canary files to write or remove.
	Canaries []CanaryWrite
}

// JobPR is what a write to a pull-request store needs beyond its Batch.
type JobPR struct {
	// ResetHead starts the head branch again from the base branch's tip: the
	// last pull request was closed without merging, and what it proposed must
	// not be proposed again.
	ResetHead bool
}

// PlacementWrite is one placement as a writer sees it.
type PlacementWrite struct {
	ID          int64
	Name        string // <work name>.<destination>-<id>
	Destination string
	Mode        string
	// Delete asks to remove what the placement wrote instead of writing it.
	Delete bool
	Plan   pathing.Plan
	// WrittenKeys and WrittenPrefix are what the last successful write left in the
	// store (keys, and the owned directory for nestedByMetadata and legacy), so that
	// moved and stale files can be removed.
	WrittenKeys   []string
	WrittenPrefix string
	// Written reports whether the placement was written at least once.
	Written bool
	// Generation changes whenever the placement is submitted again; an outcome for
	// an older generation does not mark the newer content written.
	Generation int64
	// Stuck placements failed for good (Error says why) and are not retried until
	// submitted again; a Job carries them only so that what they wrote is kept.
	Stuck bool
	Error string
	// Settled reports that the job read the placement written at Version, with
	// no error or attempt pending and that version recorded for its generation.
	// A write that leaves it so (the same generation, keys and prefix, at
	// Version, or by a write that changed nothing in the store) changes nothing
	// of its row, and its finish skips it: a full rewrite that found nothing to
	// change records nothing, whatever was written to the store since Version.
	Settled bool
	Version string
	// Work is the Work the placement belongs to, for commit trailers, commit
	// message templates and object metadata.
	Work WorkTrail
}

// WorkTrail is what a write says of the Work it carries: who asked for it and
// how to find it again.
type WorkTrail struct {
	ID            int64
	Team          string // the tenant's slug
	Name          string // Work.Name()
	Promise       string
	Labels        map[string]string
	Requester     Requester
	CorrelationID string
}

// CanaryWrite is the canary files of one Destination.
type CanaryWrite struct {
	ID          int64
	Destination string
	Files       []pathing.File
	Delete      bool
	WrittenKeys []string
	Generation  int64
}

// JobResult is what running a Job achieved.
type JobResult struct {
	// Err is the store's own message when the write failed as a whole (the job is
	// retried with backoff); empty on success.
	Err string
	// RetryAfter, with Err, is the wait the host asked for when it refused the
	// write for rate limiting: the job is retried after it instead of the
	// backoff, and the store is not failing.
	RetryAfter time.Duration
	// Version is the commit SHA or the bucket content version after the write.
	Version string
	// Changed, Puts and Deletes report what the write did to the store.
	Changed       bool
	Puts, Deletes int
	// StoreErr is the store's message when the write failed because the store
	// could not be reached or refused the credentials: the store shows failing at
	// once. StoreOK reports that a write reached the store and was accepted: a
	// failing store shows healthy again.
	StoreErr string
	StoreOK  bool
	// Head is set when the write went to a pull request's head branch: the head
	// commit now (the Version of a proposed outcome; Version is then the base
	// branch's tip, the version of an outcome the base already holds).
	// HeadRestarted says the head branch was built anew on the base (after a
	// close, or rebuilt because the base moved): the commits pushed to it before
	// are no longer on it.
	// HeadCarried says the new head carries what the old one proposed (it was
	// rebuilt on a moved base); HeadMerged that the old head's commits are all
	// on the base (its pull request was merged before Stateward saw it), so
	// what it proposed is written; neither: what it proposed is not on the new
	// head (written again if still wanted).
	Head                                   string
	HeadRestarted, HeadCarried, HeadMerged bool
	// Blocked is set when the head branch carries a commit by someone else:
	// nothing was written, and the pull request is left to people (the text
	// says so, for the store's warning).
	Blocked    string
	Placements []PlacementOutcome
	Canaries   []CanaryOutcome
}

// PlacementOutcome is what happened to one placement of a Job.
type PlacementOutcome struct {
	ID         int64
	Generation int64
	Delete     bool
	// Error is set when the placement was refused (e.g. two placements claim one
	// file) or the write failed.
	Error string
	// Keys and Prefix are what the store now holds for the placement.
	Keys   []string
	Prefix string
	// Stuck marks Error as permanent: the placement as submitted can never be
	// written (an invalid tree, content the remote refuses), so it is not retried.
	Stuck bool
	// MayHold lists keys a failed write may have left in the store (a bucket write
	// that stopped half way); they are remembered so that a later write removes them.
	MayHold []string
	// Proposed: the write is on a pull request's head branch and the base
	// branch does not hold it yet (see JobResult.Head).
	Proposed bool
}

// CanaryOutcome is what happened to one Destination's canary files.
type CanaryOutcome struct {
	ID         int64
	Generation int64
	Delete     bool
	Error      string
	Keys       []string
	Proposed   bool // see PlacementOutcome.Proposed
}
