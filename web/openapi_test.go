package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/stateward/stateward/web"
)

// apiSpec is the served OpenAPI description, loaded and checked once per test
// binary, with a router over its paths.
var apiSpec = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(web.OpenAPIDocument())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// validatingAPI wraps the site so that every request to /api/v1 and /hooks/ that a
// test makes, and the server's answer, is checked against the OpenAPI
// description: a route or a status it does not document fails the test, an
// answer must match its schema, and a request the server accepted (2xx) must be
// valid by the description, query parameters included.
func validatingAPI(t testing.TB, next http.Handler) http.Handler {
	router, err := apiSpec()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") && !strings.HasPrefix(r.URL.Path, "/hooks/") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			next.ServeHTTP(w, r) // the client went away; nothing to check
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		if msg := checkExchange(router, r, body, rec); msg != "" {
			t.Errorf("OpenAPI: %s %s → %d: %s", r.Method, r.URL.RequestURI(), rec.code, msg)
		}
	})
}

// checkExchange is what validatingAPI checks for one exchange; "" when it holds.
func checkExchange(router routers.Router, r *http.Request, body []byte, rec *recorder) string {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	// The router matches the description's server "/" against this URL.
	req.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if rec.code == http.StatusNotFound || rec.code == http.StatusMethodNotAllowed {
			return "" // an unknown route, refused as such
		}
		return "route not in openapi.json: " + err.Error()
	}
	assumeContentType(route, req)
	reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if rec.code >= 200 && rec.code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), reqIn); err != nil {
			return "the server accepted a request the description calls invalid: " + err.Error()
		}
		if bad := undocumentedQuery(route, req.URL.Query()); len(bad) > 0 {
			return "the server accepted undocumented query parameters " + strings.Join(bad, ", ")
		}
	}
	respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: rec.code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	respIn.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		var re *openapi3filter.ResponseError
		if errors.As(err, &re) && re.Reason == "status is not supported" {
			return "status not documented for this operation"
		}
		return "answer does not match: " + err.Error() + "\nbody: " + truncate(rec.body.String(), 600)
	}
	return ""
}

// assumeContentType reads a body whose Content-Type the operation does not list
// as the one type it documents, as the server does (a Work without Content-Type is
// JSON; apply reads YAML whatever the header says). With several documented types
// (the webhook) the header decides, as it does on the server.
func assumeContentType(route *routers.Route, req *http.Request) {
	rb := route.Operation.RequestBody
	if rb == nil || rb.Value == nil || len(rb.Value.Content) != 1 {
		return
	}
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	for mt := range rb.Value.Content {
		if ct != mt {
			req.Header.Set("Content-Type", mt)
		}
	}
}

func undocumentedQuery(route *routers.Route, q url.Values) []string {
	known := map[string]bool{}
	for _, p := range append(route.PathItem.Parameters, route.Operation.Parameters...) {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
			known[p.Value.Name] = true
		}
	}
	var bad []string
	for k := range q {
		if !known[k] {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// recorder passes an answer through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
	body  bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushes).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func TestOpenAPIServedAndValid(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := http.Get(h.URL + "/api/v1/openapi.json") // no token: a client generator has none yet
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("served description differs from web/openapi.json")
	}
	if code, body := api(t, http.MethodGet, h.URL+"/api/v1/openapi.json?format=yaml", "", nil); code != http.StatusBadRequest ||
		!strings.Contains(body, `"field": "format"`) {
		t.Errorf("openapi.json?format=yaml: %d %s, want 400 naming format", code, body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(got)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("description is not valid OpenAPI: %v", err)
	}
}

// TestOpenAPICheckerCatchesDrift proves the harness's checker fails on what it
// must: an undocumented route, an undocumented status, an answer of the wrong
// shape, and an accepted request with an undocumented query parameter.
func TestOpenAPICheckerCatchesDrift(t *testing.T) {
	router, err := apiSpec()
	if err != nil {
		t.Fatal(err)
	}
	exchange := func(method, target, reqBody string, code int, answer string) string {
		r := httptest.NewRequest(method, target, strings.NewReader(reqBody))
		rec := &recorder{ResponseWriter: httptest.NewRecorder(), code: code}
		rec.Header().Set("Content-Type", "application/json")
		rec.body.WriteString(answer)
		return checkExchange(router, r, []byte(reqBody), rec)
	}
	const info = `{"tenant": {"slug": "a", "name": "A"}, "role": "viewer"}`
	cases := []struct {
		name, method, target, body string
		code                       int
		answer, want               string
	}{
		{"documented", "GET", "/api/v1/tenants/a/", "", 200, info, ""},
		{"undocumented route", "GET", "/api/v1/tenants/a/frobs", "", 200, `{}`, "route not in openapi.json"},
		{"unknown route answered 404", "GET", "/api/v1/tenants/a/frobs", "", 404, `{"error": "not found"}`, ""},
		{"undocumented status", "GET", "/api/v1/tenants/a/", "", 418, `{"error": "teapot"}`, "status not documented"},
		{"wrong shape", "GET", "/api/v1/tenants/a/", "", 200, `{"tenant": {"slug": "a"}, "role": "god"}`, "answer does not match"},
		{"undocumented query accepted", "GET", "/api/v1/tenants/a/?colour=red", "", 200, info, "undocumented query parameters colour"},
		{"invalid body accepted", "POST", "/api/v1/tenants/a/triggers", `{"nmae": "x"}`, 201,
			`{"id": 1, "name": "x", "url": "u", "secret": "s"}`, "accepted a request the description calls invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := exchange(c.method, c.target, c.body, c.code, c.answer)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("check = %q, want %q", got, c.want)
			}
		})
	}
}
