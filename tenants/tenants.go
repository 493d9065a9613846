// Package tenants holds Stateward's domain: tenants and their members, State Stores,
// Destinations, Works and their placements, webhook triggers, the validation rules
// they obey (Kubernetes' own name and label rules) and the errors every layer maps to
// an answer. It does no I/O.
package tenants

import (
	"time"
)

// Role is a member's or token's permission level within one tenant.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"  // members and settings, plus everything an editor does
	RoleEditor Role = "editor" // stores, destinations, works, triggers
	RoleViewer Role = "viewer" // read only
)

// ParseRole returns the Role named by s, or a validation error for field.
func ParseRole(field, s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleEditor, RoleViewer:
		return r, nil
	}
	return "", Invalid(field, "must be one of owner, editor, viewer")
}

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Allows reports whether r grants at least the permissions of need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Tenant is a team: every other object belongs to exactly one.
type Tenant struct {
	ID   int64
	Slug string // DNS-1123 label, unique
	Name string
	// AllowedDomain admits any signed-in person whose verified email is in this
	// domain as a viewer. Empty means invitation only.
	AllowedDomain string
	CreatedAt     time.Time
}

// User is one OIDC identity (issuer + subject).
type User struct {
	ID      int64
	Issuer  string
	Subject string
	Email   string
	Name    string
	// EmailVerified: the IdP said email_verified at the last sign-in. Invitations
	// and ownership link by email, so only a verified one counts.
	EmailVerified bool
	// Groups are the IdP groups of the sign-in being recorded (UpsertUser).
	Groups []string
}

// Member is a user's role in a tenant.
type Member struct {
	TenantID int64
	UserID   int64
	Email    string
	Name     string
	Role     Role
	AddedAt  time.Time
}

// Membership is one tenant a user belongs to, for the team switcher.
type Membership struct {
	Tenant Tenant
	Role   Role
}

// Token is an API token's metadata; the secret itself is shown once and stored only
// as a hash.
type Token struct {
	ID         int64
	TenantID   int64
	Name       string
	Role       Role
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// UserID and Person (their email) name the person a token of `stateward
	// login` acts for: it may do no more than that person's current role in the
	// team, and nothing once they have left it. Zero and "" for tokens made with
	// `stateward token create` or the tokens page, which keep their own Role.
	UserID int64
	Person string
}

// Principal is who is acting on a tenant: a signed-in user or an API token.
type Principal struct {
	Tenant Tenant
	Role   Role
	// UserID and Email are the signed-in member, or the person a bound token
	// (Token.UserID) acts for; zero and "" for other tokens.
	UserID int64
	Email  string
	Token  int64 // zero for users
	// TokenName names the API token, for the audit log.
	TokenName string
}

// Can reports whether the principal's role allows what need requires.
func (p Principal) Can(need Role) bool { return p.Role.Allows(need) }
