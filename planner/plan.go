package planner

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// StoreKey names one State Store of a team.
type StoreKey struct{ Kind, Name string }

// Team is what planning needs of a team: its Destinations (each with its store's
// status, as the database reads them) and the spec.path of each of its stores.
type Team struct {
	candidates []Candidate
	dests      map[string]tenants.Destination
	storePaths map[StoreKey]string
}

// NewTeam indexes a team's Destinations and store paths for planning. A
// Destination whose store's last check failed is not chosen for a new resource
// request (see Schedule).
func NewTeam(dests []tenants.Destination, storePaths map[StoreKey]string) *Team {
	t := &Team{dests: make(map[string]tenants.Destination, len(dests)), storePaths: storePaths}
	for _, d := range dests {
		t.candidates = append(t.candidates, Candidate{Destination: d, StoreFailing: d.Status.Failing()})
		t.dests[d.Name] = d
	}
	return t
}

// Stored is one placement of a Work as the database holds it.
type Stored struct {
	ID            int64
	Group         int
	DestinationID int64
	Destination   string
	Store         StoreKey
	// Live is false for a placement marked for removal.
	Live     bool
	PlanHash string
}

// Placement is one placement a plan wants: group Group of the Work on
// Destination.
type Placement struct {
	Group       int
	Destination tenants.Destination
	Store       StoreKey
	// Name is the placement's name, <work name>.<destination>-<group id>.
	Name string
	Plan pathing.Plan
	// Doc and Hash are Plan as the database stores it (EncodePlan).
	Doc, Hash string
	// Keys are the full keys Plan writes (never nil).
	Keys []string
	// Old is the stored placement of the same group on the same Destination, if
	// any (live or marked for removal).
	Old *Stored
	// Unchanged says Old is live with this very plan in this store: nothing to
	// write (never set when the plan is forced).
	Unchanged bool
	// Err is why the group cannot be laid out on this Destination (a
	// *tenants.ValidationError naming workloadGroups[i]); the other fields but
	// Group, Destination, Store and Old are then empty.
	Err error
}

// Removal is a live stored placement that the plan no longer wants.
type Removal struct {
	Stored
	// Misplaced: the Destination still exists but no longer takes the group (it
	// stopped matching, or it is surplus to a resource request's one).
	Misplaced bool
}

// Result is a Work's plan.
type Result struct {
	// Placements are the chosen placements, by group, then Destination name.
	Placements []Placement
	// Removals are the live placements not chosen any more, by group, then
	// Destination name.
	Removals []Removal
	// Unscheduled are the groups (or group and Destination) that found no place,
	// by group.
	Unscheduled []tenants.Unscheduled
}

// Plan decides where w goes in team t and lays out each chosen placement.
// stored are w's placements now (nil for a new Work); force marks every chosen
// placement as changed (a submit rewrites; a re-plan after a Destination changed
// only touches what moved). The result depends only on the values given, not on
// the order of the Destinations or of stored.
func (t *Team) Plan(w *tenants.Work, stored []Stored, force bool) Result {
	existing := map[int][]string{}
	old := map[[2]int64]*Stored{}
	for i := range stored {
		s := &stored[i]
		old[[2]int64{int64(s.Group), s.DestinationID}] = s
		if s.Live {
			existing[s.Group] = append(existing[s.Group], s.Destination)
		}
	}
	res := Result{Unscheduled: []tenants.Unscheduled{}}
	chosen := map[[2]int64]bool{}
	misplaced := map[groupDest]bool{}
	for _, dec := range Schedule(w, t.candidates, existing) {
		if dec.Unscheduled != nil {
			res.Unscheduled = append(res.Unscheduled, *dec.Unscheduled)
		}
		res.Unscheduled = append(res.Unscheduled, dec.Waiting...)
		for _, name := range dec.Misplaced {
			misplaced[groupDest{dec.Group, name}] = true
		}
		for _, name := range dec.Destinations {
			dest := t.dests[name]
			k := [2]int64{int64(dec.Group), dest.ID}
			chosen[k] = true
			res.Placements = append(res.Placements, t.place(w, dec.Group, dest, old[k], force))
		}
	}
	for _, s := range stored {
		if s.Live && !chosen[[2]int64{int64(s.Group), s.DestinationID}] {
			res.Removals = append(res.Removals, Removal{Stored: s, Misplaced: misplaced[groupDest{s.Group, s.Destination}]})
		}
	}
	slices.SortFunc(res.Removals, func(a, b Removal) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Destination, b.Destination), cmp.Compare(a.ID, b.ID))
	})
	return res
}

// groupDest is a group and a Destination name.
type groupDest struct {
	group int
	dest  string
}

// place lays out group gi of w on dest.
func (t *Team) place(w *tenants.Work, gi int, dest tenants.Destination, old *Stored, force bool) Placement {
	p := Placement{Group: gi, Destination: dest, Store: StoreKey{dest.StoreKind, dest.StoreName}, Old: old}
	storePath, ok := t.storePaths[p.Store]
	if !ok {
		p.Err = tenants.Invalid(fmt.Sprintf("workloadGroups[%d]", gi),
			"Destination %q refers to %s %q, which does not exist", dest.Name, dest.StoreKind, dest.StoreName)
		return p
	}
	plan, name, err := Layout(w, gi, dest, storePath)
	if err != nil {
		p.Err = tenants.Invalid(fmt.Sprintf("workloadGroups[%d]", gi), "on Destination %q: %v", dest.Name, err)
		return p
	}
	p.Name, p.Plan = name, plan
	p.Doc, p.Hash = EncodePlan(plan)
	p.Keys = plan.Keys()
	if p.Keys == nil {
		p.Keys = []string{}
	}
	p.Unchanged = !force && old != nil && old.Live && old.PlanHash == p.Hash && old.Store.Name == dest.StoreName
	return p
}

// Fatal reports whether err, met while placing a group, fails the whole plan. A
// submit (force) fails on any error; a re-plan after a Destination changed
// reports a group it cannot place (a layout error, a key conflict) with
// NotPlaced and carries on, so that one Work cannot block the change.
func Fatal(err error, force bool) bool {
	var ve *tenants.ValidationError
	return force || !errors.As(err, &ve) && !errors.Is(err, tenants.ErrConflict)
}

// NotPlaced is the entry saying that p (a new placement) could not be made.
func NotPlaced(w *tenants.Work, p Placement, err error) tenants.Unscheduled {
	g := w.Groups[p.Group]
	return tenants.Unscheduled{Group: p.Group, Directory: g.Directory, Selectors: g.DestinationSelectors,
		Reason: fmt.Sprintf("not placed on Destination %q: %v", p.Destination.Name, err)}
}

// SortUnscheduled orders entries by group, keeping the order of each group's own
// entries (what scheduling said first, then NotPlaced).
func SortUnscheduled(us []tenants.Unscheduled) {
	slices.SortStableFunc(us, func(a, b tenants.Unscheduled) int { return cmp.Compare(a.Group, b.Group) })
}
