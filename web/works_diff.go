package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/stateward/stateward/tenants"
)

// Differ compares planned writes with what the stores hold now (the writers).
type Differ interface {
	Diff(ctx context.Context, writes []tenants.PlannedWrite) ([]tenants.FileDiff, error)
}

// errStoreRead marks a diff that could not read a store (502, with the reason).
var errStoreRead = errors.New("cannot read what the State Store holds")

// storeReadError is a diff's failure to read a store: errStoreRead, shown with
// the store's own words made tenants.RemoteText.
type storeReadError struct{ err error }

func (e storeReadError) Error() string {
	return errStoreRead.Error() + ": " + tenants.RemoteText(e.err.Error())
}

func (e storeReadError) Unwrap() []error { return []error{errStoreRead, e.err} }

// diffPlacement is a placement of a dry run with its diff.
type diffPlacement struct {
	tenants.PlacementPlan
	Diff tenants.FileDiff `json:"diff"`
}

// diffAnswer is ?dryRun=true&diff=true: the dry run's answer, each placement with
// its diff, and a summary line.
type diffAnswer struct {
	tenants.SubmitResult
	Placements []diffPlacement `json:"placements"`
	Deletes    []diffPlacement `json:"deletes,omitempty"`
	Summary    string          `json:"summary"`
}

// planDiff runs a dry run of work and diffs every placement against its store.
func (s *Server) planDiff(ctx context.Context, tenantID int64, work *tenants.Work) (diffAnswer, error) {
	if s.differ == nil {
		return diffAnswer{}, tenants.Invalid("diff", "is not available: no writers run in this process")
	}
	res, writes, err := s.works.PlanWrites(ctx, tenantID, work)
	if err != nil {
		return diffAnswer{}, err
	}
	diffs, err := s.differ.Diff(ctx, writes)
	if err != nil {
		return diffAnswer{}, storeReadError{err}
	}
	out := diffAnswer{SubmitResult: res, Placements: make([]diffPlacement, len(res.Placements))}
	dests := make([]string, 0, len(diffs))
	for i, p := range res.Placements {
		out.Placements[i] = diffPlacement{PlacementPlan: p, Diff: diffs[i]}
		dests = append(dests, p.Destination)
	}
	for i, p := range res.Deletes {
		out.Deletes = append(out.Deletes, diffPlacement{PlacementPlan: p, Diff: diffs[len(res.Placements)+i]})
		dests = append(dests, p.Destination)
	}
	out.Summary = tenants.DiffSummary(diffs, dests)
	return out, nil
}

// apiDiffWork answers POST …/works?dryRun=true&diff=true.
func (s *Server) apiDiffWork(w http.ResponseWriter, r *http.Request, work *tenants.Work) {
	ans, err := s.planDiff(r.Context(), principal(r).Tenant.ID, work)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}
