package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// home sends a signed-in person to their first team (or to "create a team") and
// shows the landing page to everyone else.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	u, ok := userFrom(r.Context())
	if !ok {
		s.render(w, r, http.StatusOK, views.LandingPage(s.shell(r, "Welcome", ""), views.LandingProps{LoginURL: "/login"}))
		return
	}
	teams, err := s.store.Memberships(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(teams) == 0 {
		http.Redirect(w, r, "/teams/new", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/t/"+teams[0].Tenant.Slug+"/", http.StatusSeeOther)
}

func (s *Server) teamNew(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	teams, _ := s.store.Memberships(r.Context(), u.ID)
	s.render(w, r, http.StatusOK, views.TeamNewPage(s.shell(r, "Create a team", ""),
		views.TeamNewProps{NoTeam: len(teams) == 0, ValidateURL: "/teams/validate", Unverified: !u.EmailVerified}))
}

// errUnverifiedOwner refuses a team to a person whose email the IdP has not
// verified: ownership links by verified email, so the team would wait for whoever
// signs in with it verified, and its creator would get 404.
var errUnverifiedOwner = errors.New("your identity provider has not verified your email address; " +
	"teams link people by verified email, so verify it with your identity provider and sign in again to create a team")

func teamForm(r *http.Request) (slug, name string, errs tenants.ValidationErrors) {
	slug = strings.TrimSpace(r.PostFormValue("slug"))
	name = strings.TrimSpace(r.PostFormValue("name"))
	_ = errs.Add(tenants.ValidateSlug("slug", slug))
	if len(name) > 100 {
		_ = errs.Add(tenants.Invalid("name", "must be at most 100 characters"))
	}
	return slug, name, errs
}

// teamCreate makes the signed-in person the owner of a new team.
func (s *Server) teamCreate(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if !u.EmailVerified {
		s.fail(w, r, tenants.Invalid("email", "%s", errUnverifiedOwner.Error()))
		return
	}
	slug, name, errs := teamForm(r)
	if len(errs) == 0 {
		t, err := s.store.CreateTenant(r.Context(), slug, name, u.Email)
		if err == nil {
			ev := tenants.AuditEvent{Actor: tenants.Actor{Kind: tenants.ActorPerson, ID: u.ID, Name: u.Email}, Action: "create",
				Object: tenants.AuditObject{Kind: tenants.AuditTeam, ID: t.ID, Name: slug}, Detail: "owner " + u.Email}
			if err := s.store.RecordAudit(r.Context(), t.ID, ev); err != nil {
				s.log.Error("audit event not recorded", "tenant_id", t.ID, "action", "create", "err", err)
			}
			s.redirect(w, r, "/t/"+slug+"/", "Team "+slug+" created. You are its owner.")
			return
		}
		if !errors.Is(err, tenants.ErrConflict) {
			s.fail(w, r, err)
			return
		}
		_ = errs.Add(tenants.Invalid("slug", "%q is taken; choose another slug", slug))
	}
	s.render(w, r, http.StatusUnprocessableEntity, views.TeamNewPage(s.shell(r, "Create a team", ""),
		views.TeamNewProps{Slug: slug, Name: name, Errors: errs, ValidateURL: "/teams/validate"}))
}

// teamValidate is the inline validation of the team form: it answers the one field
// that changed (HX-Trigger-Name), re-rendered with its message, always 200. It
// says a slug is taken only to a member of that team: to anyone else it would be
// a way to list every team (creating the team still refuses a taken slug).
func (s *Server) teamValidate(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	slug, name, errs := teamForm(r)
	if errs.For("slug") == "" && slug != "" {
		if t, err := s.store.TenantBySlug(r.Context(), slug); err == nil {
			if _, err := s.store.RoleOf(r.Context(), t.ID, u.ID); err == nil {
				_ = errs.Add(tenants.Invalid("slug", "%q is taken; choose another slug", slug))
			}
		}
	}
	s.renderField(w, r, views.TeamFields(views.TeamNewProps{Slug: slug, Name: name, Errors: errs, ValidateURL: "/teams/validate"}))
}

// renderField answers an inline validation request with the message of the
// field htmx names (only the message: the input keeps what is being typed).
func (s *Server) renderField(w http.ResponseWriter, r *http.Request, fields []views.FieldProps) {
	f, ok := views.FieldNamed(fields, r.Header.Get("HX-Trigger-Name"))
	if !ok {
		s.fail(w, r, tenants.Invalid("HX-Trigger-Name", "unknown field %q", r.Header.Get("HX-Trigger-Name")))
		return
	}
	s.render(w, r, http.StatusOK, views.FieldError(f))
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	s.renderMembers(w, r, http.StatusOK, views.MembersProps{Role: string(tenants.RoleViewer)})
}

func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, code int, p views.MembersProps) {
	ms, err := s.store.Members(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.Members, p.AllowedDomain, p.SelfUserID = ms, principal(r).Tenant.AllowedDomain, principal(r).UserID
	s.render(w, r, code, views.MembersPage(s.shell(r, "Members", "members"), p))
}

// memberAdd invites an email address with a role (owners only).
func (s *Server) memberAdd(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	var errs tenants.ValidationErrors
	email, err := tenants.ValidateEmail("email", r.PostFormValue("email"))
	_ = errs.Add(err)
	role, err := tenants.ParseRole("role", r.PostFormValue("role"))
	_ = errs.Add(err)
	if len(errs) == 0 {
		err := s.store.AddMember(r.Context(), principal(r).Tenant.ID, email, role)
		if err == nil {
			s.audit(r, "add", tenants.AuditObject{Kind: tenants.AuditMember, Name: email}, "as "+string(role))
			s.redirect(w, r, tenantPath(r, "members"), email+" added as "+string(role)+".")
			return
		}
		if !errors.Is(err, tenants.ErrConflict) {
			s.fail(w, r, err)
			return
		}
		_ = errs.Add(tenants.Invalid("email", "%s is already a member", email))
	}
	s.renderMembers(w, r, http.StatusUnprocessableEntity, views.MembersProps{Email: r.PostFormValue("email"), Role: r.PostFormValue("role"), Errors: errs})
}

// memberRole changes a member's role (owners only).
func (s *Server) memberRole(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.PostFormValue("email")
	role, err := tenants.ParseRole("role", r.PostFormValue("role"))
	if err == nil {
		err = s.store.SetMemberRole(r.Context(), principal(r).Tenant.ID, email, role)
	}
	if err != nil {
		s.formError(w, r, err, tenantPath(r, "members"))
		return
	}
	s.audit(r, "role", tenants.AuditObject{Kind: tenants.AuditMember, Name: email}, "now "+string(role))
	s.redirect(w, r, tenantPath(r, "members"), email+" is now "+string(role)+".")
}

// memberRemove removes a member (owners only; never the last owner).
func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.PostFormValue("email")
	if err := s.store.RemoveMember(r.Context(), principal(r).Tenant.ID, email); err != nil {
		s.formError(w, r, err, tenantPath(r, "members"))
		return
	}
	s.audit(r, "remove", tenants.AuditObject{Kind: tenants.AuditMember, Name: email}, "")
	s.redirect(w, r, tenantPath(r, "members"), email+" removed; tokens they made with stateward login no longer work.")
}

// formError shows a validation or conflict message as an error flash on the page
// the form came from; anything else fails normally.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error, back string) {
	code, body := statusOf(err)
	if code != http.StatusUnprocessableEntity && code != http.StatusConflict && code != http.StatusNotFound {
		s.fail(w, r, err)
		return
	}
	s.flash(r, views.FlashError, body.Error)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *Server) tokens(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, views.TokensProps{Role: string(tenants.RoleEditor)})
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, code int, p views.TokensProps) {
	ts, err := s.store.Tokens(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.Tokens, p.BaseURL = ts, s.cfg.PublicURL
	s.render(w, r, code, views.TokensPage(s.shell(r, "API tokens", "tokens"), p))
}

// tokenCreate makes an API token (owners only) and shows its secret once, in this
// response only — it is not stored anywhere but as a hash.
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	var errs tenants.ValidationErrors
	role, err := tenants.ParseRole("role", r.PostFormValue("role"))
	_ = errs.Add(err)
	var secret string
	if len(errs) == 0 {
		var tok tenants.Token
		tok, secret, err = s.store.CreateToken(r.Context(), principal(r).Tenant.ID, name, role)
		if err := errs.Add(err); err != nil {
			s.fail(w, r, err)
			return
		}
		if err == nil {
			s.audit(r, "create", tenants.AuditObject{Kind: tenants.AuditToken, ID: tok.ID, Name: name}, "role "+string(role))
		}
	}
	if len(errs) > 0 {
		s.renderTokens(w, r, http.StatusUnprocessableEntity, views.TokensProps{Name: name, Role: r.PostFormValue("role"), Errors: errs})
		return
	}
	s.renderTokens(w, r, http.StatusOK, views.TokensProps{NewToken: secret, Role: string(tenants.RoleEditor)})
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.fail(w, r, tenants.NotFound("token", chi.URLParam(r, "id")))
		return
	}
	if err := s.store.RevokeToken(r.Context(), principal(r).Tenant.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "revoke", tenants.AuditObject{Kind: tenants.AuditToken, ID: id, Name: "#" + strconv.FormatInt(id, 10)}, "")
	s.redirect(w, r, tenantPath(r, "tokens"), "Token revoked.")
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	t := principal(r).Tenant
	gs, err := s.store.GroupRoles(r.Context(), t.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.SettingsPage(s.shell(r, "Settings", "settings"),
		views.SettingsProps{Name: t.Name, AllowedDomain: t.AllowedDomain, GroupRoles: tenants.FormatGroupRoles(gs),
			GroupsClaim: s.auth.groupsClaim()}))
}

// settingsSave changes the team name and allowed email domain (owners only).
func (s *Server) settingsSave(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	var errs tenants.ValidationErrors
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 100 {
		_ = errs.Add(tenants.Invalid("name", "is required, at most 100 characters"))
	}
	domain, err := tenants.ValidateDomain("allowedDomain", r.PostFormValue("allowedDomain"))
	_ = errs.Add(err)
	groups, err := tenants.ParseGroupRoles("groupRoles", textarea(r.PostFormValue("groupRoles")))
	_ = errs.Add(err)
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, views.SettingsPage(s.shell(r, "Settings", "settings"),
			views.SettingsProps{Name: name, AllowedDomain: r.PostFormValue("allowedDomain"), Errors: errs,
				GroupRoles: r.PostFormValue("groupRoles"), GroupsClaim: s.auth.groupsClaim()}))
		return
	}
	if err := s.store.UpdateTenantSettings(r.Context(), principal(r).Tenant.ID, name, domain); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.SetGroupRoles(r.Context(), principal(r).Tenant.ID, groups); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "update", tenants.AuditObject{Kind: tenants.AuditTeam, ID: principal(r).Tenant.ID, Name: principal(r).Tenant.Slug},
		"name "+strconv.Quote(name)+", allowed domain "+strconv.Quote(domain)+", "+strconv.Itoa(len(groups))+" group role(s)")
	s.redirect(w, r, tenantPath(r, "settings"), "Settings saved.")
}
