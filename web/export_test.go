package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Routes lists every method and pattern s serves, for tests that walk the sitemap.
func Routes(s *Server) ([][2]string, error) {
	var out [][2]string
	err := chi.Walk(s.routes().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, [2]string{method, route})
		return nil
	})
	return out, err
}
