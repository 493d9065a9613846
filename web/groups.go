package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/stateward/stateward/tenants"
)

// apiGroupRoles is GET …/grouproles: the tenant's IdP group → role mappings.
func (s *Server) apiGroupRoles(w http.ResponseWriter, r *http.Request) {
	gs, err := s.store.GroupRoles(r.Context(), principal(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(gs), "claim": s.auth.groupsClaim()})
}

// apiSetGroupRoles is PUT …/grouproles {"items": [{"group", "role"}]}: replaces
// the mappings (owners only).
func (s *Server) apiSetGroupRoles(w http.ResponseWriter, r *http.Request) {
	if err := authorize(r, tenants.RoleOwner); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := tenants.CheckJSONText(body); err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Items []tenants.GroupRole `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.fail(w, r, fmt.Errorf("%w: malformed JSON: %v", errBadRequest, err))
		return
	}
	if err := tenants.ValidateGroupRoles("items", in.Items); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.SetGroupRoles(r.Context(), principal(r).Tenant.ID, in.Items); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(in.Items), "claim": s.auth.groupsClaim()})
}

func nonNil(gs []tenants.GroupRole) []tenants.GroupRole {
	if gs == nil {
		return []tenants.GroupRole{}
	}
	return gs
}
