package testpeers

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// MockOIDC starts a mock OpenID Connect issuer over plain HTTP on 127.0.0.1 and
// shuts it down at cleanup. Its Issuer, ClientID and ClientSecret configure the
// relying party; QueueUser chooses who logs in next (mockoidc.DefaultUser
// otherwise).
func MockOIDC(t testing.TB) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("start mockoidc: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Server.Shutdown(ctx); err != nil {
			m.Server.Close()
		}
	})
	return m
}
