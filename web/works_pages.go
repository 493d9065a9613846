package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

func (s *Server) worksPage(w http.ResponseWriter, r *http.Request) {
	tid := principal(r).Tenant.ID
	q, err := workQuery(r, 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.works.WorksPage(r.Context(), tid, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names, err := s.triggerNames(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dests, err := s.store.Destinations(r.Context(), tid, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := views.WorksProps{Filter: views.WorkFilter{Search: q.Search, State: q.State, Destination: q.Destination,
		Trigger: r.URL.Query().Get("trigger")}, Total: page.Total, TotalCapped: page.TotalCapped, Paged: q.Before != "", States: tenants.WorkStates,
		SearchMax: db.MaxSearch}
	for _, d := range dests {
		p.Destinations = append(p.Destinations, d.Name)
	}
	for id, name := range names {
		p.Triggers = append(p.Triggers, views.TriggerOption{ID: id, Name: name})
	}
	slices.SortFunc(p.Triggers, func(a, b views.TriggerOption) int { return strings.Compare(a.Name, b.Name) })
	if page.Next != "" {
		next := r.URL.Query()
		next.Set("before", page.Next)
		p.NextURL = tenantPath(r, "works?"+next.Encode())
	}
	for _, ws := range page.Items {
		p.Works = append(p.Works, workRow(ws, names))
	}
	s.render(w, r, http.StatusOK, views.WorksPage(s.shell(r, "Works", "works"), p))
}

// workQuery reads the Works list's search, filters and cursor from the URL.
func workQuery(r *http.Request, limit int) (db.WorkQuery, error) {
	v := r.URL.Query()
	q := db.WorkQuery{Search: strings.TrimSpace(v.Get("q")), State: v.Get("state"),
		Destination: strings.TrimSpace(v.Get("destination")), Before: v.Get("before"), Limit: limit}
	if t := v.Get("trigger"); t != "" {
		id, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return q, tenants.Invalid("trigger", "must be a trigger id")
		}
		q.TriggerID = &id
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return q, tenants.Invalid("limit", "must be a number from 1 to 1000")
		}
		q.Limit = n
	}
	return q, nil
}

func workRow(ws tenants.WorkSummary, triggers map[int64]string) views.WorkRow {
	row := views.WorkRow{Work: tenants.Work{ID: ws.ID, Promise: ws.Promise, Resource: ws.Resource, Pipeline: ws.Pipeline,
		Deleted: ws.Deleted, UpdatedAt: ws.UpdatedAt, TriggerID: ws.TriggerID},
		Written: ws.States[tenants.StateWritten], Pending: ws.States[tenants.StatePending],
		Writing: ws.States[tenants.StateWriting], Retrying: ws.States[tenants.StateRetrying], Failed: ws.States[tenants.StateFailed],
		Proposed: ws.States[tenants.StateProposed], Rejected: ws.States[tenants.StateRejected], Waiting: ws.Unscheduled}
	if ws.TriggerID != nil {
		row.TriggerName = triggers[*ws.TriggerID]
	}
	return row
}

func (s *Server) triggerNames(r *http.Request) (map[int64]string, error) {
	ts, err := s.store.Triggers(r.Context(), principal(r).Tenant.ID)
	names := map[int64]string{}
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	return names, err
}

// workForm reads the New Work form into the API's request shape (one group in
// the root directory) and the form's props.
func workForm(r *http.Request) (tenants.WorkRequest, views.WorkFormProps) {
	f := r.PostForm.Get
	p := views.WorkFormProps{Promise: strings.TrimSpace(f("promise")), Namespace: strings.TrimSpace(f("resource.namespace")),
		Resource: strings.TrimSpace(f("resource.name")), Pipeline: strings.TrimSpace(f("pipeline")),
		Selectors: strings.TrimSpace(f("destinationSelectors")), Labels: strings.TrimSpace(f("labels"))}
	group := tenants.WorkloadGroup{Directory: "."}
	paths, contents := r.PostForm["filePath"], r.PostForm["fileContent"]
	for i, path := range paths {
		content := ""
		if i < len(contents) {
			content = textarea(contents[i])
		}
		if strings.TrimSpace(path) == "" && strings.TrimSpace(content) == "" {
			continue
		}
		p.Files = append(p.Files, views.WorkFileInput{Path: path, Content: content})
		group.Files = append(group.Files, tenants.WorkFile{Path: strings.TrimSpace(path), Content: content})
	}
	req := tenants.WorkRequest{Promise: p.Promise, Pipeline: p.Pipeline, WorkloadGroups: []tenants.WorkloadGroup{group}}
	if p.Namespace != "" || p.Resource != "" {
		req.Resource = &tenants.ResourceRef{Namespace: p.Namespace, Name: p.Resource}
	}
	return req, p
}

// formWork validates the form into a Work, collecting every field error.
func formWork(req tenants.WorkRequest, selectors, labels string) (*tenants.Work, tenants.ValidationErrors, error) {
	var errs tenants.ValidationErrors
	size := 0
	for _, f := range req.WorkloadGroups[0].Files {
		size += len(f.Path) + len(f.Content)
	}
	if size > maxAPIBody {
		_ = errs.Add(tenants.Invalid("files", "are %s together, larger than %s, the limit for one Work (the API's limit too)",
			byteSize(size), byteSize(maxAPIBody)))
		return nil, errs, nil
	}
	sel, err := tenants.ParseLabelSelector("destinationSelectors", selectors)
	if err := errs.Add(err); err != nil {
		return nil, nil, err
	}
	req.WorkloadGroups[0].DestinationSelectors = sel
	if req.Labels, err = tenants.ParseLabelSelector("labels", labels); err != nil {
		if err := errs.Add(err); err != nil {
			return nil, nil, err
		}
		return nil, errs, nil
	}
	work, err := req.Work()
	if err := errs.Add(err); err != nil {
		return nil, nil, err
	}
	return work, errs, nil
}

func (s *Server) workNew(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	p := views.WorkFormProps{Files: []views.WorkFileInput{{}}, Action: tenantPath(r, "works"), PlanURL: tenantPath(r, "works/plan")}
	s.render(w, r, http.StatusOK, views.WorkNewPage(s.shell(r, "New Work", "works"), p))
}

// workPlan answers the form's "Preview plan": a dry run, nothing written.
func (s *Server) workPlan(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); isTooLarge(err) {
		s.fail(w, r, err)
		return
	}
	req, p := workForm(r)
	work, errs, err := formWork(req, p.Selectors, p.Labels)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusOK, views.PlanPanel(&views.WorkPlan{Error: views.WorkErrorText(errs, len(p.Files))}))
		return
	}
	if s.differ != nil {
		ans, err := s.planDiff(r.Context(), principal(r).Tenant.ID, work)
		if err == nil {
			s.render(w, r, http.StatusOK, views.PlanPanel(diffPlanOf(ans)))
			return
		}
		if !errors.Is(err, errStoreRead) {
			s.planFailed(w, r, err, len(p.Files))
			return
		}
		plan, err2 := s.plainPlan(r, work)
		if err2 != nil {
			s.planFailed(w, r, err2, len(p.Files))
			return
		}
		plan.DiffError = err.Error()
		s.render(w, r, http.StatusOK, views.PlanPanel(plan))
		return
	}
	plan, err := s.plainPlan(r, work)
	if err != nil {
		s.planFailed(w, r, err, len(p.Files))
		return
	}
	s.render(w, r, http.StatusOK, views.PlanPanel(plan))
}

func (s *Server) plainPlan(r *http.Request, work *tenants.Work) (*views.WorkPlan, error) {
	res, err := s.works.SubmitWork(r.Context(), principal(r).Tenant.ID, work, true)
	if err != nil {
		return nil, err
	}
	return planOf(res), nil
}

// planFailed shows a refused plan in the panel (a bad Work, its fields named as
// the form names them) or fails the request.
func (s *Server) planFailed(w http.ResponseWriter, r *http.Request, err error, files int) {
	var es tenants.ValidationErrors
	if errs := es.Add(err); errs == nil && len(es) > 0 {
		s.render(w, r, http.StatusOK, views.PlanPanel(&views.WorkPlan{Error: views.WorkErrorText(es, files)}))
		return
	}
	if code, body := statusOf(err); code < 500 {
		s.render(w, r, http.StatusOK, views.PlanPanel(&views.WorkPlan{Error: body.Error}))
		return
	}
	s.fail(w, r, err)
}

// diffPlanOf is the plan of a dry run with its diff.
func diffPlanOf(ans diffAnswer) *views.WorkPlan {
	plan := planOf(ans.SubmitResult)
	for i := range plan.Placements {
		d := ans.Placements[i].Diff
		plan.Placements[i].Diff = &d
	}
	for i := range plan.Deletes {
		d := ans.Deletes[i].Diff
		plan.Deletes[i].Diff = &d
	}
	plan.Summary = ans.Summary
	return plan
}

func planOf(res tenants.SubmitResult) *views.WorkPlan {
	plan := &views.WorkPlan{Unscheduled: res.Unscheduled}
	for _, pl := range res.Placements {
		plan.Placements = append(plan.Placements, views.PlanPlacement{Destination: pl.Destination, Paths: pl.Paths, Misplaced: pl.Misplaced})
	}
	for _, pl := range res.Deletes {
		plan.Deletes = append(plan.Deletes, views.PlanPlacement{Destination: pl.Destination, Paths: pl.Paths, Misplaced: pl.Misplaced})
	}
	return plan
}

// workSubmit is the form's "Write": the Work is accepted and written in the
// background; the Work page shows its placements live.
func (s *Server) workSubmit(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); isTooLarge(err) {
		s.fail(w, r, err)
		return
	}
	req, p := workForm(r)
	p.Action, p.PlanURL = tenantPath(r, "works"), tenantPath(r, "works/plan")
	work, errs, err := formWork(req, p.Selectors, p.Labels)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(errs) == 0 {
		work.CorrelationID = correlationID(r)
		res, err := s.works.SubmitWorkAs(r.Context(), principal(r).Tenant.ID, work, tenants.ActorOf(principal(r)), tenants.WorkAction(work))
		if err == nil {
			s.wakeWriters()
			to := tenantPath(r, fmt.Sprintf("works/%d", res.Work))
			if len(res.Unscheduled) > 0 {
				s.flash(r, views.FlashError, submittedText(res))
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			s.redirect(w, r, to, submittedText(res))
			return
		}
		if err := errs.Add(err); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if len(p.Files) == 0 {
		p.Files = []views.WorkFileInput{{}}
	}
	p.Errors = errs
	s.render(w, r, http.StatusUnprocessableEntity, views.WorkNewPage(s.shell(r, "New Work", "works"), p))
}

func (s *Server) workProps(r *http.Request) (views.WorkProps, error) {
	id, err := workID(r)
	if err != nil {
		return views.WorkProps{}, err
	}
	v, err := s.works.Work(r.Context(), principal(r).Tenant.ID, id)
	if err != nil {
		return views.WorkProps{}, err
	}
	p := views.WorkProps{ID: v.ID, Name: v.Name, Promise: v.Promise, Pipeline: v.Pipeline, TriggerID: v.TriggerID,
		Deleted: v.Deleted, Unscheduled: v.Unscheduled, UpdatedAt: v.UpdatedAt, Final: true,
		StatusURL: tenantPath(r, fmt.Sprintf("works/%d/placements", v.ID)),
		Labels:    v.Labels, RequestedBy: v.RequestedBy, CorrelationID: v.CorrelationID, Versions: v.Versions}
	if v.Resource != nil {
		p.Namespace, p.Resource = v.Resource.Namespace, v.Resource.Name
	}
	for _, pl := range v.Placements {
		p.Placements = append(p.Placements, views.PlacementRow{Destination: pl.Destination, Name: pl.Name, Paths: pl.Paths,
			State: pl.State, Attempts: pl.Attempts, NextAttemptAt: pl.NextAttemptAt, Version: pl.Version, StoreKind: pl.StoreKind,
			Error: pl.Error, Misplaced: pl.Misplaced, Deleting: pl.Deleting, UpdatedAt: pl.UpdatedAt, PullRequest: pl.PullRequest})
		if !tenants.FinalState(pl.State) {
			p.Final = false // a retrying placement is not final either: keep watching
		}
		if pl.State == tenants.StateRetrying || pl.State == tenants.StateFailed {
			p.Retryable = true
		}
	}
	if v.TriggerID != nil {
		if t, err := s.store.Trigger(r.Context(), principal(r).Tenant.ID, *v.TriggerID); err == nil {
			p.TriggerName = t.Name
		}
	}
	hist, err := s.store.AuditLog(r.Context(), principal(r).Tenant.ID, db.AuditQuery{ObjectKind: tenants.AuditWork, ObjectID: v.ID, Limit: 20})
	if err != nil {
		return views.WorkProps{}, err
	}
	p.History = hist.Items
	p.HistoryURL = fmt.Sprintf("GET /api/v1/tenants/%s/audit?kind=Work&id=%d", principal(r).Tenant.Slug, v.ID)
	return p, nil
}

func (s *Server) workPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.workProps(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.WorkPage(s.shell(r, p.Name, "works"), p))
}

// workPlacements is the live placements fragment, polled until nothing is
// pending or writing.
func (s *Server) workPlacements(w http.ResponseWriter, r *http.Request) {
	p, err := s.workProps(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.WorkPlacements(p))
}

// workRetry ("Retry now") writes the Work's retrying and failed placements again
// at once.
func (s *Server) workRetry(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.works.RetryWork(r.Context(), principal(r).Tenant.ID, id, tenants.ActorOf(principal(r)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	s.redirect(w, r, tenantPath(r, fmt.Sprintf("works/%d", id)), "Retrying "+countOf(n, "placement", "placements")+" now.")
}

// workRewrite submits the Work's current content again (after a failure, or to
// repair drift now rather than at the next re-assert).
func (s *Server) workRewrite(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := principal(r).Tenant.ID
	v, err := s.works.Work(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Deleted {
		s.formError(w, r, tenants.Conflict("%s was deleted; submit it again to bring it back", v.Name), tenantPath(r, fmt.Sprintf("works/%d", id)))
		return
	}
	work := &tenants.Work{Promise: v.Promise, Resource: v.Resource, Pipeline: v.Pipeline, Groups: v.Groups, TriggerID: v.TriggerID,
		Labels: v.Labels, CorrelationID: correlationID(r)}
	if _, err := s.works.SubmitWorkAs(r.Context(), tid, work, tenants.ActorOf(principal(r)), "rewrite"); err != nil {
		s.formError(w, r, err, tenantPath(r, fmt.Sprintf("works/%d", id)))
		return
	}
	s.wakeWriters()
	s.redirect(w, r, tenantPath(r, fmt.Sprintf("works/%d", id)), "Writing "+v.Name+" again.")
}

func (s *Server) workDelete(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := workID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.deleteWork(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.wakeWriters()
	s.redirect(w, r, tenantPath(r, fmt.Sprintf("works/%d", id)), "Removing the Work's files.")
}

// submittedText is the answer to the Work form: where it is being written, and,
// loudly, what was placed nowhere.
func submittedText(res tenants.SubmitResult) string {
	placed := len(res.Placements)
	switch {
	case len(res.Unscheduled) == 0:
		return fmt.Sprintf("Work accepted: writing it to %s now.", countOf(placed, "Destination", "Destinations"))
	case placed == 0:
		return "Work saved but not written anywhere: " + res.Unscheduled[0].Reason +
			". It waits and is written as soon as a matching Destination with a ready State Store exists."
	default:
		return fmt.Sprintf("Work accepted: writing it to %s, but %s placed nowhere: %s.", countOf(placed, "Destination", "Destinations"),
			countOf(len(res.Unscheduled), "workload group is", "workload groups are"), res.Unscheduled[0].Reason)
	}
}

// countOf is "1 thing" or "n things".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
