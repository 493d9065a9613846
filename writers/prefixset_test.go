package writers

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPrefixSetCoversAsAScanWould: prefixSet.covers answers what a scan of
// every prefix with strings.HasPrefix answers, for directory prefixes and odd
// ones alike, on random keys and prefixes.
func TestPrefixSetCoversAsAScanWould(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	seg := []string{"a", "b", "ab", "a.b", "c"}
	path := func(n int) string {
		var parts []string
		for range n {
			parts = append(parts, seg[rnd.IntN(len(seg))])
		}
		return strings.Join(parts, "/")
	}
	for round := range 200 {
		var s prefixSet
		var all []string
		for range rnd.IntN(6) {
			p := path(1 + rnd.IntN(3))
			if rnd.IntN(4) > 0 {
				p += "/"
			}
			if s.add(p) {
				all = append(all, p)
			}
			if s.add(p) {
				t.Fatalf("%q added twice", p)
			}
		}
		for range 50 {
			key := path(1 + rnd.IntN(4))
			want := false
			for _, p := range all {
				want = want || strings.HasPrefix(key, p)
			}
			if got := s.covers(key); got != want {
				t.Fatalf("round %d: prefixes %q, key %q: covers %v, a scan says %v", round, all, key, got, want)
			}
		}
	}
}
