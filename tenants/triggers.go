package tenants

import (
	"errors"
	"time"
)

// HookTrigger is a live trigger found by its URL token, with the signing secrets
// that verify its requests.
type HookTrigger struct {
	Trigger
	Tenant Tenant
	// Secrets are the current signing secret and, within 24 h of a rotation, the
	// previous one.
	Secrets []string
}

// Delivery is one webhook call as the audit log keeps it.
type Delivery struct {
	ID        int64     `json:"id"`
	TriggerID int64     `json:"trigger"`
	At        time.Time `json:"at"`
	SourceIP  string    `json:"sourceIP"`
	Status    int       `json:"status"`
	WorkID    *int64    `json:"work"`
	Error     string    `json:"error,omitempty"`
}

// StoredAnswer is the first answer given for an Idempotency-Key.
type StoredAnswer struct {
	BodyHash string
	Status   int
	Response string
}

// AnsweredError is SubmitHookWork's refusal to submit again under an
// Idempotency-Key that already has an answer (found inside the submit
// transaction: another replica may have stored it a moment before).
type AnsweredError struct{ Answer StoredAnswer }

func (e *AnsweredError) Error() string { return "the Idempotency-Key already has an answer" }

// HookIdempotency is the Idempotency-Key of a delivery, kept with its answer.
type HookIdempotency struct {
	Key      string
	BodyHash string
}

// SignedDelivery is a signed webhook delivery as replay protection remembers
// it: the digest of what was signed (t and the body) and the last instant its
// signature verifies.
type SignedDelivery struct {
	Digest string
	Until  time.Time
}

// ErrReplayed is SubmitHookWork's refusal of a signed delivery whose signature
// was already accepted (a replay), found inside the submit transaction.
var ErrReplayed = errors.New("this signed delivery was already accepted")
