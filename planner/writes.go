package planner

import (
	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// Planned is a stored placement as a diff needs it.
type Planned struct {
	Name        string
	Destination string
	Store       tenants.StoreRef
	// Doc is its plan as stored (EncodePlan).
	Doc string
	// Written are the keys its last write left.
	Written []string
}

// Aggregator rebuilds the aggregatedYAML file of a placement's Destination from
// every live placement on it (AggregateOf) and says how many there are. It is
// called only for an aggregatedYAML placement.
type Aggregator func() (content []byte, live int, err error)

// PlannedWrite is what writing p leaves in its store: the input of a diff against
// what the store holds now.
func (t *Team) PlannedWrite(p Planned, aggregate Aggregator) (tenants.PlannedWrite, error) {
	plan, pw, err := t.planned(p)
	if err != nil || plan.Target == "" {
		return pw, err
	}
	content, _, err := aggregate()
	if err != nil {
		return tenants.PlannedWrite{}, err
	}
	pw.Puts = append(pw.Puts, pathing.File{Path: plan.Target, Content: content})
	pw.Written = nil // the target is shared: nothing of it goes
	return pw, nil
}

// PlannedRemoval is what removing p leaves: nothing of its own (its owned
// directory, the files its state file lists and what it wrote go), and an
// aggregatedYAML file rebuilt without it (or gone with the last placement).
func (t *Team) PlannedRemoval(p Planned, aggregate Aggregator) (tenants.PlannedWrite, error) {
	plan, pw, err := t.planned(p)
	if err != nil {
		return pw, err
	}
	if plan.Target == "" {
		for _, f := range pw.Puts {
			pw.Written = append(pw.Written, f.Path)
		}
		pw.Puts = nil
		return pw, nil
	}
	content, live, err := aggregate()
	if err != nil {
		return tenants.PlannedWrite{}, err
	}
	if live == 0 {
		pw.Puts, pw.Written = nil, append(pw.Written, plan.Target)
	} else {
		pw.Puts = append(pw.Puts, pathing.File{Path: plan.Target, Content: content})
	}
	return pw, nil
}

// planned decodes p's plan and what writing it puts, but for an aggregatedYAML
// target, which the callers rebuild.
func (t *Team) planned(p Planned) (pathing.Plan, tenants.PlannedWrite, error) {
	plan, err := DecodePlan(p.Doc)
	if err != nil {
		return plan, tenants.PlannedWrite{}, err
	}
	dest := t.dests[p.Destination]
	storePath := t.storePaths[StoreKey{p.Store.Kind, p.Store.Name}]
	root, err := pathing.Root(storePath, dest.Path)
	if err != nil {
		return plan, tenants.PlannedWrite{}, err
	}
	pw := tenants.PlannedWrite{Placement: p.Name, Destination: p.Destination, StorePath: storePath, Root: root,
		Store: p.Store, Puts: plan.Files, OwnedPrefix: plan.OwnedPrefix, Written: p.Written}
	if plan.StateFile != nil {
		pw.Puts = append(pw.Puts, *plan.StateFile)
		pw.StateFile = plan.StateFile.Path
	}
	return plan, pw, nil
}

// AggregateOf rebuilds an aggregatedYAML file from the stored plans of every live
// placement on its Destination, and says how many contribute to it.
func AggregateOf(docs []string) ([]byte, int, error) {
	var parts []pathing.AggregatePart
	for _, doc := range docs {
		plan, err := DecodePlan(doc)
		if err != nil {
			return nil, 0, err
		}
		if plan.Aggregate != nil {
			parts = append(parts, *plan.Aggregate)
		}
	}
	return pathing.Aggregated(parts), len(parts), nil
}
