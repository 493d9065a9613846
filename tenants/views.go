package tenants

import "time"

// PlacementView is one placement as the API and dashboard show it.
type PlacementView struct {
	ID          int64  `json:"id"`
	WorkID      int64  `json:"work"`
	Name        string `json:"name"`
	Destination string `json:"destination"`
	Group       int    `json:"group"`
	Directory   string `json:"directory"`
	StoreKind   string `json:"storeKind"`
	StoreName   string `json:"storeName"`
	// Paths are full keys inside the store, exactly as written.
	Paths []string `json:"paths"`
	// State is one of PlacementStates: pending, writing, retrying,
	// written, failed (and proposed, rejected on pull-request stores).
	State string `json:"state"`
	// Deleting: the placement's files are being removed.
	Deleting  bool   `json:"deleting,omitempty"`
	Misplaced bool   `json:"misplaced,omitempty"`
	Version   string `json:"version"`
	Error     string `json:"error"`
	Attempts  int    `json:"attempts"`
	// NextAttemptAt and LastError tell a retrying placement's next try and the
	// store's message from the last one.
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	Job           *int64     `json:"job"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	WrittenAt     *time.Time `json:"writtenAt"`
	// PullRequest is the pull request that carries (carried) the placement, on a
	// pull-request store.
	PullRequest *PlacementPR `json:"pullRequest,omitempty"`
}

type WorkView struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Promise     string          `json:"promise"`
	Resource    *ResourceRef    `json:"resource,omitempty"`
	Pipeline    string          `json:"pipeline,omitempty"`
	Deleted     bool            `json:"deleted"`
	Groups      []WorkloadGroup `json:"workloadGroups"`
	Placements  []PlacementView `json:"placements"`
	Unscheduled []Unscheduled   `json:"unscheduled"`
	TriggerID   *int64          `json:"trigger,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	// Labels, RequestedBy, RequesterName and CorrelationID are what the
	// writers put in commit trailers and object metadata (see Work).
	Labels        map[string]string `json:"labels"`
	RequestedBy   string            `json:"requestedBy,omitempty"`
	RequesterName string            `json:"requesterName,omitempty"`
	CorrelationID string            `json:"correlationId,omitempty"`
	// Versions are the commits (or bucket versions) that carried the Work's
	// placements, newest first.
	Versions []WorkVersion `json:"versions"`
}

// WorkVersion is one write that carried a generation of a placement: the
// commit SHA (or bucket content version), and the commit's page when the
// store is on a host whose commit URLs are known.
type WorkVersion struct {
	Placement   string    `json:"placement"`
	Destination string    `json:"destination"`
	StoreKind   string    `json:"storeKind"`
	StoreName   string    `json:"storeName"`
	Generation  int64     `json:"generation"`
	Version     string    `json:"version"`
	Proposed    bool      `json:"proposed,omitempty"`
	URL         string    `json:"url,omitempty"`
	WrittenAt   time.Time `json:"writtenAt"`
}

// JobView is one job as the API and dashboard show it.
type JobView struct {
	ID        int64      `json:"id"`
	StoreKind string     `json:"storeKind"`
	StoreName string     `json:"storeName"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	RunAfter  time.Time  `json:"runAfter"`
	LastError string     `json:"lastError"`
	Version   string     `json:"version"`
	CreatedAt time.Time  `json:"createdAt"`
	Finished  *time.Time `json:"finishedAt"`
}

// WorkSummary is one Work in a list: its identity and how its placements fare.
type WorkSummary struct {
	ID       int64        `json:"id"`
	Name     string       `json:"name"`
	Promise  string       `json:"promise"`
	Resource *ResourceRef `json:"resource,omitempty"`
	Pipeline string       `json:"pipeline,omitempty"`
	Deleted  bool         `json:"deleted"`
	// States counts placements by state (PlacementStates).
	States      map[string]int `json:"states"`
	Placements  int            `json:"placements"`
	Unscheduled int            `json:"unscheduled"`
	TriggerID   *int64         `json:"trigger,omitempty"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// WaitingWork is a Work with workload groups placed nowhere, and why.
type WaitingWork struct {
	ID          int64
	Name        string
	UpdatedAt   time.Time
	Unscheduled []Unscheduled
}

// Work list filters by state (WorkQuery.State): the placement states
// (PlacementStates: a Work with at least one placement in that state,
// pending also matching writing ones), and these.
const (
	WorkStateFailed   = "failed"   // at least one placement failed for good
	WorkStatePending  = "pending"  // at least one placement pending or writing
	WorkStateWaiting  = "waiting"  // at least one workload group placed nowhere
	WorkStateWritten  = "written"  // placed, nothing outstanding, nothing waiting
	WorkStateDeleting = "deleting" // deleted, its files being removed
)

// WorkStates are the states a Work list filters by (the API's ?state).
var WorkStates = []string{StatePending, StateWriting, StateRetrying, WorkStateWritten, WorkStateFailed,
	StateProposed, StateRejected, WorkStateWaiting, WorkStateDeleting}

// StoreRetry is a store's write in backoff, for its page.
type StoreRetry struct {
	Attempts      int       // failed tries of the store's queued job
	NextAttemptAt time.Time // when it tries again
	LastError     string    // the store's message from the last try
	Placements    int       // placements retrying
}

// PRStoreView is a pull-request store's pull request and the placements it
// concerns, as the dashboard shows them.
type PRStoreView struct {
	Store string
	// Number and URL are the open pull request's (0 and "" when none is open).
	Number int
	URL    string
	// Warning and Error are StorePullRequest's.
	Warning, Error string
	// Proposed counts the store's placements awaiting a merge; Rejected those
	// whose pull request was closed without merging.
	Proposed, Rejected int
}
