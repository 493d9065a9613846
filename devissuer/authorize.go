package devissuer

import (
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	maxParamLen = 1024 // any authorization request parameter
	maxEmailLen = 254
	maxNameLen  = 100
)

// authParams are the authorization request parameters the issuer reads; each may be
// given at most once (RFC 6749 section 3.1).
var authParams = []string{"client_id", "redirect_uri", "response_type", "scope",
	"state", "nonce", "code_challenge", "code_challenge_method"}

// authRequest is an authorization request that passed validation.
type authRequest struct {
	ClientID, RedirectURI, Scope, State, Nonce, CodeChallenge string
}

// pageError refuses a request whose client or redirect URI cannot be trusted: it is
// shown to the user and never redirected (RFC 6749 section 4.1.2.1).
type pageError struct{ message string }

func (e *pageError) Error() string { return e.message }

// handleAuthorize validates the authorization request and shows the sign-in page.
func (i *Issuer) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	req, err := i.parseAuthRequest(r.URL.Query())
	if err != nil {
		i.authorizeFailed(w, r, req, err)
		return
	}
	i.renderSignIn(w, http.StatusOK, signInPage{Request: req})
}

// handleSignIn validates the posted request and identity again, then sends the
// browser back to the client with a one-time authorization code.
func (i *Issuer) handleSignIn(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		renderError(w, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	req, err := i.parseAuthRequest(form)
	if err != nil {
		i.authorizeFailed(w, r, req, err)
		return
	}
	u, problem := i.pickUser(form)
	if problem != "" {
		page := signInPage{Request: req, Email: form.Get("email"), Name: form.Get("name"), Problem: problem}
		i.renderSignIn(w, http.StatusUnprocessableEntity, page)
		return
	}
	g := grant{clientID: req.ClientID, redirectURI: req.RedirectURI,
		challenge: req.CodeChallenge, nonce: req.Nonce, user: u}
	code := i.store.issueCode(g, i.now())
	i.store.remember(u)
	i.redirect(w, r, req, url.Values{"code": {code}})
}

// parseAuthRequest validates v. It returns a *pageError when the client or redirect
// URI is wrong, and an *oauthError (with the request's redirect URI and state) for
// anything that may be reported to the client.
func (i *Issuer) parseAuthRequest(v url.Values) (authRequest, error) {
	if err := i.checkClient(v); err != nil {
		return authRequest{}, err
	}
	req := authRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		Scope: v.Get("scope"), State: v.Get("state"), Nonce: v.Get("nonce"),
		CodeChallenge: v.Get("code_challenge")}
	if err := checkAuthParams(v); err != nil {
		if len(v["state"]) != 1 || len(req.State) > maxParamLen {
			req.State = ""
		}
		return req, err
	}
	return req, nil
}

func (i *Issuer) checkClient(v url.Values) error {
	if len(v["client_id"]) != 1 || v.Get("client_id") != i.cfg.ClientID {
		return &pageError{"The client_id is missing or unknown."}
	}
	if len(v["redirect_uri"]) != 1 || !slices.Contains(i.cfg.RedirectURIs, v.Get("redirect_uri")) {
		return &pageError{"The redirect_uri is missing or not registered for this client."}
	}
	return nil
}

func checkAuthParams(v url.Values) error {
	for _, k := range authParams {
		if len(v[k]) > 1 {
			return invalidRequest("parameter " + k + " is repeated")
		}
		if len(v.Get(k)) > maxParamLen {
			return invalidRequest("parameter " + k + " is too long")
		}
	}
	for _, k := range []string{"scope", "state", "nonce"} {
		if strings.ContainsFunc(v.Get(k), func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			return invalidRequest("parameter " + k + " must be printable ASCII")
		}
	}
	switch rt := v.Get("response_type"); {
	case rt == "":
		return invalidRequest("response_type is required")
	case rt != "code":
		return &oauthError{http.StatusBadRequest, "unsupported_response_type", "only response_type=code is supported"}
	}
	if !slices.Contains(strings.Fields(v.Get("scope")), "openid") {
		return &oauthError{http.StatusBadRequest, "invalid_scope", "scope must include openid"}
	}
	if v.Get("state") == "" {
		return invalidRequest("state is required")
	}
	return checkChallenge(v.Get("code_challenge"), v.Get("code_challenge_method"))
}

// checkChallenge requires PKCE with S256 (RFC 7636); plain is refused.
func checkChallenge(challenge, method string) error {
	if challenge == "" || method != "S256" {
		return invalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if !validPKCE(challenge, 43, 43) {
		return invalidRequest("code_challenge must be the base64url SHA-256 of the code_verifier")
	}
	return nil
}

// authorizeFailed shows a *pageError and redirects anything else to the client.
func (i *Issuer) authorizeFailed(w http.ResponseWriter, r *http.Request, req authRequest, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		renderError(w, http.StatusBadRequest, err.Error())
		return
	}
	i.redirect(w, r, req, url.Values{"error": {oe.Code}, "error_description": {oe.Description}})
}

// redirect sends the browser to the request's (registered) redirect URI with params,
// the state and the issuer (RFC 9207) added to its query.
func (i *Issuer) redirect(w http.ResponseWriter, r *http.Request, req authRequest, params url.Values) {
	u, err := url.Parse(req.RedirectURI)
	if err != nil { // registered URIs were parsed by New
		renderError(w, http.StatusInternalServerError, "internal error")
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	q.Set("iss", i.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// pickUser returns the identity chosen on the sign-in page, or a problem to show.
func (i *Issuer) pickUser(form url.Values) (user, string) {
	if email := form.Get("recent"); email != "" {
		if u, ok := i.store.recentUser(email); ok {
			return u, ""
		}
		return user{}, "That recently used account is no longer known; enter the email again."
	}
	email, ok := parseEmail(form.Get("email"))
	if !ok {
		return user{}, "Enter a valid email address, like dev@example.com."
	}
	name, ok := parseName(form.Get("name"))
	if !ok {
		return user{}, "The name must be at most 100 characters, without control characters."
	}
	return user{Email: email, Name: name}, ""
}

// parseEmail accepts a bare address (no display name, quotes or spaces) and returns
// it in lower case, so that the subject derived from it is stable.
func parseEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen || strings.ContainsFunc(s, unicode.IsSpace) || strings.Contains(s, `"`) {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	return strings.ToLower(s), true
}

// parseName accepts an optional display name of printable characters.
func parseName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	ok := utf8.ValidString(s) && utf8.RuneCountInString(s) <= maxNameLen && !strings.ContainsFunc(s, unicode.IsControl)
	return s, ok
}
