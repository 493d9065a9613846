package tenants

import (
	"fmt"

	"github.com/stateward/stateward/pathing"
)

// PlannedWrite is what writing one placement would do to its State Store: the
// input of a diff against what the store holds now (POST …/works?dryRun=true&diff=true).
type PlannedWrite struct {
	Placement   string // the placement's name
	Destination string
	Store       StoreRef
	StorePath   string // the store's spec.path (S)
	Root        string // S/D, the Destination's directory; "" is the store root
	// Puts are the keys and contents the write leaves in the store (for
	// aggregatedYAML, the whole rebuilt file).
	Puts []pathing.File
	// OwnedPrefix (nestedByMetadata, legacy): every key under it not in Puts goes.
	OwnedPrefix string
	// StateFile (none): the key of the placement's state file; the files the stored
	// one lists that are not in Puts go.
	StateFile string
	// Written are the keys the placement's last write left; those not in Puts go.
	Written []string
}

// FileDiff is how a placement's write would change its store: keys added, keys
// whose content changes (with a unified diff), keys removed. Lists are sorted.
type FileDiff struct {
	Added   []string      `json:"added"`
	Changed []ChangedFile `json:"changed"`
	Removed []string      `json:"removed"`
}

// ChangedFile is one key whose content a write changes.
type ChangedFile struct {
	Path    string `json:"path"`
	Unified string `json:"unified"` // unified diff, "a/<key>" against "b/<key>"
}

// DiffSummary says in one line what diffs add up to, e.g.
// "3 added, 1 changed, 2 removed on 2 Destinations".
func DiffSummary(diffs []FileDiff, destinations []string) string {
	var added, changed, removed int
	touched := map[string]bool{}
	for i, d := range diffs {
		added, changed, removed = added+len(d.Added), changed+len(d.Changed), removed+len(d.Removed)
		if len(d.Added)+len(d.Changed)+len(d.Removed) > 0 && i < len(destinations) {
			touched[destinations[i]] = true
		}
	}
	noun := "Destinations"
	if len(touched) == 1 {
		noun = "Destination"
	}
	return fmt.Sprintf("%d added, %d changed, %d removed on %d %s", added, changed, removed, len(touched), noun)
}
