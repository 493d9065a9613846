package web

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// preview computes, with the planner a submit uses, every key a sample promise dependency
// and a sample resource request would write on Destination d, plus its canary
// files: what the user sees change as they type.
func (s *Server) preview(r *http.Request, d tenants.Destination, sm views.SampleInputs) views.PreviewProps {
	storePath, err := s.storePathOf(r, d)
	if err != nil {
		return views.PreviewProps{Error: "Choose a State Store to see where files will go."}
	}
	pd := d
	pd.Name = or(d.Name, "my-destination")
	var p views.PreviewProps
	owned := map[string]bool{}
	add := func(kind string, keys []string, ownedPrefix string) {
		for _, k := range keys {
			p.Paths = append(p.Paths, views.PreviewPath{Path: k, Kind: kind, Owned: true})
		}
		if ownedPrefix != "" {
			owned[ownedPrefix] = true
		}
	}
	promise := or(sm.Promise, "redis")
	dep := &tenants.Work{Promise: promise, Pipeline: sm.Pipeline, Groups: []tenants.WorkloadGroup{{Directory: ".",
		Files: []tenants.WorkFile{{Path: "static/" + promise + "-dependencies.yaml", Content: "kind: CustomResourceDefinition\n"}}}}}
	plan, _, err := planner.Layout(dep, 0, pd, storePath)
	if err != nil {
		return views.PreviewProps{Error: err.Error()}
	}
	add("dependency", plan.Keys(), plan.OwnedPrefix)
	res := &tenants.Work{Promise: promise, Pipeline: sm.Pipeline,
		Resource: &tenants.ResourceRef{Namespace: or(sm.Namespace, "default"), Name: or(sm.Resource, "my-request")},
		Groups:   []tenants.WorkloadGroup{{Directory: ".", Files: []tenants.WorkFile{{Path: promise + ".yaml", Content: "kind: ConfigMap\n"}}}}}
	if plan, _, err = planner.Layout(res, 0, pd, storePath); err != nil {
		return views.PreviewProps{Error: err.Error()}
	}
	add("resource", plan.Keys(), plan.OwnedPrefix)
	if d.InitWorkloads {
		canary, err := planner.Canary(storePath, pd)
		if err != nil {
			return views.PreviewProps{Error: err.Error()}
		}
		for _, f := range canary {
			p.Paths = append(p.Paths, views.PreviewPath{Path: f.Path, Kind: "canary"})
		}
	}
	markState(p.Paths)
	p.Paths = dedupe(p.Paths)
	p.OwnedDirs = sortedKeys(owned)
	if d.Mode == tenants.ModeAggregated {
		p.Note = "aggregatedYAML: every placement on this Destination is written into the one file."
	}
	p.DryRun = d.IsDryRun()
	p.Conflict = s.destinationConflict(r, d)
	return p
}

// destinationConflict is why saving d would be refused for the other
// Destinations on its store (an overlapping path), from the very check Create
// runs; "" when there is none.
func (s *Server) destinationConflict(r *http.Request, d tenants.Destination) string {
	err := s.store.CheckDestination(r.Context(), d)
	var ve *tenants.ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve):
		return ve.Message
	}
	s.log.Error("destination check", "tenant_id", d.TenantID, "err", err)
	return ""
}

func markState(paths []views.PreviewPath) {
	for i := range paths {
		if strings.Contains(paths[i].Path, "/.kratix/") || strings.HasPrefix(paths[i].Path, ".kratix/") {
			paths[i].Kind = "state"
		}
	}
}

func dedupe(paths []views.PreviewPath) []views.PreviewPath {
	sort.SliceStable(paths, func(i, j int) bool { return paths[i].Path < paths[j].Path })
	out := paths[:0]
	for i, p := range paths {
		if i > 0 && p.Path == paths[i-1].Path {
			continue
		}
		out = append(out, p)
	}
	return out
}

// storePathOf is the spec.path of the Destination's State Store.
func (s *Server) storePathOf(r *http.Request, d tenants.Destination) (string, error) {
	return s.store.StorePath(r.Context(), principal(r).Tenant.ID, d.StoreKind, d.StoreName)
}
