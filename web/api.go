package web

import (
	"net/http"
)

// apiTenantInfo answers who the caller is in this tenant: a cheap way for a script
// to check its token.
func (s *Server) apiTenantInfo(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant": map[string]string{"slug": p.Tenant.Slug, "name": p.Tenant.Name},
		"role":   p.Role,
	})
}
