package tenants

import (
	"strconv"
	"time"
)

// Actor kinds: who made a change.
const (
	ActorPerson  = "person"  // a signed-in member (Name is the email)
	ActorToken   = "token"   // an API token (Name is the token's name)
	ActorTrigger = "trigger" // a webhook trigger (Name is the trigger's name)
	ActorSystem  = "system"  // the CLI or Stateward itself
)

// Actor is who made a change, as it was named at the time.
type Actor struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
	// PersonID and Person (their email) name the person a token acts for, when
	// the actor is a token of `stateward login`.
	PersonID int64  `json:"personId,omitempty"`
	Person   string `json:"person,omitempty"`
}

// String reads as "alice@example.com", "token ci-bot", "token cli: alice@… for
// alice@example.com" or "trigger ci".
func (a Actor) String() string {
	switch a.Kind {
	case ActorPerson:
		return a.Name
	case ActorSystem:
		if a.Name != "" {
			return a.Name
		}
		return "Stateward"
	}
	s := a.Kind + " " + a.Name
	if a.Name == "" {
		s = a.Kind + " #" + strconv.FormatInt(a.ID, 10)
	}
	if a.Person != "" {
		s += " for " + a.Person
	}
	return s
}

// ActorOf is the actor of a request: the member signed in, or the API token (and
// the person it acts for, if any).
func ActorOf(p Principal) Actor {
	if p.Token != 0 {
		return Actor{Kind: ActorToken, ID: p.Token, Name: p.TokenName, PersonID: p.UserID, Person: p.Email}
	}
	return Actor{Kind: ActorPerson, ID: p.UserID, Name: p.Email}
}

// AuditObject is what a change was made to.
type AuditObject struct {
	// Kind is GitStateStore, BucketStateStore, Destination, Work, Trigger, Token,
	// Member or Team.
	Kind string `json:"kind"`
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
}

// Audit object kinds besides the Kratix kinds.
const (
	AuditWork    = "Work"
	AuditTrigger = "Trigger"
	AuditToken   = "Token"
	AuditMember  = "Member"
	AuditTeam    = "Team"
)

// AuditEvent is one change: who did what to which object, and when. Action is a
// verb such as create, update, delete, write, rewrite, rotate, revoke, add, role,
// remove; Detail adds what a reader needs (a new role, a placement count).
type AuditEvent struct {
	ID     int64       `json:"id"`
	At     time.Time   `json:"at"`
	Actor  Actor       `json:"actor"`
	Action string      `json:"action"`
	Object AuditObject `json:"object"`
	Detail string      `json:"detail,omitempty"`
}

// WorkAction is the audit verb of a submitted Work: write or delete.
func WorkAction(w *Work) string {
	if w.Deleted {
		return "delete"
	}
	return "write"
}
