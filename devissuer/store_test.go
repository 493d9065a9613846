package devissuer

import (
	"fmt"
	"testing"
	"time"
)

func TestStoreIsBounded(t *testing.T) {
	s := newStore()
	now := time.Now()
	for n := range maxCodes + 10 {
		s.issueCode(grant{clientID: "c"}, now.Add(time.Duration(n)*time.Millisecond))
	}
	if len(s.codes) != maxCodes {
		t.Errorf("%d codes stored, want %d", len(s.codes), maxCodes)
	}
	for range maxTokens + 10 {
		s.issueToken(user{Email: "a@b"}, now)
	}
	if len(s.tokens) != maxTokens {
		t.Errorf("%d tokens stored, want %d", len(s.tokens), maxTokens)
	}
	for n := range maxRecent + 3 {
		s.remember(user{Email: fmt.Sprintf("u%d@example.com", n)})
	}
	s.remember(user{Email: "u5@example.com"})
	recent := s.recentUsers()
	if len(recent) != maxRecent || recent[0].Email != "u5@example.com" || recent[1].Email != "u7@example.com" {
		t.Errorf("recent = %v, want %d entries, u5 then u7 first", recent, maxRecent)
	}
}

func TestStoreDropsExpiredCodes(t *testing.T) {
	s := newStore()
	now := time.Now()
	old := s.issueCode(grant{clientID: "c"}, now)
	s.issueCode(grant{clientID: "c"}, now.Add(codeTTL))
	if _, ok := s.codes[old]; ok {
		t.Error("expired code still stored after the next issue")
	}
	_, _, err := s.redeem(old, "c", now, func(grant) error { return nil })
	if err == nil {
		t.Error("redeemed a code that was swept")
	}
}
