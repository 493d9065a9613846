package web

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of the JSON API and the webhook.
// The web test suite validates every request and answer it makes against it, so
// it stays true; change it with the handlers.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument is the API's OpenAPI 3.1 description, as served at
// /api/v1/openapi.json.
func OpenAPIDocument() []byte { return openAPIDocument }

// openAPI serves the description without authentication: it names no tenant and
// nothing secret, and client generators fetch it before they hold a token.
// Like every /api/v1 route it refuses a query parameter it does not document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
