package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// Audit is the audit log: every change to a tenant's objects, with who made it.
type Audit interface {
	RecordAudit(ctx context.Context, tenantID int64, ev tenants.AuditEvent) error
	AuditLog(ctx context.Context, tenantID int64, q db.AuditQuery) (db.AuditPage, error)
}

// audit records that the request's actor did action to obj. The change itself has
// been made, so a failure to record it is logged (as an error) rather than undone.
func (s *Server) audit(r *http.Request, action string, obj tenants.AuditObject, detail string) {
	p := principal(r)
	ev := tenants.AuditEvent{Actor: tenants.ActorOf(p), Action: action, Object: obj, Detail: detail}
	if err := s.store.RecordAudit(r.Context(), p.Tenant.ID, ev); err != nil {
		s.log.Error("audit event not recorded", "tenant_id", p.Tenant.ID, "action", action, "object_kind", obj.Kind,
			"object_name", obj.Name, "err", err)
	}
}

// auditQuery reads ?before and ?limit of an audit page.
func auditQuery(r *http.Request) (db.AuditQuery, error) {
	q := db.AuditQuery{Before: r.URL.Query().Get("before")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return q, tenants.Invalid("limit", "must be a number from 1 to 500")
		}
		q.Limit = n
	}
	if k := r.URL.Query().Get("kind"); k != "" {
		id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		if err != nil {
			return q, tenants.Invalid("id", "must be the id of the object named by kind")
		}
		q.ObjectKind, q.ObjectID = k, id
	}
	return q, nil
}

// apiAudit is GET …/audit: who did what, newest first, paginated with
// ?before=<next>; ?kind=Work&id=N narrows it to one object.
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	if page, _, ok := s.auditLog(w, r); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

// auditLog reads the page of the tenant's audit log the request asks for; ok is
// false when it has answered with the error.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) (page db.AuditPage, q db.AuditQuery, ok bool) {
	q, err := auditQuery(r)
	if err == nil {
		page, err = s.store.AuditLog(r.Context(), principal(r).Tenant.ID, q)
	}
	if err != nil {
		s.fail(w, r, err)
		return page, q, false
	}
	return page, q, true
}

// auditPage is the dashboard's audit log.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	page, q, ok := s.auditLog(w, r)
	if !ok {
		return
	}
	p := views.AuditProps{Events: page.Items, Paged: q.Before != ""}
	if page.Next != "" {
		p.NextURL = tenantPath(r, "audit?before="+page.Next)
	}
	s.render(w, r, http.StatusOK, views.AuditPage(s.shell(r, "Audit log", "audit"), p))
}

// createOrUpdate is the audit verb of a form that creates or edits.
func createOrUpdate(edit bool) string {
	if edit {
		return "update"
	}
	return "create"
}

// applyAction is the audit verb of an apply result (created, updated).
func applyAction(result string) string {
	switch result {
	case "created":
		return "create"
	case "updated":
		return "update"
	}
	return result
}
