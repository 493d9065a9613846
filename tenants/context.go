package tenants

import "context"

type principalKey struct{}

// WithPrincipal returns a context carrying p (set by web middleware after it has
// checked the session or token against the tenant in the route).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal set by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
