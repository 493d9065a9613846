package web

import (
	"net/http"
	"sort"
	"strings"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// placedOn is a Destination's page: its fields, the tree of every file currently
// placed on it (the part each placement owns highlighted), and recent writes.
func (s *Server) placedOn(r *http.Request, d tenants.Destination) (views.DestinationProps, error) {
	ps, latest, total, err := s.works.DestinationPlacements(r.Context(), principal(r).Tenant.ID, d.Name, views.MaxTreePlacements, 20)
	if err != nil {
		return views.DestinationProps{}, err
	}
	p := views.DestinationProps{Dest: d, Placements: total, Shown: len(ps)}
	owned := map[string]bool{}
	for _, pl := range ps {
		if pl.Deleting {
			continue
		}
		for _, k := range pl.Paths {
			p.Files = append(p.Files, views.PlacedFile{Path: k, Work: workName(pl), WorkID: pl.WorkID, State: pl.State})
		}
		if dir := commonDir(pl.Paths); dir != "" && d.Mode != tenants.ModeAggregated && d.Mode != tenants.ModeNone {
			owned[dir] = true
		}
	}
	p.OwnedDirs = sortedKeys(owned)
	p.Writes = activity(latest, 20)
	if d.InitWorkloads {
		storePath, err := s.storePathOf(r, d)
		if err != nil {
			return p, err
		}
		canary, err := planner.Canary(storePath, d)
		if err != nil {
			return p, err
		}
		for _, f := range canary {
			p.Files = append(p.Files, views.PlacedFile{Kind: "canary", Path: f.Path})
		}
	}
	return p, nil
}

// workName is the Work part of a placement name (<work>.<destination>-<id>).
func workName(p tenants.PlacementView) string {
	if i := strings.LastIndex(p.Name, "."+p.Destination+"-"); i > 0 {
		return p.Name[:i]
	}
	return p.Name
}

// commonDir is the deepest directory holding every path ("" when none).
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	dir := paths[0][:strings.LastIndex(paths[0], "/")+1]
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, dir) {
			dir = dir[:strings.LastIndex(strings.TrimSuffix(dir, "/"), "/")+1]
		}
	}
	return dir
}

// activity turns placements into the most recent writes, newest first.
func activity(ps []tenants.PlacementView, limit int) []views.ActivityItem {
	sorted := append([]tenants.PlacementView(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].UpdatedAt.After(sorted[j].UpdatedAt) })
	var out []views.ActivityItem
	for _, p := range sorted {
		if len(out) == limit {
			break
		}
		out = append(out, views.ActivityItem{WorkID: p.WorkID, Work: workName(p), Destination: p.Destination,
			State: p.State, Version: p.Version, Error: p.Error, At: p.UpdatedAt})
	}
	return out
}
