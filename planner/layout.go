package planner

import (
	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// Layout computes what group gi of w writes on Destination dest, in a store whose
// spec.path is storePath: its plan and its placement name. It is the one layout
// call of a submit, a dry run, a re-plan and the live previews; the error is
// pathing's, naming the offending input.
func Layout(w *tenants.Work, gi int, dest tenants.Destination, storePath string) (pathing.Plan, string, error) {
	g := w.Groups[gi]
	name := pathing.PlacementName(w.Name(), dest.Name, pathing.GroupID(g.Directory))
	pg := pathing.Group{Promise: w.Promise, Pipeline: w.Pipeline, Directory: g.Directory}
	if w.Resource != nil {
		pg.Namespace, pg.Resource = w.Resource.Namespace, w.Resource.Name
	}
	for _, f := range g.Files {
		pg.Files = append(pg.Files, pathing.File{Path: f.Path, Content: []byte(f.Content)})
	}
	plan, err := pathing.Layout(storePath, dest.Pathing(), name, pg)
	return plan, name, err
}

// Canary returns the canary files of dest in a store whose spec.path is
// storePath (Kratix's kratix-canary-* files).
func Canary(storePath string, dest tenants.Destination) ([]pathing.File, error) {
	return pathing.Canary(storePath, dest.Pathing())
}
