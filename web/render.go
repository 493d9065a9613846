package web

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/a-h/templ"

	"github.com/stateward/stateward/static"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// render writes a component only after it rendered completely, so a failure never
// sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		s.log.Error("render failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// shell is the layout's data for this request: who, which team, the flash.
func (s *Server) shell(r *http.Request, title, nav string) views.Shell {
	sh := views.Shell{Title: title, Nav: nav, CSS: static.URL("app.css"), JS: static.URL("app.js"), Icon: static.URL("favicon.svg"), HTMX: static.URL("htmx.min.js")}
	u, ok := userFrom(r.Context())
	if !ok {
		return sh
	}
	sh.Email = u.Email
	sh.Teams, _ = s.store.Memberships(r.Context(), u.ID)
	if p, ok := tenants.PrincipalFrom(r.Context()); ok {
		t := p.Tenant
		sh.Current, sh.Role = &t, p.Role
	}
	sh.Flash = s.takeFlash(r.Context(), r)
	return sh
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	title := http.StatusText(code)
	switch code {
	case http.StatusNotFound:
		msg = "There is nothing here, or it belongs to a team you are not in."
	case http.StatusForbidden:
		if msg == "" || msg == "your role does not allow this" {
			msg = "Your role in this team does not allow this. Ask an owner."
		}
	}
	s.render(w, r, code, views.ErrorPage(s.shell(r, title, ""), code, title, msg))
}

// flash sets a one-time message for the next page of this session.
func (s *Server) flash(r *http.Request, kind, text string) {
	if id, ok := s.sessionID(r); ok {
		if err := s.store.SetFlash(r.Context(), id, kind+":"+text); err != nil {
			s.log.Warn("flash not saved", "err", err)
		}
	}
}

func (s *Server) takeFlash(ctx context.Context, r *http.Request) *views.Flash {
	id, ok := s.sessionID(r)
	if !ok {
		return nil
	}
	f, err := s.store.TakeFlash(ctx, id)
	if err != nil || f == "" {
		return nil
	}
	kind, text, _ := strings.Cut(f, ":")
	return &views.Flash{Kind: kind, Text: text}
}

// redirect answers a successful form POST (POST-redirect-GET) with a flash.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		s.flash(r, views.FlashOK, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// tenantPath is /t/{slug}/ + rest for the request's tenant.
func tenantPath(r *http.Request, rest string) string {
	return "/t/" + principal(r).Tenant.Slug + "/" + rest
}

// textarea undoes the CRLF line endings browsers submit textareas with, so that
// YAML pasted into the dashboard is written with the \n a GitOps repository
// expects.
func textarea(v string) string { return strings.ReplaceAll(v, "\r\n", "\n") }
