package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

var errCrossOrigin = errors.New("cross-origin request refused")

// apiError is the JSON error shape of the API: {"error": "...", "field": "..."}.
type apiError struct {
	Error  string          `json:"error"`
	Field  string          `json:"field,omitempty"`
	Errors []apiFieldError `json:"errors,omitempty"`
}

type apiFieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// statusOf is the one mapping from errors to status codes and safe messages. An
// error it does not know is internal: logged once here, shown as "internal error".
func statusOf(err error) (int, apiError) {
	var ve *tenants.ValidationError
	var ves tenants.ValidationErrors
	var le errLogin
	var idp errIdPUnreachable
	var tooBig *http.MaxBytesError
	var syntax *tenants.SyntaxError
	var unknown errUnknownParam
	switch {
	case errors.As(err, &ves):
		out := apiError{Error: ves.Error()}
		for _, e := range ves {
			out.Errors = append(out.Errors, apiFieldError{Field: e.Field, Message: e.Message})
		}
		if len(ves) > 0 {
			out.Field = ves[0].Field
		}
		return http.StatusUnprocessableEntity, out
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, apiError{Error: ve.Error(), Field: ve.Field}
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, apiError{Error: limitOf(tooBig.Limit)}
	case errors.As(err, &idp):
		return http.StatusServiceUnavailable, apiError{Error: idp.Error()}
	case errors.As(err, &le):
		return http.StatusBadRequest, apiError{Error: le.msg}
	case errors.As(err, &syntax):
		return http.StatusBadRequest, apiError{Error: syntax.Error(), Field: syntax.Field}
	case errors.As(err, &unknown):
		return http.StatusBadRequest, apiError{Error: unknown.Error(), Field: unknown.name}
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, apiError{Error: strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")}
	case errors.Is(err, tenants.ErrNotFound):
		return http.StatusNotFound, apiError{Error: err.Error()}
	case errors.Is(err, tenants.ErrConflict):
		return http.StatusConflict, apiError{Error: strings.TrimPrefix(err.Error(), "conflict: ")}
	case errors.Is(err, tenants.ErrForbidden):
		return http.StatusForbidden, apiError{Error: "your role does not allow this"}
	case errors.Is(err, tenants.ErrUnauthenticated):
		return http.StatusUnauthorized, apiError{Error: "authentication required: send Authorization: Bearer <token> or sign in"}
	case errors.Is(err, errStoreRead):
		return http.StatusBadGateway, apiError{Error: err.Error()}
	case errors.Is(err, errCrossOrigin):
		return http.StatusForbidden, apiError{Error: "cross-origin request refused"}
	case errors.Is(err, db.ErrCommitInDoubt):
		return http.StatusServiceUnavailable, apiError{Error: errCommitInDoubt}
	case db.Unavailable(err):
		return http.StatusServiceUnavailable, apiError{Error: errDatabaseUnavailable}
	}
	return http.StatusInternalServerError, apiError{Error: "internal error"}
}

// errBadRequest marks malformed input (not JSON, not YAML, bad header).
var errBadRequest = errors.New("bad request")

// errDatabaseUnavailable is what a request that needed the database answers
// while the database cannot be reached or is refusing work (503).
const errDatabaseUnavailable = "the database is unavailable (unreachable, restarting or out of space); nothing was changed, retry shortly"

// errCommitInDoubt is the 503 of a change whose COMMIT lost its connection:
// unlike errDatabaseUnavailable it cannot say that nothing changed.
const errCommitInDoubt = "the database connection was lost while saving: the change may or may not have been saved; " +
	"repeat it shortly to be sure: submitting the same Work, applying the same manifest or repeating an Idempotency-Key does nothing twice"

// retryAfterUnavailable is the Retry-After of a 503: the database usually comes
// back within seconds (a restart, a failover), and clients retry sooner than
// they would guess.
const retryAfterUnavailable = "2"

// fail answers err in the form the client expects: JSON for the API and webhooks,
// an error page for the dashboard.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, body := statusOf(err)
	switch code {
	case http.StatusInternalServerError:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.log.Warn("request answered 503: "+body.Error, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, code, body)
		return
	}
	if code == http.StatusUnauthorized {
		back := r.URL.Path
		if r.Method == http.MethodGet {
			back = r.URL.RequestURI() // with its query: the page comes back as it was asked for
		}
		http.Redirect(w, r, "/login?return="+url.QueryEscape(back), http.StatusSeeOther)
		return
	}
	s.renderError(w, r, code, body.Error)
}

func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/hooks/") ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Answers are JSON, never HTML: "<" stays "<" in messages such as "<promise>".
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
