package forge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

// The GitHub and GitLab providers against testpeers' GitHubAPI and GitLabAPI:
// local hosts in front of a real bare repository, that merge for real, sign
// their webhooks, and fail the test on any request their API docs do not allow.

// hubFake is what GitHubAPI and GitLabAPI both offer.
type hubFake interface {
	RepoURL() string
	APIURL() string
	Git() *testpeers.GitServer
	Token() string
	Login() string
	Requests() []testpeers.ForgeRequest
	Unexpected() []string
	ClearUnexpected()
	Deliveries() []testpeers.ForgeDelivery
	PR(int) (testpeers.ForgePR, bool)
	Hooks() []testpeers.ForgeHook
	SetMergeability(string)
	RateLimit(int, time.Duration)
	ForbidHooks(bool)
	Protect(string)
	Close(testing.TB, int, string)
	MergeAs(testing.TB, int, string) string
}

type hubCase struct {
	provider string
	start    func(t *testing.T) hubFake
	// signed reports whether d carries the host's proof of secret.
	signed func(d testpeers.WebhookDelivery, secret string) bool
	// event is d's kind: "pull_request" or "push".
	event func(d testpeers.WebhookDelivery) string
}

var hubCases = []hubCase{
	{
		provider: GitHub,
		start: func(t *testing.T) hubFake {
			return testpeers.GitHubRepo(t, testpeers.GitHTTP(t, testpeers.GitOptions{}), testpeers.GitHubAPIOptions{})
		},
		signed: func(d testpeers.WebhookDelivery, secret string) bool {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(d.Body)
			return hmac.Equal([]byte(d.Header.Get("X-Hub-Signature-256")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
		},
		event: func(d testpeers.WebhookDelivery) string { return d.Header.Get("X-GitHub-Event") },
	},
	{
		provider: GitLab,
		start: func(t *testing.T) hubFake {
			return testpeers.GitLabRepo(t, testpeers.GitHTTP(t, testpeers.GitOptions{}), testpeers.GitLabAPIOptions{})
		},
		signed: func(d testpeers.WebhookDelivery, secret string) bool {
			return d.Header.Get("X-Gitlab-Token") == secret
		},
		event: func(d testpeers.WebhookDelivery) string {
			return map[string]string{"Merge Request Hook": "pull_request", "Push Hook": "push"}[d.Header.Get("X-Gitlab-Event")]
		},
	},
}

// hubForge is the provider of c for fake; ContentInterval is a nanosecond
// unless mutate sets it.
func hubForge(t *testing.T, c hubCase, fake hubFake, mutate func(*Config)) Forge {
	t.Helper()
	cfg := Config{
		Provider: c.provider, RepoURL: fake.RepoURL(),
		Token:           func(context.Context) (string, error) { return fake.Token(), nil },
		HTTPClient:      &http.Client{Timeout: 20 * time.Second},
		ContentInterval: time.Nanosecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	var f Forge
	var err error
	switch c.provider {
	case GitHub:
		f, err = newGitHub(cfg)
	case GitLab:
		f, err = newGitLab(cfg)
	}
	if err != nil {
		t.Fatalf("new %s: %v", c.provider, err)
	}
	return f
}

// hubGit runs the git CLI in dir.
func hubGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Stateward", "GIT_AUTHOR_EMAIL=stateward@example.com",
		"GIT_COMMITTER_NAME=Stateward", "GIT_COMMITTER_EMAIL=stateward@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pushBranch commits files on a branch from main and pushes it through the
// host, returning the error of the push (a protected branch refuses it).
func pushBranch(t *testing.T, repoURL, branch string, files map[string]string) error {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	hubGit(t, "", "clone", "--quiet", repoURL, wt)
	hubGit(t, wt, "checkout", "--quiet", "-B", branch)
	for name, content := range files {
		p := filepath.Join(wt, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hubGit(t, wt, "add", "--all")
	hubGit(t, wt, "commit", "--quiet", "-m", "Stateward: "+branch)
	cmd := exec.Command("git", "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	cmd.Dir = wt
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.New(string(out))
	}
	return nil
}

// writes are the API requests that change something (not GET).
func writes(fake hubFake) []testpeers.ForgeRequest {
	return slices.DeleteFunc(fake.Requests(), func(r testpeers.ForgeRequest) bool { return r.Method == http.MethodGet })
}

func sameSet(a, b []string) bool { return hubSameLabels(a, b) }

const head = "stateward/acme"

func TestHubLifecycle(t *testing.T) {
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			ctx := context.Background()
			fake := c.start(t)
			fake.Protect("main")
			f := hubForge(t, c, fake, nil) // API URL derived from the repository URL (GitHub: /api/v3, GHE-style)
			if f.Provider() != c.provider {
				t.Fatalf("Provider() = %q", f.Provider())
			}

			if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Find before any PR = %v, want ErrNotFound", err)
			}
			if err := pushBranch(t, fake.RepoURL(), "main", map[string]string{"x": "y"}); err == nil || !strings.Contains(strings.ToLower(err.Error()), "protected") {
				t.Fatalf("push to protected main: %v, want refused as protected", err)
			}
			if err := pushBranch(t, fake.RepoURL(), head, map[string]string{"gitops/a.yaml": "a: 1\n"}); err != nil {
				t.Fatalf("push head: %v", err)
			}
			headSHA := fake.Git().Head(t, head)

			rec := testpeers.NewWebhookRecorder(t)
			for range 2 {
				if err := f.EnsureHook(ctx, rec.URL(), "s3cret"); err != nil {
					t.Fatalf("EnsureHook: %v", err)
				}
			}
			if c.provider == GitHub {
				rec.Wait(t, 10*time.Second, func(d testpeers.WebhookDelivery) bool {
					return d.Header.Get("X-GitHub-Event") == "ping" && c.signed(d, "s3cret")
				})
			}
			if hooks := fake.Hooks(); len(hooks) != 1 || hooks[0].URL != rec.URL() || hooks[0].Secret != "s3cret" || len(hooks[0].Events) != 2 {
				t.Fatalf("hooks after EnsureHook twice = %+v, want one for %s with the secret and 2 events", hooks, rec.URL())
			}

			pr, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "Stateward: 1 Work", Body: "- a", Labels: []string{"stateward", "gitops"}})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if pr.Number != 1 || pr.State != Open || pr.Head != head || pr.Base != "main" || pr.HeadSHA != headSHA ||
				!sameSet(pr.Labels, []string{"stateward", "gitops"}) || pr.URL == "" {
				t.Fatalf("Open = %+v", pr)
			}
			if got, _ := fake.PR(1); !sameSet(got.Labels, []string{"stateward", "gitops"}) || got.Title != "Stateward: 1 Work" || got.Body != "- a" {
				t.Fatalf("host's PR = %+v", got)
			}
			rec.Wait(t, 10*time.Second, func(d testpeers.WebhookDelivery) bool {
				return c.event(d) == "pull_request" && c.signed(d, "s3cret")
			})

			found, err := f.Find(ctx, head, "main")
			if err != nil || found.Number != 1 {
				t.Fatalf("Find = %+v, %v", found, err)
			}
			if _, err := f.Find(ctx, head, "other"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Find to another base = %v, want ErrNotFound", err)
			}

			before := len(writes(fake))
			same, err := f.Update(ctx, 1, Proposal{Head: head, Base: "main", Title: "Stateward: 1 Work", Body: "- a", Labels: []string{"gitops", "stateward"}})
			if err != nil || same.Title != "Stateward: 1 Work" {
				t.Fatalf("Update (no change) = %+v, %v", same, err)
			}
			if after := writes(fake); len(after) != before {
				t.Fatalf("Update that changes nothing wrote: %+v", after[before:])
			}
			upd, err := f.Update(ctx, 1, Proposal{Head: head, Base: "main", Title: "Stateward: 2 Works", Body: "- a\n- b", Labels: []string{"stateward"}})
			if err != nil || upd.Title != "Stateward: 2 Works" || !sameSet(upd.Labels, []string{"stateward"}) {
				t.Fatalf("Update = %+v, %v", upd, err)
			}
			if got, _ := fake.PR(1); got.Title != "Stateward: 2 Works" || got.Body != "- a\n- b" || !sameSet(got.Labels, []string{"stateward"}) {
				t.Fatalf("host's PR after Update = %+v", got)
			}

			got, err := f.Get(ctx, 1)
			if err != nil || got.State != Open || got.HeadSHA != headSHA || !got.Mergeable || got.Conflicted {
				t.Fatalf("Get = %+v, %v; want open, mergeable, head %s", got, err, headSHA)
			}

			fake.SetMergeability(testpeers.MergeReviewRequired)
			if got, err := f.Get(ctx, 1); err != nil || got.Mergeable || got.Conflicted {
				t.Fatalf("Get with a review missing = %+v, %v; want neither mergeable nor conflicted", got, err)
			}
			if _, err := f.Merge(ctx, 1, headSHA); !errors.Is(err, ErrNotMergeable) {
				t.Fatalf("Merge with a review missing = %v, want ErrNotMergeable", err)
			}
			fake.SetMergeability(testpeers.MergeUnknown)
			if got, err := f.Get(ctx, 1); err != nil || got.Mergeable || got.Conflicted {
				t.Fatalf("Get while mergeability is unknown = %+v, %v; want neither", got, err)
			}
			fake.SetMergeability(testpeers.MergeAuto)

			mainBefore := fake.Git().Head(t, "main")
			_, err = f.Merge(ctx, 1, mainBefore) // not the head
			var apiErr *APIError
			if !errors.Is(err, ErrNotMergeable) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
				t.Fatalf("Merge with a stale sha = %v, want ErrNotMergeable (409)", err)
			}
			if fake.Git().Head(t, "main") != mainBefore {
				t.Fatal("a refused merge moved main")
			}

			merged, err := f.Merge(ctx, 1, headSHA)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if main := fake.Git().Head(t, "main"); merged != main {
				t.Fatalf("Merge = %s, main is at %s", merged, main)
			}
			if parents := hubGit(t, fake.Git().Dir(), "rev-list", "--parents", "-n", "1", merged); parents != merged+" "+mainBefore+" "+headSHA {
				t.Fatalf("merge commit's parents = %q, want main and the head", parents)
			}
			if files := fake.Git().Files(t, "main"); files["gitops/a.yaml"] != "a: 1\n" {
				t.Fatalf("main after the merge lacks the head's file: %v", files)
			}
			got, err = f.Get(ctx, 1)
			if err != nil || got.State != Merged || got.MergeCommitSHA != merged || got.MergedBy != fake.Login() || got.HeadSHA != headSHA || got.Mergeable {
				t.Fatalf("Get after the merge = %+v, %v", got, err)
			}
			if _, err := f.Merge(ctx, 1, headSHA); !errors.Is(err, ErrNotMergeable) {
				t.Fatalf("Merge of a merged PR = %v, want ErrNotMergeable", err)
			}
			rec.Wait(t, 10*time.Second, func(d testpeers.WebhookDelivery) bool {
				var push struct{ Ref, After string }
				return c.event(d) == "push" && c.signed(d, "s3cret") && json.Unmarshal(d.Body, &push) == nil &&
					push.Ref == "refs/heads/main" && push.After == merged
			})
			// The hosts' deliveries verify and parse with the package's own
			// webhook reading, as the webhook endpoint will read them.
			repo := map[string]string{GitHub: "acme/gitops", GitLab: "acme/platform/gitops"}[c.provider]
			for _, want := range []Event{
				{Kind: EventPullRequest, Number: 1, State: Merged, Sender: fake.Login(), Repo: repo},
				{Kind: EventPush, Ref: "refs/heads/main", Sender: fake.Login(), Repo: repo},
			} {
				rec.Wait(t, 10*time.Second, func(d testpeers.WebhookDelivery) bool {
					if Verify(c.provider, "s3cret", d.Header, d.Body) != nil {
						return false
					}
					ev, err := Parse(c.provider, d.Header, d.Body)
					ev.Action = ""
					return err == nil && ev == want
				})
			}
			for _, d := range rec.Deliveries() {
				if err := Verify(c.provider, "s3cret", d.Header, d.Body); err != nil {
					t.Fatalf("a delivery does not verify: %v\n%s", err, d.Body)
				}
				if err := Verify(c.provider, "other", d.Header, d.Body); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("a delivery verifies with another secret: %v", err)
				}
			}

			if err := f.Comment(ctx, 1, "Stateward merged this."); err != nil {
				t.Fatalf("Comment: %v", err)
			}
			if got, _ := fake.PR(1); !slices.Equal(got.Comments, []string{"Stateward merged this."}) {
				t.Fatalf("comments = %q", got.Comments)
			}
			if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Find after the merge = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestHubClosedAndConflicted(t *testing.T) {
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			ctx := context.Background()
			fake := c.start(t)
			f := hubForge(t, c, fake, nil)
			if err := pushBranch(t, fake.RepoURL(), head, map[string]string{testpeers.InitialFile: "ours\n"}); err != nil {
				t.Fatal(err)
			}
			pr, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "t", Body: "b"})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			fake.Git().PushOutside(t, testpeers.InitialFile, "theirs\n")
			got, err := f.Get(ctx, pr.Number)
			if err != nil || !got.Conflicted || got.Mergeable {
				t.Fatalf("Get with a conflict = %+v, %v; want conflicted", got, err)
			}
			if _, err := f.Merge(ctx, pr.Number, got.HeadSHA); !errors.Is(err, ErrNotMergeable) {
				t.Fatalf("Merge with a conflict = %v, want ErrNotMergeable", err)
			}

			fake.Close(t, pr.Number, "alice")
			got, err = f.Get(ctx, pr.Number)
			if err != nil || got.State != Closed || got.ClosedBy != "alice" || got.MergedBy != "" || got.MergeCommitSHA != "" {
				t.Fatalf("Get after alice closed it = %+v, %v", got, err)
			}
			if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Find after the close = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestHubErrors(t *testing.T) {
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			ctx := context.Background()
			fake := c.start(t)

			f := hubForge(t, c, fake, nil)
			if _, err := f.Get(ctx, 99); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(99) = %v, want ErrNotFound", err)
			}
			other := hubForge(t, c, fake, func(cfg *Config) { cfg.RepoURL = strings.Replace(cfg.RepoURL, "gitops", "elsewhere", 1) })
			var apiErr *APIError
			if _, err := other.Find(ctx, head, "main"); errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
				t.Fatalf("Find in a repository the host does not have = %v, want a 404 *APIError that is not ErrNotFound", err)
			}
			fake.ClearUnexpected() // the host records the unknown repository
			empty := hubForge(t, c, fake, func(cfg *Config) { cfg.Token = func(context.Context) (string, error) { return "", nil } })
			if _, err := empty.Get(ctx, 1); err == nil || !strings.Contains(err.Error(), "empty") {
				t.Fatalf("Get with an empty token = %v, want an error naming it", err)
			}
			fake.ForbidHooks(true)
			if err := f.EnsureHook(ctx, "https://stateward.example/hook", "s"); !errors.Is(err, ErrForbidden) {
				t.Fatalf("EnsureHook without rights = %v, want ErrForbidden", err)
			}
			before := len(fake.Requests())
			long := strings.Repeat("x", f.Limits().Title+1)
			if _, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: long}); err == nil {
				t.Fatal("Open with a title over the limit succeeded")
			}
			if _, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "t", Body: strings.Repeat("é", f.Limits().Body+1)}); err == nil {
				t.Fatal("Open with a body over the limit succeeded")
			}
			if n := len(fake.Requests()); n != before {
				t.Fatalf("a proposal over the limits was sent (%d requests)", n-before)
			}

			bad := hubForge(t, c, fake, func(cfg *Config) {
				cfg.Token = func(context.Context) (string, error) { return "wrong", nil }
			})
			if _, err := bad.Get(ctx, 1); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Get with a wrong token = %v, want ErrUnauthorized", err)
			}

			fake.RateLimit(1, 7*time.Second)
			_, err := f.Find(ctx, head, "main")
			var rl *RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter < 6*time.Second || rl.RetryAfter > 8*time.Second || rl.Message == "" {
				t.Fatalf("Find when rate limited = %v, want *RateLimitError after ~7s", err)
			}
		})
	}
}

// TestHubTokenPerRequest: the token is asked for at each request (an App
// installation token changes).
func TestHubTokenPerRequest(t *testing.T) {
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			fake := c.start(t)
			var calls atomic.Int32
			f := hubForge(t, c, fake, func(cfg *Config) {
				cfg.Token = func(context.Context) (string, error) {
					if calls.Add(1) == 1 {
						return "expired", nil
					}
					return fake.Token(), nil
				}
			})
			if _, err := f.Find(context.Background(), head, "main"); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("first Find with the expired token = %v, want ErrUnauthorized", err)
			}
			if _, err := f.Find(context.Background(), head, "main"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second Find with the new token = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestHubPacing: content-creating calls are ContentInterval apart, as the host
// received them.
func TestHubPacing(t *testing.T) {
	const every = 250 * time.Millisecond
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			ctx := context.Background()
			fake := c.start(t)
			f := hubForge(t, c, fake, func(cfg *Config) { cfg.ContentInterval = every })
			if err := pushBranch(t, fake.RepoURL(), head, map[string]string{"a": "1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "t", Labels: []string{"l"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Update(ctx, 1, Proposal{Head: head, Base: "main", Title: "t2", Labels: []string{"l"}}); err != nil {
				t.Fatal(err)
			}
			if err := f.Comment(ctx, 1, "c"); err != nil {
				t.Fatal(err)
			}
			ws := writes(fake)
			if len(ws) < 3 {
				t.Fatalf("writes = %+v, want at least 3", ws)
			}
			for i := 1; i < len(ws); i++ {
				// The pacer books slots on the client's clock; the host stamps
				// arrivals: allow the network's jitter.
				if gap := ws[i].At.Sub(ws[i-1].At); gap < every-20*time.Millisecond {
					t.Fatalf("%s %s came %v after %s %s, want at least %v", ws[i].Method, ws[i].Path, gap, ws[i-1].Method, ws[i-1].Path, every)
				}
			}
		})
	}
}

// TestGitHubAPIRoot: an explicit API URL at the root, as api.github.com.
func TestGitHubAPIRoot(t *testing.T) {
	fake := testpeers.GitHubRepo(t, testpeers.GitHTTP(t, testpeers.GitOptions{}), testpeers.GitHubAPIOptions{Root: true, Owner: "team", Name: "store"})
	f := hubForge(t, hubCases[0], fake, func(cfg *Config) { cfg.APIURL = fake.APIURL() })
	if err := pushBranch(t, fake.RepoURL(), head, map[string]string{"a": "1"}); err != nil {
		t.Fatal(err)
	}
	pr, err := f.Open(context.Background(), Proposal{Head: head, Base: "main", Title: "t"})
	if err != nil || pr.Number != 1 {
		t.Fatalf("Open at the root API = %+v, %v", pr, err)
	}
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r.Path, "/api/v3") || !strings.HasPrefix(r.Path, "/repos/team/store/") {
			t.Fatalf("request to %s, want /repos/team/store/…", r.Path)
		}
	}
	// The derived base of a non-github.com host is HOST/api/v3.
	derived := hubForge(t, hubCases[0], fake, nil)
	if _, err := derived.Get(context.Background(), 1); err == nil {
		t.Fatal("the root-API host answered at /api/v3")
	}
	fake.ClearUnexpected()
}

// TestHubFakesRefuseMalformedRequests: the fakes fail a request their API docs
// do not allow, and record it, so the tests above can fail.
func TestHubFakesRefuseMalformedRequests(t *testing.T) {
	for _, c := range hubCases {
		t.Run(c.provider, func(t *testing.T) {
			fake := c.start(t)
			project := map[string]string{GitHub: "/repos/acme/gitops", GitLab: "/projects/acme%2Fplatform%2Fgitops"}[c.provider]
			create := map[string]string{GitHub: "/pulls", GitLab: "/merge_requests"}[c.provider]
			auth := func(r *http.Request) {
				if c.provider == GitHub {
					r.Header.Set("Authorization", "Bearer "+fake.Token())
				} else {
					r.Header.Set("PRIVATE-TOKEN", fake.Token())
				}
			}
			for _, tc := range []struct {
				name, method, path, body string
				auth                     bool
			}{
				{"no credentials", "GET", project + create, "", false},
				{"unknown endpoint", "GET", project + "/nothing", "", true},
				{"missing required field", "POST", project + create, `{"title": "t"}`, true},
				{"wrong field type", "POST", project + create, `{"title": 5, "head": "h", "base": "main", "source_branch": "h", "target_branch": "main"}`, true},
				{"unknown field", "POST", project + create, `{"title": "t", "head": "h", "base": "main", "source_branch": "h", "target_branch": "main", "colour": "red"}`, true},
				{"wrong method", "DELETE", project + create + "/1", "", true},
			} {
				req, err := http.NewRequest(tc.method, fake.APIURL()+tc.path, bytes.NewReader([]byte(tc.body)))
				if err != nil {
					t.Fatal(err)
				}
				if tc.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if tc.auth {
					auth(req)
				}
				before := len(fake.Unexpected())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode > 499 {
					t.Errorf("%s: status %d, want 4xx", tc.name, resp.StatusCode)
				}
				if len(fake.Unexpected()) != before+1 {
					t.Errorf("%s: not recorded as unexpected: %q", tc.name, fake.Unexpected())
				}
			}
			if _, ok := fake.PR(1); ok {
				t.Error("a malformed request opened a pull request")
			}
			fake.ClearUnexpected()
		})
	}
}

// TestHubErrorMapping: each way a host can refuse becomes the documented error
// (the answers of hosts that the fakes do not imitate on demand).
func TestHubErrorMapping(t *testing.T) {
	now := time.Now()
	reset := strconv.FormatInt(now.Add(90*time.Second).Unix(), 10)
	for _, tc := range []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		wait     time.Duration // a *RateLimitError with about this wait; 0: an *APIError
		sentinel error
	}{
		{"403 with Retry-After", 403, map[string]string{"Retry-After": "30"}, `{"message": "slow down"}`, 30 * time.Second, nil},
		{"429 naming no wait", 429, nil, `{"message": "slow down"}`, time.Minute, nil},
		{"GitHub primary limit", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"message": "API rate limit exceeded"}`, 90 * time.Second, nil},
		{"GitLab 429 with RateLimit-Reset", 429, map[string]string{"RateLimit-Reset": reset}, `Retry later`, 90 * time.Second, nil},
		{"plain 403", 403, nil, `{"message": "Must have admin rights"}`, 0, ErrForbidden},
		{"401", 401, nil, `{"message": "Bad credentials"}`, 0, ErrUnauthorized},
		{"500", 500, nil, `{"message": "boom"}`, 0, nil},
	} {
		for _, provider := range []string{GitHub, GitLab} {
			t.Run(provider+"/"+tc.name, func(t *testing.T) {
				if provider == GitHub && tc.name == "GitLab 429 with RateLimit-Reset" || provider == GitLab && tc.name == "GitHub primary limit" {
					return
				}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
				}))
				defer srv.Close()
				cfg := Config{Provider: provider, RepoURL: srv.URL + "/acme/gitops.git", Token: func(context.Context) (string, error) { return "t", nil }}
				var f Forge
				var err error
				if provider == GitHub {
					f, err = newGitHub(cfg)
				} else {
					f, err = newGitLab(cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.Get(context.Background(), 1)
				var rl *RateLimitError
				var apiErr *APIError
				switch {
				case tc.wait != 0:
					if !errors.As(err, &rl) || rl.RetryAfter < tc.wait-5*time.Second || rl.RetryAfter > tc.wait+time.Second {
						t.Fatalf("Get = %v, want *RateLimitError after ~%v", err, tc.wait)
					}
				default:
					if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Err != tc.sentinel || !strings.Contains(apiErr.Call, "/1") {
						t.Fatalf("Get = %#v, want *APIError %d with %v", err, tc.status, tc.sentinel)
					}
				}
			})
		}
	}
}

// TestGitHubRotatingTokens: each request carries the token of the moment (an
// App's installation tokens), which the host decides on.
func TestGitHubRotatingTokens(t *testing.T) {
	var minted atomic.Int32
	var mu sync.Mutex
	var seen []string
	fake := testpeers.GitHubRepo(t, testpeers.GitHTTP(t, testpeers.GitOptions{}), testpeers.GitHubAPIOptions{
		Authorize: func(tok string) bool {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, tok)
			return strings.HasPrefix(tok, "ghs_minted_")
		},
	})
	f := hubForge(t, hubCases[0], fake, func(cfg *Config) {
		cfg.Token = func(context.Context) (string, error) { return "ghs_minted_" + strconv.Itoa(int(minted.Add(1))), nil }
	})
	for range 2 {
		if _, err := f.Find(context.Background(), head, "main"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Find = %v, want ErrNotFound", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []string{"ghs_minted_1", "ghs_minted_2"}) {
		t.Fatalf("the host saw tokens %q, want a new one per request", seen)
	}
}
