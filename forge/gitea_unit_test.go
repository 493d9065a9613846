package forge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// roundTripFunc answers requests in the test, without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(r *http.Request, status int, body string, kv ...string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}
}

func staticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

const fakePull = `{"number":1,"state":"open","title":"t","head":{"ref":"h","sha":"abc"},"base":{"ref":"main"}}`

func TestGiteaConstructionMakesNoCallAndUsesTheCurrentToken(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		return answer(r, 200, fakePull), nil
	})
	token := "first"
	f, err := newGitea(Config{
		Provider: Gitea, RepoURL: "https://git.acme.internal/gitea/platform/gitops.git",
		Token:      func(context.Context) (string, error) { return token, nil },
		HTTPClient: &http.Client{Transport: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Fatalf("construction made calls: %v", seen)
	}
	if _, err := f.Get(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	token = "second"
	if _, err := f.Get(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET https://git.acme.internal/gitea/api/v1/repos/platform/gitops/pulls/1 token first",
		"GET https://git.acme.internal/gitea/api/v1/repos/platform/gitops/pulls/1 token second",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant (no version probe, the token of each call):\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestGiteaConfig(t *testing.T) {
	hc := &http.Client{}
	for _, c := range []struct{ repo, api, wantRoot, wantOwner, wantName string }{
		{"http://127.0.0.1:3000/stateward/gitops.git", "", "http://127.0.0.1:3000", "stateward", "gitops"},
		{"git@gitea.acme.internal:acme/gitops.git", "", "https://gitea.acme.internal", "acme", "gitops"},
		{"https://gitea.acme.internal/acme/gitops", "https://api.acme.internal/git/api/v1/", "https://api.acme.internal/git", "acme", "gitops"},
	} {
		f, err := newGitea(Config{Provider: Gitea, RepoURL: c.repo, APIURL: c.api, HTTPClient: hc})
		if err != nil {
			t.Fatalf("%s: %v", c.repo, err)
		}
		if f.root != c.wantRoot || f.owner != c.wantOwner || f.name != c.wantName {
			t.Errorf("%s %s: root %q repo %s/%s, want %q %s/%s", c.repo, c.api, f.root, f.owner, f.name, c.wantRoot, c.wantOwner, c.wantName)
		}
	}
	if _, err := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/a/b", APIURL: "https://g.example/api/v3", HTTPClient: hc}); err == nil {
		t.Error("an API URL without /api/v1 was accepted")
	}
	if _, err := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/a/b"}); err == nil {
		t.Error("no HTTP client was accepted (every call must go through the egress guard)")
	}
	f, _ := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/a/b", HTTPClient: hc})
	if f.Provider() != Gitea || f.Limits() != (Limits{Title: 255, Body: 65536}) {
		t.Errorf("provider %q limits %+v", f.Provider(), f.Limits())
	}
}

func TestGiteaErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		kv     []string
		merge  bool
		// want: a *RateLimitError with wait, else an *APIError wrapping sentinel.
		wait     time.Duration
		sentinel error
		message  string
	}{
		{"429 Retry-After", 429, `{"message":"slow down"}`, []string{"Retry-After", "7"}, false, 7 * time.Second, nil, "slow down"},
		{"429 plain body", 429, `Too Many Requests`, []string{"Content-Type", "text/plain", "Retry-After", "7"}, false, 7 * time.Second, nil, "Too Many Requests"},
		{"429 no header", 429, `{}`, nil, false, time.Minute, nil, ""},
		{"403 Retry-After", 403, `{"message":"rate"}`, []string{"Retry-After", "12"}, false, 12 * time.Second, nil, "rate"},
		{"403", 403, `{"message":"token does not have at least one of required scope(s)"}`, nil, false, 0, ErrForbidden, "required scope"},
		{"401", 401, `{"message":"user does not exist"}`, nil, false, 0, ErrUnauthorized, "user does not exist"},
		{"404", 404, `{"message":"The target couldn't be found."}`, nil, false, 0, ErrNotFound, "couldn't be found"},
		{"500", 500, `{"message":"boom"}`, nil, false, 0, nil, "boom"},
		{"merge 405", 405, `{"message":"Does not have enough approvals"}`, nil, true, 0, ErrNotMergeable, "enough approvals"},
		{"merge 409", 409, `{"message":"head out of date"}`, nil, true, 0, ErrNotMergeable, "head out of date"},
		{"merge 429", 429, `{"message":"slow"}`, []string{"Retry-After", "7"}, true, 7 * time.Second, nil, "slow"},
		{"merge 404", 404, `{"message":"not found"}`, nil, true, 0, ErrNotFound, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if c.merge && r.Method == http.MethodGet {
					return answer(r, 200, `{"allow_merge_commits":true}`), nil
				}
				return answer(r, c.status, c.body, c.kv...), nil
			})
			f, err := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/acme/gitops", Token: staticToken("t"), HTTPClient: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			var call string
			if c.merge {
				_, err = f.Merge(context.Background(), 3, "abc")
				call = "POST /repos/acme/gitops/pulls/3/merge"
			} else {
				_, err = f.Get(context.Background(), 3)
				call = "GET /repos/acme/gitops/pulls/3"
			}
			if c.wait != 0 {
				var rl *RateLimitError
				if !errors.As(err, &rl) || rl.RetryAfter != c.wait || !strings.Contains(rl.Message, c.message) {
					t.Fatalf("err = %v, want a *RateLimitError waiting %s saying %q", err, c.wait, c.message)
				}
				return
			}
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if e.Call != call || e.Status != c.status || !strings.Contains(e.Message, c.message) || e.Err != c.sentinel {
				t.Fatalf("err = %+v, want call %q status %d message %q wrapping %v", e, call, c.status, c.message, c.sentinel)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Fatalf("errors.Is(%v, %v) = false", err, c.sentinel)
			}
		})
	}
}

func TestGiteaRefusesTooLongProposals(t *testing.T) {
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("a call was made: %s %s", r.Method, r.URL)
		return answer(r, 500, `{}`), nil
	})
	f, _ := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/acme/gitops", HTTPClient: &http.Client{Transport: rt}})
	long := Proposal{Head: "h", Base: "main", Title: strings.Repeat("é", 256), Body: "b"}
	if _, err := f.Open(context.Background(), long); err == nil {
		t.Error("Open took a 256-character title")
	}
	long.Title, long.Body = "t", strings.Repeat("x", 65537)
	if _, err := f.Update(context.Background(), 1, long); err == nil {
		t.Error("Update took a 65537-character body")
	}
}

func TestGiteaPacesContentCalls(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return answer(r, 201, `{"id":1,"body":"x"}`), nil
	})
	const every = 150 * time.Millisecond
	f, _ := newGitea(Config{Provider: Gitea, RepoURL: "https://g.example/acme/gitops", HTTPClient: &http.Client{Transport: rt}, ContentInterval: every})
	for range 3 {
		if err := f.Comment(context.Background(), 1, "x"); err != nil {
			t.Fatal(err)
		}
	}
	// The pacer books slots when a call asks; the request itself follows
	// a moment later, hence the margin.
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < every*8/10 {
			t.Errorf("comment %d came %s after the one before, want at least %s", i, d, every)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Comment(ctx, 1, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("a paced comment with a cancelled context: %v, want context.Canceled", err)
	}
}
