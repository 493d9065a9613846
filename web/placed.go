package web

import (
	"net/http"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/views"
)

// placedOn is a Destination's page: its fields and the files placed on it.
func (s *Server) placedOn(r *http.Request, d tenants.Destination) (views.DestinationProps, error) {
	return views.DestinationProps{Dest: d}, nil
}
