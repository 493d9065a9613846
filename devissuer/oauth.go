package devissuer

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
)

// oauthError is an RFC 6749 error response: a JSON body from /token, query parameters
// on the redirect from /authorize.
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc}
}

func invalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}

func invalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}

// writeJSON writes v with the no-store headers RFC 6749 section 5.1 asks of every
// response carrying or refusing tokens.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("devissuer: write response", "error", err)
	}
}

// writeOAuthError writes err as an RFC 6749 error; anything but an *oauthError is
// logged and answered as server_error.
func writeOAuthError(w http.ResponseWriter, err error) {
	e, ok := err.(*oauthError)
	if !ok {
		slog.Error("devissuer: token request failed", "error", err)
		e = &oauthError{http.StatusInternalServerError, "server_error", "internal error"}
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="devissuer"`)
	}
	writeJSON(w, e.status, e)
}

// readForm parses a bounded urlencoded body and returns its parameters only (never the
// query string), refusing any parameter given twice (RFC 6749 section 3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the request body is not a valid form")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, invalidRequest("parameter " + k + " is repeated")
		}
	}
	return r.PostForm, nil
}
