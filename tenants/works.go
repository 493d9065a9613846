package tenants

import (
	"strings"
	"time"
)

// Placement states, in the order a write moves through them.
const (
	StatePending = "pending"
	StateWriting = "writing"
	// StateRetrying: the last write failed for a reason that may pass (the store
	// down, credentials refused); it is tried again after a backoff.
	StateRetrying = "retrying"
	StateWritten  = "written"
	// StateFailed is permanent until the Work is submitted again: the store
	// refused the placement for its content (a pre-receive hook, a collision).
	StateFailed = "failed"
	// StateProposed and StateRejected are reserved for pull-request stores (a
	// proposed change, and one closed without merging).
	StateProposed = "proposed"
	StateRejected = "rejected"
)

// PlacementStates are every placement state, in the order a write moves through them.
var PlacementStates = []string{StatePending, StateWriting, StateRetrying, StateWritten, StateFailed, StateProposed, StateRejected}

// FinalState reports whether a placement in state st stays there until its Work is
// submitted again: a client waiting for a write stops at it.
func FinalState(st string) bool {
	return st == StateWritten || st == StateFailed || st == StateRejected
}

// WorkFile is one file of a workload group, relative to the pipeline output root.
type WorkFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// WorkloadGroup is a set of files with one directory and one set of selectors.
type WorkloadGroup struct {
	Directory            string            `json:"directory"`
	DestinationSelectors map[string]string `json:"destinationSelectors,omitempty"`
	Files                []WorkFile        `json:"files"`
}

// ResourceRef names the resource request a Work belongs to.
type ResourceRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Work is one unit of desired state. Its identity within a tenant is (promise,
// resource, pipeline); submitting the same identity again replaces its content.
type Work struct {
	ID        int64
	TenantID  int64
	Promise   string
	Resource  *ResourceRef // nil for promise dependencies
	Pipeline  string
	Groups    []WorkloadGroup
	TriggerID *int64 // set when a webhook trigger submitted it
	Deleted   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// Labels are the Work's own labels (Kubernetes label rules), for commit
	// message templates and the dashboard; they select nothing.
	Labels map[string]string
	// CorrelationID is the submitting request's Idempotency-Key, else its
	// X-Request-Id; Requester is who submitted it last (set by the database).
	CorrelationID string
	Requester     Requester
}

// Requester is who submitted a Work, as the audit log names them: By is a
// person's email, a token's name or a trigger's name (Kind says which); Name is
// the person's display name when known.
type Requester struct {
	Kind, By, Name string
}

// Person reports whether the requester is a person with an email (who can
// author a commit).
func (r Requester) Person() bool { return r.Kind == ActorPerson && strings.Contains(r.By, "@") }

// RequesterOf is the Requester an actor makes (Name is looked up later).
func RequesterOf(a Actor) Requester { return Requester{Kind: a.Kind, By: a.Name} }

// IsDependency reports whether the Work is a promise dependency (no resource).
func (w *Work) IsDependency() bool { return w.Resource == nil }

// Namespace is the resource namespace, or "kratix-platform-system" for promise
// dependencies, as Kratix names it.
func (w *Work) Namespace() string {
	if w.Resource == nil {
		return "kratix-platform-system"
	}
	return w.Resource.Namespace
}

// Placement is one Work group on one Destination: what to write there and how the
// last write went.
type Placement struct {
	ID            int64
	TenantID      int64
	WorkID        int64
	GroupIndex    int
	Directory     string
	Destination   string
	DestinationID int64
	Name          string   // <work name>.<destination>-<id>
	Paths         []string // full keys inside the store, exactly as written
	State         string
	Version       string // commit SHA or object version
	Error         string
	Misplaced     bool // the Destination no longer matches the selectors
	Attempts      int
	UpdatedAt     time.Time
	WrittenAt     *time.Time
}

// Unscheduled explains why a Work group found no Destination, or (Destination
// set) why it waits for one Destination that cannot be written to yet.
type Unscheduled struct {
	Group       int               `json:"group"`
	Directory   string            `json:"directory"`
	Selectors   map[string]string `json:"selectors"`
	Destination string            `json:"destination,omitempty"`
	Reason      string            `json:"reason"`
}

// Trigger is a webhook URL owned by a tenant.
type Trigger struct {
	ID               int64
	TenantID         int64
	Name             string
	Promise          string // pinned promise; empty = any
	RequireSignature bool
	RatePerSecond    float64 // 0 = unlimited
	CreatedAt        time.Time
	LastUsedAt       *time.Time
	RevokedAt        *time.Time
}
