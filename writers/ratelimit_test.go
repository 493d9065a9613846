package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"HTTP date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"reset", map[string]string{"X-RateLimit-Reset": strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)}, 42 * time.Second},
		{"Retry-After wins over reset", map[string]string{"Retry-After": "5", "X-RateLimit-Reset": strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}, 5 * time.Second},
		{"nothing said", nil, DefaultRateLimitWait},
		{"garbage", map[string]string{"Retry-After": "soon"}, DefaultRateLimitWait},
		{"zero is a second", map[string]string{"Retry-After": "0"}, time.Second},
		{"reset in the past", map[string]string{"X-RateLimit-Reset": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}, time.Second},
		{"capped", map[string]string{"Retry-After": "86400"}, MaxRateLimitWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := retryAfter(h, now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRateLimitTransport: 429, and 403 with Retry-After, with no remaining
// requests or with GitHub's words, become a RateLimitedError with the wait and
// the host's words; any other 403 reaches go-git whole.
func TestRateLimitTransport(t *testing.T) {
	secondary := `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com"}`
	tests := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		limited bool
		wait    time.Duration
		words   string
	}{
		{"429 Retry-After", 429, map[string]string{"Retry-After": "3"}, "slow down\n", true, 3 * time.Second, "slow down"},
		{"429 GitLab, no header", 429, nil, "Retry later\n", true, DefaultRateLimitWait, "Retry later"},
		{"403 Retry-After", 403, map[string]string{"Retry-After": "7"}, "", true, 7 * time.Second, ""},
		{"403 secondary rate limit", 403, nil, secondary, true, DefaultRateLimitWait, "You have exceeded a secondary rate limit"},
		{"403 primary limit spent", 403, map[string]string{"X-RateLimit-Remaining": "0"}, `{"message":"API rate limit exceeded for installation"}`, true, DefaultRateLimitWait, "API rate limit exceeded"},
		{"403 permission", 403, nil, "Permission to o/r.git denied to bot.\n", false, 0, ""},
		{"200", 200, map[string]string{"Retry-After": "3"}, "ok", false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := &http.Client{Transport: rateLimitTransport{next: http.DefaultTransport, now: time.Now}}
			res, err := c.Get(srv.URL)
			var rl *RateLimitedError
			if !tt.limited {
				if err != nil {
					t.Fatalf("error %v, want the response", err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(body) != tt.body || res.StatusCode != tt.status {
					t.Errorf("response %d %q, want %d %q untouched", res.StatusCode, body, tt.status, tt.body)
				}
				return
			}
			if !errors.As(err, &rl) {
				t.Fatalf("error %v, want a RateLimitedError", err)
			}
			if rl.Status != tt.status || rl.Wait != tt.wait || !strings.Contains(rl.Message, tt.words) {
				t.Errorf("got %+v, want status %d, wait %s, words %q", rl, tt.status, tt.wait, tt.words)
			}
			if classify(plumbing.NewUnexpectedError(err)) != failRateLimited || retryWait(plumbing.NewUnexpectedError(err)) != tt.wait {
				t.Errorf("behind go-git's UnexpectedError it is not classified as rate limited with its wait")
			}
		})
	}
}

func TestClassifyRateLimitedWords(t *testing.T) {
	ssh := &remoteError{msg: "git push to git@github.com:o/r.git: remote: You have exceeded a secondary rate limit", err: errors.New("x")}
	if classify(ssh) != failRateLimited || retryWait(ssh) != DefaultRateLimitWait {
		t.Errorf("a remote's words about a secondary rate limit: %v, wait %s", classify(ssh), retryWait(ssh))
	}
	if other := (&remoteError{msg: "git push: pre-receive hook declined", err: ErrRejected}); classify(other) != failContent || retryWait(other) != 0 {
		t.Errorf("a refusal of the content classified %v", classify(other))
	}
}

// refusingProxy sits in front of a Git server: armed, it answers the next push
// (POST git-receive-pack) with refusal instead of forwarding it. It records when
// each push was refused or forwarded.
type refusingProxy struct {
	mu        sync.Mutex
	refuse    func(w http.ResponseWriter)
	refusedAt time.Time
	pushes    []time.Time // forwarded pushes
}

func (p *refusingProxy) arm(refuse func(w http.ResponseWriter)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
}

func (p *refusingProxy) handler(t *testing.T, target string) http.Handler {
	fwd := proxyTo(t, target, nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			p.mu.Lock()
			refuse := p.refuse
			p.refuse = nil
			if refuse != nil {
				p.refusedAt = time.Now()
			} else {
				p.pushes = append(p.pushes, time.Now())
			}
			p.mu.Unlock()
			if refuse != nil {
				io.Copy(io.Discard, r.Body)
				refuse(w)
				return
			}
		}
		fwd.ServeHTTP(w, r)
	})
}

func (p *refusingProxy) state() (time.Time, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusedAt, append([]time.Time(nil), p.pushes...)
}

// TestRateLimitedPushWaitsAsTold: a push the host refuses for rate limiting (429
// with Retry-After: 3; 403 with GitHub's "secondary rate limit" and a reset 4 s
// out) is tried again no sooner than the host said, its placements show retrying
// with the host's words meanwhile, the store never shows failing, and every
// placement ends written.
func TestRateLimitedPushWaitsAsTold(t *testing.T) {
	cases := []struct {
		name, words string
		wait        time.Duration
		refuse      func(w http.ResponseWriter)
	}{
		{"429 Retry-After", "slow down, please", 3 * time.Second, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "slow down, please\n")
		}},
		{"403 secondary rate limit", "You have exceeded a secondary rate limit", 3 * time.Second, func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Unix()+4, 10))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := gitPeer(t, false)
			p := &refusingProxy{}
			front := httptest.NewServer(p.handler(t, srv.URL()))
			defer front.Close()
			e := newEngine(t)
			s := tenants.GitStateStore{TenantID: e.tenant, Name: "repo", URL: front.URL + "/repo.git", Branch: srv.Branch(),
				Insecure: true, PushInterval: "0s", Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
			s.Normalize()
			if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
				t.Fatal(err)
			}
			e.destination(t, tenants.Destination{Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev", StoreKind: tenants.KindGit, StoreName: "repo"})
			e.start(t, nil)
			first := e.submit(t, work("first", map[string]string{"env": "dev"}, "a.yaml", "a: 1\n"))
			e.drain(t, 30*time.Second)

			p.arm(tc.refuse)
			var ids []int64
			for i := range 3 {
				ids = append(ids, e.submit(t, work(fmt.Sprintf("w%d", i), map[string]string{"env": "dev"}, "a.yaml", "a: 1\n")).Work)
			}
			sawRetrying := false
			testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
				ctx := context.Background()
				g, err := e.db.GitStore(ctx, e.tenant, "repo")
				if err != nil {
					t.Fatal(err)
				}
				if g.Status.WriteFailing() {
					t.Fatalf("the store shows failing after a rate-limited push: %q", g.Status.WriteError)
				}
				written := 0
				for _, id := range ids {
					pv := e.placement(t, id)
					switch pv.State {
					case tenants.StateRetrying:
						if !strings.Contains(pv.LastError, tc.words) || !strings.Contains(pv.LastError, "rate limited") {
							t.Fatalf("retrying with %q, want the host's words %q", pv.LastError, tc.words)
						}
						sawRetrying = true
					case tenants.StateFailed:
						t.Fatalf("placement failed for good: %q (a rate limit is not a refusal of the content)", pv.Error)
					case tenants.StateWritten:
						written++
					}
				}
				return written == len(ids), e.recent(t)
			})
			if !sawRetrying {
				t.Error("the placements never showed retrying while the host made them wait")
			}
			refusedAt, pushes := p.state()
			if refusedAt.IsZero() {
				t.Fatal("the proxy never refused a push")
			}
			var after []time.Time
			for _, at := range pushes {
				if at.After(refusedAt) {
					after = append(after, at)
				}
			}
			if len(after) == 0 {
				t.Fatal("no push after the refusal, yet the placements are written")
			}
			if gap := after[0].Sub(refusedAt); gap < tc.wait {
				t.Errorf("next push %s after the refusal, want at least %s", gap, tc.wait)
			}
			if pv := e.placement(t, first.Work); pv.State != tenants.StateWritten {
				t.Errorf("first Work %s", pv.State)
			}
		})
	}
}

func TestRateLimitedMessage(t *testing.T) {
	r := &gitRemote{url: "https://github.com/o/r.git", secret: "s3cret-token"}
	err := r.wrap("push to", plumbing.NewUnexpectedError(&url.Error{Op: "Post", URL: "https://github.com/o/r.git/git-receive-pack",
		Err: &RateLimitedError{Status: 429, Wait: 3 * time.Second, Message: "slow down"}}))
	want := "git push to https://github.com/o/r.git: rate limited by the host (HTTP 429): slow down; retrying in 3s"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if classify(err) != failRateLimited || retryWait(err) != 3*time.Second {
		t.Errorf("wrapped: classified %v, wait %s", classify(err), retryWait(err))
	}
}

// gitSource serves one Git store to a Readiness and records the statuses set.
type gitSource struct {
	fakeSource
	git tenants.GitStateStore
}

func (g *gitSource) GitStore(context.Context, int64, string) (tenants.GitStateStore, error) {
	return g.git, nil
}

// TestRateLimitedCheckKeepsTheStatus: a readiness check the host refuses for
// rate limiting records nothing (the host answered; whether the store works is
// as unknown as before), while a plain refusal still marks the store not ready.
func TestRateLimitedCheckKeepsTheStatus(t *testing.T) {
	var limited atomic.Bool
	limited.Store(true)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limited.Load() {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "Permission denied\n")
	}))
	defer host.Close()
	src := &gitSource{git: tenants.GitStateStore{TenantID: 1, Name: "g", URL: host.URL + "/o/r.git", Branch: "main", Insecure: true,
		AuthMethod: tenants.AuthNone}}
	r := &Readiness{Source: src, Factory: Factory{Egress: egress.Policy{AllowPrivate: true}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ref := tenants.StoreRef{TenantID: 1, Kind: tenants.KindGit, Name: "g"}
	if err := r.Check(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if len(src.statuses) != 0 {
		t.Errorf("a rate-limited check recorded %q, want nothing", src.statuses)
	}
	limited.Store(false)
	if err := r.Check(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if len(src.statuses) != 1 || src.statuses[0] == "ready" {
		t.Errorf("a refused check recorded %q, want one not-ready status", src.statuses)
	}
}
