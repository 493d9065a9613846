package devissuer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

const (
	testClientID     = "stateward"
	testClientSecret = "s3cret-for-tests"
)

// testEnv is a real HTTP server with the issuer mounted at /dev/oidc, a callback at
// /callback, and a go-oidc provider discovered from it.
type testEnv struct {
	t        *testing.T
	ctx      context.Context
	srv      *httptest.Server
	issuer   *Issuer
	provider *oidc.Provider
	oauth    oauth2.Config
	browser  *http.Client // cookie jar, follows redirects
	noFollow *http.Client // stops at the first redirect
}

func newTestEnv(t *testing.T, now func() time.Time) *testEnv {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss, err := New(Config{Issuer: srv.URL + "/dev/oidc", ClientID: testClientID,
		ClientSecret: testClientSecret, RedirectURIs: []string{srv.URL + "/callback"}, Now: now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux.Handle("/dev/oidc/", http.StripPrefix("/dev/oidc", iss))
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "callback reached") })
	ctx := oidc.ClientContext(t.Context(), srv.Client())
	provider, err := oidc.NewProvider(ctx, srv.URL+"/dev/oidc")
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testEnv{t: t, ctx: ctx, srv: srv, issuer: iss, provider: provider,
		oauth: oauth2.Config{ClientID: testClientID, ClientSecret: testClientSecret,
			Endpoint: provider.Endpoint(), RedirectURL: srv.URL + "/callback",
			Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		browser: &http.Client{Jar: jar}, noFollow: noFollow}
}

// htmlForm is a form as parsed from a page: where it posts and what it would send.
type htmlForm struct {
	action *url.URL
	method string
	values url.Values          // named inputs with their values
	inputs map[string]htmlNode // named inputs by name
	labels map[string]bool     // ids that a <label for> names
	submit []string            // text of the submit buttons
}

type htmlNode map[string]string // attributes

// getForm fetches page (expecting 200) and returns its one form.
func (e *testEnv) getForm(page string) htmlForm {
	e.t.Helper()
	resp, err := e.browser.Get(page)
	if err != nil {
		e.t.Fatalf("GET sign-in page: %v", err)
	}
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET sign-in page: status %d, want 200; body:\n%s", resp.StatusCode, body)
	}
	return parseForm(e.t, resp.Request.URL, body)
}

// submitForm posts form with the browser and returns the response after redirects.
func (e *testEnv) submitForm(form htmlForm) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.browser.PostForm(form.action.String(), form.values)
	if err != nil {
		e.t.Fatalf("POST sign-in form: %v", err)
	}
	return resp, readBody(e.t, resp)
}

// signIn runs the browser part of the flow for authURL and returns the callback URL.
func (e *testEnv) signIn(authURL, email, name string) *url.URL {
	e.t.Helper()
	form := e.getForm(authURL)
	form.values.Set("email", email)
	form.values.Set("name", name)
	resp, body := e.submitForm(form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/callback" {
		e.t.Fatalf("sign-in ended at %s with status %d, want the callback; body:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	return resp.Request.URL
}

// code signs in for a fresh PKCE verifier and returns the authorization code.
func (e *testEnv) code(verifier string) string {
	e.t.Helper()
	cb := e.signIn(e.oauth.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "dev@example.com", "")
	return cb.Query().Get("code")
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// parseForm parses the single form of an HTML page served at base.
func parseForm(t testing.TB, base *url.URL, page string) htmlForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	form := htmlForm{values: url.Values{}, inputs: map[string]htmlNode{}, labels: map[string]bool{}}
	forms := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attrs := htmlNode{}
		for _, a := range n.Attr {
			attrs[a.Key] = a.Val
		}
		switch n.Data {
		case "form":
			forms++
			action, err := base.Parse(attrs["action"])
			if err != nil {
				t.Fatalf("form action %q: %v", attrs["action"], err)
			}
			form.action, form.method = action, attrs["method"]
		case "input":
			form.inputs[attrs["name"]] = attrs
			form.values.Set(attrs["name"], attrs["value"])
		case "label":
			form.labels[attrs["for"]] = true
		case "button":
			if _, named := attrs["name"]; !named {
				form.submit = append(form.submit, textOf(n))
			}
		}
	}
	if forms != 1 {
		t.Fatalf("page has %d forms, want 1:\n%s", forms, page)
	}
	return form
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// oauthErrorCode returns the RFC 6749 error code of a failed oauth2 exchange.
func oauthErrorCode(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *oauth2.RetrieveError", err)
	}
	return re.ErrorCode
}

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
