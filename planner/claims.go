package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// Key claims. Every placement claims its keys in its store (pathing.Plan.Claims),
// and so do a Destination's canary files; two claims clash when they are the same
// key (unless both are shared, as an aggregatedYAML target is) or one is a
// directory above the other. The database keeps the claims and reads those near a
// new placement's (Near); what clashes, and what the conflict says, is decided
// here.

// Held is a claim of a store as the database holds it.
type Held struct {
	Key string
	// PlacementID or CanaryID is the holder (the other 0).
	PlacementID, CanaryID int64
	Dir, Shared           bool
}

// Holder names the holder of a clashing claim, for the conflict message.
type Holder struct {
	Held
	// Placement, Work (0 for a canary file), WorkName ("" when unknown) and
	// Destination name the holder.
	Placement   string
	Work        int64
	WorkName    string
	Destination string
}

// Near returns what to read to find every held claim that may clash with cs:
// the exact keys (each claim's and its parent directories'), sorted and unique,
// and per claim the range of keys below it (lo < key < hi).
func Near(cs []pathing.Claim) (exact []string, below [][2]string) {
	for _, c := range cs {
		exact = append(append(exact, pathing.ParentDirs(c.Key)...), c.Key)
		below = append(below, [2]string{c.Key + "/", c.Key + "0"})
	}
	slices.Sort(exact)
	return slices.Compact(exact), below
}

// FirstClash returns, among held (claims read with Near's lookups, the
// placement's own left out), the first by key that one of cs cannot coexist
// with, and the key of cs it clashes with; nil when none does.
func FirstClash(cs []pathing.Claim, held []Held) (*Held, string) {
	shared := map[string]bool{}
	for _, c := range cs {
		if c.Shared {
			shared[c.Key] = true
		}
	}
	held = slices.DeleteFunc(slices.Clone(held), func(h Held) bool {
		return h.Shared && shared[h.Key] // an aggregatedYAML target is shared
	})
	if len(held) == 0 {
		return nil, ""
	}
	first := slices.MinFunc(held, func(a, b Held) int { return strings.Compare(a.Key, b.Key) })
	for _, c := range cs {
		if first.Key == c.Key || strings.HasPrefix(c.Key, first.Key+"/") || strings.HasPrefix(first.Key, c.Key+"/") {
			return &first, c.Key
		}
	}
	return &first, cs[0].Key
}

// SelfClash refuses a plan one of whose files is a parent directory of another of
// its own files ("app" and "app/config.yaml"): no store can hold both.
func SelfClash(plan pathing.Plan, workName, dest string) error {
	keys := plan.OwnKeys()
	slices.Sort(keys)
	for _, k := range keys {
		i, _ := slices.BinarySearch(keys, k+"/")
		if i < len(keys) && strings.HasPrefix(keys[i], k+"/") {
			return tenants.Conflict("Work %q cannot write both %q and %q on Destination %q: one would have to be a file and a directory at once",
				workName, k, keys[i], dest)
		}
	}
	return nil
}

// StoredClaim is a claim a placement holds, with its store.
type StoredClaim struct {
	Store       StoreKey
	Key         string
	Dir, Shared bool
}

// HoldsExactly reports whether held are exactly the claims of plan in store k:
// a Work submitted again with new contents at the same paths keeps its claims
// (they were checked when made, and no other Work can have claimed those keys
// since).
func HoldsExactly(held []StoredClaim, k StoreKey, plan pathing.Plan) bool {
	want := map[pathing.Claim]bool{}
	for _, c := range plan.Claims() {
		want[c] = true
	}
	have := map[pathing.Claim]bool{}
	for _, h := range held {
		if h.Store != k {
			return false
		}
		have[pathing.Claim{Key: h.Key, Dir: h.Dir, Shared: h.Shared}] = true
	}
	return maps.Equal(want, have)
}

// Conflict is the 409 for key of Work workName on Destination dest, which clashes
// with h.
func Conflict(h Holder, key, workName, dest string) error {
	how := "the same path"
	what := "writes"
	if h.Dir {
		what = "owns the directory"
	}
	switch {
	case h.Dir && strings.HasPrefix(key, h.Key+"/"):
		how = fmt.Sprintf("everything below %q is that Work's (it replaces the directory whole on every write)", h.Key)
	case strings.HasPrefix(key, h.Key+"/"):
		how = fmt.Sprintf("%q is a file or directory there, so %q cannot be created below it", h.Key, key)
	case strings.HasPrefix(h.Key, key+"/"):
		how = fmt.Sprintf("%q lies below %q, so %q cannot be a file", h.Key, key, key)
	}
	if h.CanaryID != 0 {
		return tenants.Conflict("Work %q cannot write %q on Destination %q: it clashes with the Destination's canary file %q (%s)",
			workName, key, dest, h.Key, how)
	}
	other := fmt.Sprintf("#%d", h.Work)
	if h.WorkName != "" {
		other = fmt.Sprintf("%q (id %d)", h.WorkName, h.Work)
	}
	return tenants.Conflict("Work %q cannot write %q on Destination %q: Work %s already %s %q there (placement %q); %s. Two Works may not share a file, or use one's file as the other's directory",
		workName, key, h.Destination, other, what, h.Key, h.Placement, how)
}
