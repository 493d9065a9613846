package planner

import (
	"github.com/stateward/stateward/tenants"

	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// Candidate is a Destination that scheduling may choose, with what is known about
// its State Store.
type Candidate struct {
	Destination tenants.Destination
	// StoreFailing is true when the store's last readiness check failed. A store
	// not checked yet ("unknown") is eligible.
	StoreFailing bool
}

// Decision is where one workload group of a Work goes.
type Decision struct {
	// Group is the index of the group in Work.Groups.
	Group int
	// Destinations are the names the group is placed on, sorted. Empty when
	// Unscheduled is set.
	Destinations []string
	// Unscheduled says why the group found no Destination.
	Unscheduled *tenants.Unscheduled
	// Waiting are matching Destinations the group would be placed on but that
	// cannot be written to yet (Destination.Waiting), one entry each with the
	// Destination named. The group is placed there once they clear.
	Waiting []tenants.Unscheduled
	// Misplaced are Destinations the group was placed on before that still exist
	// but must no longer hold it: they stopped matching its selectors, or (for a
	// resource request) they are surplus to the one chosen. Kratix keeps writing to
	// such Destinations silently; Stateward reports them so the caller can flag or
	// remove the old placement. Vanished Destinations are not listed: their
	// placements go with them.
	Misplaced []string
}

// Schedule decides, for every workload group of w, which Destinations receive it.
// existing maps a group index to the Destinations it is already placed on (nil for
// a new Work). Schedule is pure and deterministic: the same input gives the same
// decisions.
//
//   - Matching is Kubernetes matchLabels: every selector label must be on the
//     Destination with the same value (case-sensitive; extra labels are fine). A
//     group without selectors skips Destinations with strictMatchLabels and at
//     least one label. A dry-run Destination (DryRunLabel "true") receives only
//     groups whose selectors include DryRunLabel "true", as in Kratix
//     (internal/controller/scheduler.go getDestinationsForWorkloadGroup).
//   - A Destination that waits for its State Store or the store's Secret
//     (Destination.Waiting) gets no new placement: the group is listed in
//     Decision.Waiting instead (or, for a resource request that found no other
//     Destination, Unscheduled says what it waits for). A group already placed
//     there stays.
//   - Promise dependencies (w.Resource == nil) go to every matching Destination,
//     whatever its store's readiness: dependencies must reach every cluster that
//     matches, and a failing store is retried by the writer (Kratix ignores
//     readiness altogether).
//   - A resource request group goes to exactly one matching Destination. It stays
//     where it already is while that Destination still matches, even if its store is
//     failing now (moving a live resource is worse than a delayed write). Otherwise
//     the eligible Destination (store not known to be failing) with the highest
//     rendezvous hash of the group's identity and the Destination's name is chosen:
//     adding or removing an unrelated Destination moves only the groups that hash
//     highest to it.
func Schedule(w *tenants.Work, cands []Candidate, existing map[int][]string) []Decision {
	sorted := sortedCandidates(cands)
	out := make([]Decision, len(w.Groups))
	for i := range w.Groups {
		out[i] = scheduleGroup(w, i, sorted, existing[i])
	}
	return out
}

func sortedCandidates(cands []Candidate) []Candidate {
	sorted := append([]Candidate(nil), cands...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return sorted[i].Destination.Name < sorted[j].Destination.Name
	})
	return sorted
}

func scheduleGroup(w *tenants.Work, i int, cands []Candidate, placed []string) Decision {
	g := w.Groups[i]
	matching := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if groupMatches(g.DestinationSelectors, &c.Destination) {
			matching = append(matching, c)
		}
	}
	eligible, waiting := splitWaiting(matching, placed)
	d := Decision{Group: i}
	if w.IsDependency() {
		d.Destinations = names(eligible)
	} else {
		d.Destinations = chooseOne(groupKey(w, g), eligible, placed)
	}
	d.Misplaced = misplaced(placed, cands, d.Destinations)
	entry := func(dest, reason string) tenants.Unscheduled {
		return tenants.Unscheduled{Group: i, Directory: g.Directory, Selectors: g.DestinationSelectors, Destination: dest, Reason: reason}
	}
	switch {
	case len(d.Destinations) == 0 && len(eligible) == 0 && len(waiting) > 0:
		u := entry("", waitingReason(waiting))
		d.Unscheduled = &u
	case len(d.Destinations) == 0:
		u := entry("", unscheduledReason(g.DestinationSelectors, cands, eligible))
		d.Unscheduled = &u
	case w.IsDependency():
		for _, c := range waiting {
			d.Waiting = append(d.Waiting, entry(c.Destination.Name, c.Destination.Waiting))
		}
	}
	return d
}

// splitWaiting separates the Destinations that wait for their store (and hold no
// placement of the group yet) from the others.
func splitWaiting(matching []Candidate, placed []string) (eligible, waiting []Candidate) {
	for _, c := range matching {
		if c.Destination.Waiting != "" && !contains(placed, c.Destination.Name) {
			waiting = append(waiting, c)
			continue
		}
		eligible = append(eligible, c)
	}
	return eligible, waiting
}

// waitingReason says what the matching Destinations wait for.
func waitingReason(waiting []Candidate) string {
	parts := make([]string, len(waiting))
	for i, c := range waiting {
		parts[i] = "Destination " + c.Destination.Name + " waits: " + c.Destination.Waiting
	}
	return strings.Join(parts, "; ")
}

// groupMatches applies matchLabels, the strictMatchLabels rule and the dry-run rule.
func groupMatches(selectors map[string]string, d *tenants.Destination) bool {
	if d.IsDryRun() && selectors[tenants.DryRunLabel] != "true" {
		return false
	}
	if len(selectors) == 0 {
		return !d.StrictMatchLabels || len(d.Labels) == 0
	}
	return tenants.Matches(d.Labels, selectors)
}

// chooseOne keeps the first already-placed Destination that still matches, or
// picks the eligible one with the highest rendezvous score.
func chooseOne(key string, matching []Candidate, placed []string) []string {
	byName := make(map[string]bool, len(matching))
	for _, c := range matching {
		byName[c.Destination.Name] = true
	}
	kept := append([]string(nil), placed...)
	sort.Strings(kept)
	for _, name := range kept {
		if byName[name] {
			return []string{name}
		}
	}
	best, bestScore := "", uint64(0)
	for _, c := range matching {
		if c.StoreFailing {
			continue
		}
		s := rendezvousScore(key, c.Destination.Name)
		if best == "" || s > bestScore {
			best, bestScore = c.Destination.Name, s
		}
	}
	if best == "" {
		return nil
	}
	return []string{best}
}

// groupKey identifies a resource request group independently of the tenant and
// of database ids, so a re-created Work lands where it did before.
func groupKey(w *tenants.Work, g tenants.WorkloadGroup) string {
	ns, name := "", ""
	if w.Resource != nil {
		ns, name = w.Resource.Namespace, w.Resource.Name
	}
	return strings.Join([]string{w.Promise, ns, name, w.Pipeline, g.Directory}, "/")
}

func rendezvousScore(key, destination string) uint64 {
	sum := sha256.Sum256([]byte(key + "\x00" + destination))
	return binary.BigEndian.Uint64(sum[:8])
}

// misplaced lists the previously placed Destinations that still exist but are not
// in the new choice.
func misplaced(placed []string, cands []Candidate, chosen []string) []string {
	exists := make(map[string]bool, len(cands))
	for _, c := range cands {
		exists[c.Destination.Name] = true
	}
	keep := make(map[string]bool, len(chosen))
	for _, n := range chosen {
		keep[n] = true
	}
	var out []string
	for _, n := range placed {
		if exists[n] && !keep[n] && !contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func names(cands []Candidate) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.Destination.Name
	}
	return out
}

// unscheduledReason says in plain words why nothing was chosen.
func unscheduledReason(selectors map[string]string, cands, matching []Candidate) string {
	switch {
	case len(cands) == 0:
		return "no Destinations registered"
	case len(matching) == 1:
		return "the only matching Destination has a failing State Store: " + matching[0].Destination.Name
	case len(matching) > 0:
		return fmt.Sprintf("all %d matching Destinations have failing State Stores: %s",
			len(matching), strings.Join(names(matching), ", "))
	case selectors[tenants.DryRunLabel] != "true" && allDryRun(cands):
		return "every Destination is a dry-run Destination (" + tenants.DryRunLabel + "=true), which receives only Works " +
			"whose destinationSelectors include that label: " + strings.Join(names(cands), ", ")
	case len(selectors) == 0 && anyDryRun(cands):
		return "the group has no destinationSelectors, and every Destination sets strictMatchLabels and has labels " +
			"or is a dry-run Destination (" + tenants.DryRunLabel + "=true): " + strings.Join(names(cands), ", ")
	case len(selectors) == 0:
		return "the group has no destinationSelectors, and every Destination sets strictMatchLabels and has labels: " +
			strings.Join(names(cands), ", ")
	}
	return "no Destination has labels " + selectorString(selectors)
}

func anyDryRun(cands []Candidate) bool {
	for _, c := range cands {
		if c.Destination.IsDryRun() {
			return true
		}
	}
	return false
}

func allDryRun(cands []Candidate) bool {
	for _, c := range cands {
		if !c.Destination.IsDryRun() {
			return false
		}
	}
	return true
}

// selectorString renders selectors as "k1=v1,k2=v2" in key order.
func selectorString(selectors map[string]string) string {
	parts := make([]string, 0, len(selectors))
	for k, v := range selectors {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
