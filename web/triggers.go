package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
)

// triggerInput is the body of POST …/triggers.
type triggerInput struct {
	Name    string `json:"name"`
	Promise string `json:"promise"`
	// RequireSignature is true when absent: an unsigned trigger is a choice.
	RequireSignature *bool   `json:"requireSignature"`
	RatePerSecond    float64 `json:"ratePerSecond"`
}

// unsignedRisk is the API's warning on a trigger created without a signature.
const unsignedRisk = "requireSignature is false: anyone who learns the URL can write and delete this team's Works " +
	"through it; sign the requests (requireSignature: true) or at least set ratePerSecond"

func (in triggerInput) trigger(tenantID int64) (tenants.Trigger, error) {
	var errs tenants.ValidationErrors
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		_ = errs.Add(tenants.Invalid("name", "is required, at most 100 characters"))
	}
	if in.Promise != "" {
		_ = errs.Add(tenants.ValidatePromiseName("promise", in.Promise))
	}
	if in.RatePerSecond < 0 || in.RatePerSecond > 100000 {
		_ = errs.Add(tenants.Invalid("ratePerSecond", "must be between 0 (no limit) and 100000"))
	}
	return tenants.Trigger{TenantID: tenantID, Name: name, Promise: in.Promise,
		RequireSignature: in.RequireSignature == nil || *in.RequireSignature, RatePerSecond: in.RatePerSecond}, errs.Err()
}

// hookURL is the absolute webhook URL of a token.
func (s *Server) hookURL(token string) string { return s.cfg.PublicURL + "/hooks/" + token }

// createTrigger validates and creates a trigger; a duplicate name is a field error.
func (s *Server) createTrigger(r *http.Request, in triggerInput) (tenants.Trigger, string, string, error) {
	t, err := in.trigger(principal(r).Tenant.ID)
	if err != nil {
		return t, "", "", err
	}
	t, token, secret, err := s.store.CreateTrigger(r.Context(), t)
	if errors.Is(err, tenants.ErrConflict) {
		err = tenants.Invalid("name", "a trigger named %q already exists", t.Name)
	}
	if err == nil {
		detail := "signature not required"
		if t.RequireSignature {
			detail = "signature required"
		}
		if t.Promise != "" {
			detail += ", pinned to promise " + t.Promise
		}
		s.audit(r, "create", tenants.AuditObject{Kind: tenants.AuditTrigger, ID: t.ID, Name: t.Name}, detail)
	}
	return t, token, secret, err
}

// apiCreateTrigger is POST …/triggers → {id, url, secret} (shown once).
func (s *Server) apiCreateTrigger(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	var in triggerInput
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := tenants.CheckJSONText(body); err != nil {
		s.fail(w, r, err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.fail(w, r, fmt.Errorf("%w: malformed JSON: %v", errBadRequest, err))
		return
	}
	t, token, secret, err := s.createTrigger(r, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := map[string]any{"id": t.ID, "name": t.Name, "url": s.hookURL(token), "secret": secret,
		"promise": t.Promise, "requireSignature": t.RequireSignature, "ratePerSecond": t.RatePerSecond}
	if !t.RequireSignature {
		out["warning"] = unsignedRisk
	}
	writeJSON(w, http.StatusCreated, out)
}

func triggerID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, tenants.NotFound("trigger", chi.URLParam(r, "id"))
	}
	return id, nil
}

// apiRotateTrigger is POST …/triggers/{id}/rotate → {secret}; the old secret is
// accepted for 24 h.
func (s *Server) apiRotateTrigger(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := triggerID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	secret, err := s.store.RotateTriggerSecret(r.Context(), principal(r).Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditTrigger(r, "rotate", id, "the previous secret is accepted for 24 h")
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "secret": secret, "previousValidFor": "24h"})
}

// apiRevokeTrigger is DELETE …/triggers/{id}: its URL answers 404 from now on.
func (s *Server) apiRevokeTrigger(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := triggerID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.RevokeTrigger(r.Context(), principal(r).Tenant.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditTrigger(r, "revoke", id, "")
	w.WriteHeader(http.StatusNoContent)
}

// apiListTriggers is GET …/triggers.
func (s *Server) apiListTriggers(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.Triggers(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]map[string]any, len(list))
	for i, t := range list {
		items[i] = triggerJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// apiGetTrigger is GET …/triggers/{id} with its recent deliveries.
func (s *Server) apiGetTrigger(w http.ResponseWriter, r *http.Request) {
	id, err := triggerID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := principal(r).Tenant.ID
	t, err := s.store.Trigger(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dels, err := s.store.Deliveries(r.Context(), tid, id, 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := triggerJSON(t)
	out["deliveries"] = dels
	writeJSON(w, http.StatusOK, out)
}

func triggerJSON(t tenants.Trigger) map[string]any {
	return map[string]any{"id": t.ID, "name": t.Name, "promise": t.Promise, "requireSignature": t.RequireSignature,
		"ratePerSecond": t.RatePerSecond, "createdAt": t.CreatedAt, "lastUsedAt": t.LastUsedAt, "revokedAt": t.RevokedAt}
}

// auditTrigger records a change to trigger id under its name.
func (s *Server) auditTrigger(r *http.Request, action string, id int64, detail string) {
	name := "#" + strconv.FormatInt(id, 10)
	if t, err := s.store.Trigger(r.Context(), principal(r).Tenant.ID, id); err == nil {
		name = t.Name
	}
	s.audit(r, action, tenants.AuditObject{Kind: tenants.AuditTrigger, ID: id, Name: name}, detail)
}
