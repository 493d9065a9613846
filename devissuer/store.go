package devissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"
)

// Bounds on the in-memory state, so a loop of logins cannot grow it without limit.
const (
	maxCodes  = 1024
	maxTokens = 1024
	maxRecent = 5
)

// user is the identity picked on the sign-in page.
type user struct {
	Email string
	Name  string
}

// subject is stable per email, so a developer keeps their account across restarts.
func (u user) subject() string {
	sum := sha256.Sum256([]byte(u.Email))
	return "dev-" + hex.EncodeToString(sum[:])[:16]
}

// grant is what an authorization code stands for.
type grant struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	user        user
	authTime    time.Time
	expires     time.Time
	used        bool
	accessToken string // issued from this code; revoked when the code is replayed
}

// session is what an access token stands for.
type session struct {
	user    user
	expires time.Time
}

// store holds codes, tokens and recently used identities behind one mutex.
type store struct {
	mu     sync.Mutex
	codes  map[string]*grant
	tokens map[string]*session
	recent []user
}

func newStore() *store {
	return &store{codes: map[string]*grant{}, tokens: map[string]*session{}}
}

// randomToken returns 32 random bytes, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// issueCode stores g under a new one-time code and returns the code.
func (s *store) issueCode(g grant, now time.Time) string {
	g.authTime, g.expires = now, now.Add(codeTTL)
	code := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.codes, func(_ string, g *grant) bool { return !now.Before(g.expires) })
	evictEarliest(s.codes, maxCodes, func(g *grant) time.Time { return g.expires })
	s.codes[code] = &g
	return code
}

// redeem spends code for clientID: the code is burnt by the first attempt, whether
// check accepts it or not. A second attempt revokes the access token issued from the
// code (RFC 6749 section 4.1.2). On success it returns the grant and a new access token.
func (s *store) redeem(code, clientID string, now time.Time, check func(grant) error) (grant, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	switch {
	case !ok || !now.Before(g.expires):
		return grant{}, "", invalidGrant("the authorization code is unknown or expired")
	case g.used:
		delete(s.tokens, g.accessToken)
		return grant{}, "", invalidGrant("the authorization code was already used")
	case g.clientID != clientID:
		return grant{}, "", invalidGrant("the authorization code was issued to another client")
	}
	g.used = true
	if err := check(*g); err != nil {
		return grant{}, "", err
	}
	g.accessToken = s.issueToken(g.user, now)
	return *g, g.accessToken, nil
}

// issueToken stores a new access token for u; s.mu must be held.
func (s *store) issueToken(u user, now time.Time) string {
	maps.DeleteFunc(s.tokens, func(_ string, t *session) bool { return !now.Before(t.expires) })
	evictEarliest(s.tokens, maxTokens, func(t *session) time.Time { return t.expires })
	token := randomToken()
	s.tokens[token] = &session{user: u, expires: now.Add(tokenTTL)}
	return token
}

// lookupToken returns the user an unexpired access token was issued for.
func (s *store) lookupToken(token string, now time.Time) (user, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[token]
	if !ok || !now.Before(t.expires) {
		return user{}, false
	}
	return t.user, true
}

// remember puts u first in the list of recently used identities.
func (s *store) remember(u user) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recent = slices.DeleteFunc(s.recent, func(r user) bool { return r.Email == u.Email })
	s.recent = slices.Insert(s.recent, 0, u)
	s.recent = s.recent[:min(len(s.recent), maxRecent)]
}

// recentUsers returns the recently used identities, most recent first.
func (s *store) recentUsers() []user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recent)
}

// recentUser finds a recently used identity by email.
func (s *store) recentUser(email string) (user, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.recent, func(r user) bool { return r.Email == email })
	if i < 0 {
		return user{}, false
	}
	return s.recent[i], true
}

// evictEarliest removes the entries expiring first until m has room for one more.
func evictEarliest[V any](m map[string]V, limit int, expires func(V) time.Time) {
	for len(m) >= limit {
		first, firstAt := "", time.Time{}
		for k, v := range m {
			if at := expires(v); first == "" || at.Before(firstAt) {
				first, firstAt = k, at
			}
		}
		delete(m, first)
	}
}
