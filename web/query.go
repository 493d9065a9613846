package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// errUnknownParam is a query parameter the route does not document: 400 naming
// it, so that a typo (`dryrun=true`) is not silently a real write.
type errUnknownParam struct{ name string }

func (e errUnknownParam) Error() string { return fmt.Sprintf("unknown query parameter %q", e.name) }

// query is the allow-list of a route's query parameters: a request with any other
// one is refused with 400 before the handler runs, as is a query that does not
// parse. Every route under /api/v1 and /hooks/ declares its list in routes.go
// (TestAPIRoutesRefuseUnknownQuery walks the router to keep it so).
func (s *Server) query(documented ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := checkQuery(r.URL.RawQuery, documented); err != nil {
				s.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkQuery refuses the first (by name) parameter of raw not in documented.
func checkQuery(raw string, documented []string) error {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("%w: the query string does not parse: %v", errBadRequest, err)
	}
	var unknown []string
	for name := range v {
		if !slices.Contains(documented, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return errUnknownParam{unknown[0]}
}
