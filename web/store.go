package web

import (
	"context"

	"github.com/stateward/stateward/tenants"
)

// Store is what the web layer needs from the database.
type Store interface {
	Ping(ctx context.Context) error

	CreateTenant(ctx context.Context, slug, name, ownerEmail string) (tenants.Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (tenants.Tenant, error)
	UpdateTenantSettings(ctx context.Context, tenantID int64, name, domain string) error
	GroupRoles(ctx context.Context, tenantID int64) ([]tenants.GroupRole, error)
	SetGroupRoles(ctx context.Context, tenantID int64, gs []tenants.GroupRole) error

	UpsertUser(ctx context.Context, u tenants.User, emailVerified bool) (tenants.User, error)
	Memberships(ctx context.Context, userID int64) ([]tenants.Membership, error)
	RoleOf(ctx context.Context, tenantID, userID int64) (tenants.Role, error)
	Members(ctx context.Context, tenantID int64) ([]tenants.Member, error)
	AddMember(ctx context.Context, tenantID int64, email string, role tenants.Role) error
	SetMemberRole(ctx context.Context, tenantID int64, email string, role tenants.Role) error
	RemoveMember(ctx context.Context, tenantID int64, email string) error

	CreateSession(ctx context.Context, userID int64) (string, error)
	SessionUser(ctx context.Context, id string) (tenants.User, error)
	DeleteSession(ctx context.Context, id string) error
	SetFlash(ctx context.Context, sessionID, flash string) error
	TakeFlash(ctx context.Context, sessionID string) (string, error)
	Audit
	SaveLoginAttempt(ctx context.Context, state string, a tenants.LoginAttempt) error
	TakeLoginAttempt(ctx context.Context, state string) (tenants.LoginAttempt, error)

	CreateToken(ctx context.Context, tenantID int64, name string, role tenants.Role) (tenants.Token, string, error)
	CreatePersonToken(ctx context.Context, tenantID, userID int64, name string, role tenants.Role) (tenants.Token, string, error)
	Tokens(ctx context.Context, tenantID int64) ([]tenants.Token, error)
	RevokeToken(ctx context.Context, tenantID, id int64) error
	// TokenAndTenant finds the live token for a presented secret, with its
	// tenant, in one query (see db.TokenAndTenant).
	TokenAndTenant(ctx context.Context, secret string) (tenants.Token, tenants.Tenant, error)

	GitStores(ctx context.Context, tenantID int64) ([]tenants.GitStateStore, error)
	BucketStores(ctx context.Context, tenantID int64) ([]tenants.BucketStateStore, error)
	Destinations(ctx context.Context, tenantID int64, selector map[string]string) ([]tenants.Destination, error)
	DestinationsOn(ctx context.Context, tenantID int64, kind, name string) ([]string, error)

	GitStore(ctx context.Context, tenantID int64, name string) (tenants.GitStateStore, error)
	// GitStoreByHook finds the Git store a webhook URL names (any tenant's,
	// with its credentials: the delivery is verified with its secret).
	GitStoreByHook(ctx context.Context, hookID string) (tenants.GitStateStore, error)
	BucketStore(ctx context.Context, tenantID int64, name string) (tenants.BucketStateStore, error)
	SaveGitStore(ctx context.Context, s tenants.GitStateStore, keepSecrets bool) (tenants.Saved, error)
	SaveBucketStore(ctx context.Context, s tenants.BucketStateStore, keepSecrets bool) (tenants.Saved, error)
	CreateGitStore(ctx context.Context, s tenants.GitStateStore) error
	CreateBucketStore(ctx context.Context, s tenants.BucketStateStore) error
	CreateDestination(ctx context.Context, d tenants.Destination) error
	StorePath(ctx context.Context, tenantID int64, kind, name string) (string, error)
	DeleteStore(ctx context.Context, tenantID int64, kind, name string) error
	DropStore(ctx context.Context, tenantID int64, kind, name string) (int, error)
	Destination(ctx context.Context, tenantID int64, name string) (tenants.Destination, error)
	SaveDestination(ctx context.Context, d tenants.Destination) (tenants.Saved, error)
	// CheckDestination is SaveDestination's check against the other Destinations
	// (overlapping paths), without saving.
	CheckDestination(ctx context.Context, d tenants.Destination) error
	DeleteDestination(ctx context.Context, tenantID int64, name string) error
	Secret(ctx context.Context, tenantID int64, name string) (map[string]string, bool, error)
	Apply(ctx context.Context, tenantID int64, docs []tenants.Document, opts tenants.ApplyOptions) (tenants.Applied, error)

	CreateTrigger(ctx context.Context, t tenants.Trigger) (tenants.Trigger, string, string, error)
	Triggers(ctx context.Context, tenantID int64) ([]tenants.Trigger, error)
	Trigger(ctx context.Context, tenantID, id int64) (tenants.Trigger, error)
	TriggerByToken(ctx context.Context, token string) (tenants.HookTrigger, error)
	RotateTriggerSecret(ctx context.Context, tenantID, id int64) (string, error)
	RevokeTrigger(ctx context.Context, tenantID, id int64) error
	RecordDelivery(ctx context.Context, tenantID int64, del tenants.Delivery) error
	Deliveries(ctx context.Context, tenantID, triggerID int64, limit int) ([]tenants.Delivery, error)
	IdempotentAnswer(ctx context.Context, triggerID int64, key string) (tenants.StoredAnswer, bool, error)
	// AllowDelivery spends one delivery of the trigger's rate limit, shared by
	// every replica.
	AllowDelivery(ctx context.Context, triggerID int64, rate float64) (bool, error)
	SaveIdempotentAnswer(ctx context.Context, triggerID int64, key string, a tenants.StoredAnswer) error
}

// Readiness runs State Store readiness checks.
type Readiness interface {
	Check(ctx context.Context, ref tenants.StoreRef) error
	Trigger(ref tenants.StoreRef)
}

// Egress vets user-supplied endpoints before anything dials them.
type Egress interface {
	CheckLiteral(host string) error
}

// Waker pokes the background writers after new work was enqueued.
type Waker interface{ Wake() }
