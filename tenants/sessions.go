package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Session lifetimes: a session ends after IdleTimeout without a request or
// AbsoluteTimeout after login, whichever comes first.
const (
	IdleTimeout     = 12 * time.Hour
	AbsoluteTimeout = 7 * 24 * time.Hour
	// LoginAttemptTTL is how long a started sign-in may take (the login cookie
	// lives as long).
	LoginAttemptTTL = 10 * time.Minute
)

// NewSecret returns a random 256-bit secret, base64url without padding, and its
// hash for storage: the database never holds a usable session id or token.
func NewSecret() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a session id, API token or webhook token.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LoginAttempt is what the login redirect must find again at the callback.
type LoginAttempt struct {
	Nonce    string
	Verifier string
	ReturnTo string
	// Browser is the value of the login cookie set at /login; stored hashed.
	Browser string
}
