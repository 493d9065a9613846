package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

func (s *Server) triggersPage(w http.ResponseWriter, r *http.Request) {
	s.renderTriggers(w, r, http.StatusOK, views.TriggersProps{RequireSignature: true})
}

func (s *Server) renderTriggers(w http.ResponseWriter, r *http.Request, code int, p views.TriggersProps) {
	ts, err := s.store.Triggers(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.Triggers = ts
	s.render(w, r, code, views.TriggersPage(s.shell(r, "Triggers", "triggers"), p))
}

// triggerCreate makes a trigger from the form and shows its URL and secret once,
// in this answer only (no redirect: they cannot be shown again).
func (s *Server) triggerCreate(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleEditor); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostFormValue
	p := views.TriggersProps{Name: f("name"), Promise: strings.TrimSpace(f("promise")), Rate: strings.TrimSpace(f("ratePerSecond")),
		RequireSignature: f("requireSignature") == "true"}
	in := triggerInput{Name: p.Name, Promise: p.Promise, RequireSignature: &p.RequireSignature}
	if p.Rate != "" {
		rate, err := strconv.ParseFloat(p.Rate, 64)
		if err != nil {
			p.Errors = tenants.ValidationErrors{{Field: "ratePerSecond", Message: "must be a number of requests per second (0 or empty: no limit)"}}
			s.renderTriggers(w, r, http.StatusUnprocessableEntity, p)
			return
		}
		in.RatePerSecond = rate
	}
	t, token, secret, err := s.createTrigger(r, in)
	if err != nil {
		if err := p.Errors.Add(err); err != nil {
			s.fail(w, r, err)
			return
		}
		s.renderTriggers(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	s.render(w, r, http.StatusOK, views.TriggerCreatedPage(s.shell(r, "Trigger "+t.Name, "triggers"),
		views.TriggerCreatedProps{Trigger: t, URL: s.hookURL(token), Secret: secret, Slug: principal(r).Tenant.Slug}))
}

func (s *Server) triggerProps(r *http.Request) (views.TriggerProps, error) {
	id, err := triggerID(r)
	if err != nil {
		return views.TriggerProps{}, err
	}
	tid := principal(r).Tenant.ID
	t, err := s.store.Trigger(r.Context(), tid, id)
	if err != nil {
		return views.TriggerProps{}, err
	}
	dels, err := s.store.Deliveries(r.Context(), tid, id, 50)
	p := views.TriggerProps{Trigger: t}
	for _, d := range dels {
		p.Deliveries = append(p.Deliveries, views.DeliveryRow{At: d.At, SourceIP: d.SourceIP, Status: d.Status, WorkID: d.WorkID, Error: d.Error})
	}
	return p, err
}

func (s *Server) triggerPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.triggerProps(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.TriggerPage(s.shell(r, "Trigger "+p.Trigger.Name, "triggers"), p))
}

// triggerRotate gives the trigger a new secret and shows it once; the old one
// keeps working for 24 h.
func (s *Server) triggerRotate(w http.ResponseWriter, r *http.Request) {
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
	p, err := s.triggerProps(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.NewSecret = secret
	s.render(w, r, http.StatusOK, views.TriggerPage(s.shell(r, "Trigger "+p.Trigger.Name, "triggers"), p))
}

func (s *Server) triggerRevoke(w http.ResponseWriter, r *http.Request) {
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
	s.redirect(w, r, tenantPath(r, fmt.Sprintf("triggers/%d", id)), "Trigger revoked: its URL answers 404 from now on.")
}
