package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

// countingTransport counts the requests it passes on, by method.
type countingTransport struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[r.Method]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the counts since the last take.
func (c *countingTransport) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.counts
	c.counts = nil
	return got
}

// giteaFor is the Forge of a repository of g as the person with token.
func giteaFor(t *testing.T, g *testpeers.GiteaServer, cloneURL, token string, rt http.RoundTripper) *giteaForge {
	t.Helper()
	f, err := newGitea(Config{
		Provider: Gitea, RepoURL: cloneURL, Token: staticToken(token),
		HTTPClient: &http.Client{Transport: rt, Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.root != g.URL() {
		t.Fatalf("API root from %s = %q, want %q", cloneURL, f.root, g.URL())
	}
	return f
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
		"GIT_AUTHOR_NAME=Stateward", "GIT_AUTHOR_EMAIL=stateward@example.com",
		"GIT_COMMITTER_NAME=Stateward", "GIT_COMMITTER_EMAIL=stateward@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// giteaClone clones the repository as its owner, the site administrator.
func giteaClone(t *testing.T, g *testpeers.GiteaServer, cloneURL string) string {
	t.Helper()
	u, err := url.Parse(cloneURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(g.Admin(), g.Token())
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, "", "clone", "--quiet", u.String(), wt)
	return wt
}

// commitPush commits file on branch (made from origin/main when new) and
// pushes it; it returns the commit.
func commitPush(t *testing.T, wt, branch, file, content string, fresh bool) string {
	t.Helper()
	if fresh {
		git(t, wt, "checkout", "--quiet", "-B", branch, "origin/main")
	}
	if err := os.WriteFile(filepath.Join(wt, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, wt, "add", file)
	git(t, wt, "commit", "--quiet", "-m", "write "+file)
	git(t, wt, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
	return git(t, wt, "rev-parse", "HEAD")
}

type giteaHook struct {
	ID     int64             `json:"id"`
	Type   string            `json:"type"`
	Events []string          `json:"events"`
	Config map[string]string `json:"config"`
}

func hooksFor(t *testing.T, g *testpeers.GiteaServer, owner, name, target string) []giteaHook {
	t.Helper()
	var all, for_ []giteaHook
	g.MustCall(t, g.Token(), http.MethodGet, "/repos/"+owner+"/"+name+"/hooks", nil, http.StatusOK, &all)
	for _, h := range all {
		if h.Config["url"] == target {
			for_ = append(for_, h)
		}
	}
	return for_
}

func wantErr(t *testing.T, what string, err, sentinel error, saying string) {
	t.Helper()
	var e *APIError
	if !errors.Is(err, sentinel) || !errors.As(err, &e) || !strings.Contains(e.Message, saying) {
		t.Fatalf("%s: %v, want an *APIError wrapping %v saying %q", what, err, sentinel, saying)
	}
}

// TestGiteaPullRequestThroughReview walks one pull request of a store through
// a real Gitea with a protected main: found, opened, edited, refused while
// unapproved and when its head moved, merged, and its merge delivered to the
// store's hook.
func TestGiteaPullRequestThroughReview(t *testing.T) {
	g := testpeers.Gitea(t)
	owner, name, cloneURL := g.NewRepo(t, true)
	reviewer, reviewerToken := g.NewUser(t)
	g.AddCollaborator(t, owner, name, reviewer, "write")
	counts := &countingTransport{}
	f := giteaFor(t, g, cloneURL, g.Token(), counts)
	ctx := context.Background()
	repo := "/repos/" + owner + "/" + name

	// The hook, set twice: one hook, with the second secret.
	hooks := testpeers.NewWebhookRecorder(t)
	if err := f.EnsureHook(ctx, hooks.URL(), "first-secret"); err != nil {
		t.Fatalf("EnsureHook: %v", err)
	}
	const secret = "the-store-webhook-secret"
	if err := f.EnsureHook(ctx, hooks.URL(), secret); err != nil {
		t.Fatalf("EnsureHook again: %v", err)
	}
	if hs := hooksFor(t, g, owner, name, hooks.URL()); len(hs) != 1 || hs[0].Type != "gitea" ||
		hs[0].Config["content_type"] != "json" || !slices.Contains(hs[0].Events, "pull_request") || !slices.Contains(hs[0].Events, "push") {
		t.Fatalf("hooks for %s after EnsureHook twice: %+v, want one of type gitea, json, pull_request and push", hooks.URL(), hs)
	}

	wt := giteaClone(t, g, cloneURL)
	const head = "stateward/gitops"
	first := commitPush(t, wt, head, "works.yaml", "kind: Work\n", true)

	if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find before Open: %v, want ErrNotFound", err)
	}

	// One label exists already, one is made.
	g.MustCall(t, g.Token(), http.MethodPost, repo+"/labels", map[string]any{"name": "gitops", "color": "#00aabb"}, http.StatusCreated, nil)
	opened, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "Stateward: 1 Work", Body: "Adds **one** Work.", Labels: []string{"gitops", "stateward"}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if opened.Number == 0 || opened.State != Open || opened.Head != head || opened.Base != "main" || opened.HeadSHA != first ||
		!giteaSameSet(opened.Labels, []string{"gitops", "stateward"}) || !strings.HasPrefix(opened.URL, g.URL()+"/") {
		t.Fatalf("Open = %+v", opened)
	}
	var labels []struct{ Name string }
	g.MustCall(t, g.Token(), http.MethodGet, repo+"/labels", nil, http.StatusOK, &labels)
	if len(labels) != 2 {
		t.Fatalf("repository labels %+v, want gitops and stateward once each", labels)
	}

	found, err := f.Find(ctx, head, "main")
	if err != nil || found.Number != opened.Number {
		t.Fatalf("Find after Open = %+v, %v; want #%d", found, err, opened.Number)
	}

	// An edit changes title, body and labels in place.
	want := Proposal{Head: head, Base: "main", Title: "Stateward: 2 Works", Body: "Adds two Works.\n\n| Destination | added |\n|---|---|\n| dev-1 | 2 |\n", Labels: []string{"stateward", "reviewed"}}
	updated, err := f.Update(ctx, opened.Number, want)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err := f.Get(ctx, opened.Number)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []PR{updated, got} {
		if p.Title != want.Title || p.Body != want.Body || !giteaSameSet(p.Labels, want.Labels) || p.State != Open {
			t.Fatalf("after Update: %+v, want %+v", p, want)
		}
	}
	// The same proposal again (labels in another order) reads and writes nothing.
	counts.take()
	want.Labels = []string{"reviewed", "stateward"}
	if _, err := f.Update(ctx, opened.Number, want); err != nil {
		t.Fatal(err)
	}
	if c := counts.take(); len(c) != 1 || c[http.MethodGet] != 1 {
		t.Fatalf("a no-op Update made %v, want one GET", c)
	}

	// Gitea checks the pull request; then it is mergeable (no conflict), but
	// main's protection wants an approval.
	waitMergeable := func(sha string) PR {
		t.Helper()
		var p PR
		testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
			p, err = f.Get(ctx, opened.Number)
			return err == nil && p.Mergeable && p.HeadSHA == sha, fmt.Sprintf("%+v %v", p, err)
		})
		return p
	}
	// Gitea answers 405 "Please try again later" while it checks the pull
	// request, which it does again after each push and each refused merge,
	// at its own pace; the writer tries again later, and so does merge.
	merge := func(sha string) (string, error) {
		t.Helper()
		var merged string
		testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
			merged, err = f.Merge(ctx, opened.Number, sha)
			var e *APIError
			return !errors.As(err, &e) || e.Message != "Please try again later", fmt.Sprint(err)
		})
		return merged, err
	}
	waitMergeable(first)
	_, err = merge(first)
	wantErr(t, "Merge without an approval", err, ErrNotMergeable, "approvals")

	g.MustCall(t, reviewerToken, http.MethodPost, fmt.Sprintf("%s/pulls/%d/reviews", repo, opened.Number),
		map[string]any{"event": "APPROVED", "body": "Looks right."}, http.StatusOK, nil)

	// The head moves after the approval: a merge of the old head is refused.
	second := commitPush(t, wt, head, "works.yaml", "kind: Work\nmetadata: {name: two}\n", false)
	waitMergeable(second)
	_, err = merge(first)
	wantErr(t, "Merge of a stale head", err, ErrNotMergeable, "head out of date")

	sha, err := merge(second)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if remote := strings.Fields(git(t, wt, "ls-remote", "origin", "refs/heads/main")); len(remote) == 0 || remote[0] != sha {
		t.Fatalf("main on the server: %v, want the merge commit %s", remote, sha)
	}
	git(t, wt, "fetch", "--quiet", "origin")
	if parents := git(t, wt, "rev-list", "--parents", "-n", "1", sha); !strings.HasSuffix(parents, " "+second) {
		t.Fatalf("merge commit and parents %q, want %s among them", parents, second)
	}
	merged, err := f.Get(ctx, opened.Number)
	if err != nil {
		t.Fatal(err)
	}
	if merged.State != Merged || merged.MergeCommitSHA != sha || merged.MergedBy != g.Admin() || merged.HeadSHA != second {
		t.Fatalf("Get after Merge = %+v, want merged as %s by %s at %s", merged, sha, g.Admin(), second)
	}
	if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find after the merge: %v, want ErrNotFound", err)
	}

	// The merge reached the hook, signed with the second secret.
	d := hooks.Wait(t, 30*time.Second, func(d testpeers.WebhookDelivery) bool {
		ev, err := Parse(Gitea, d.Header, d.Body)
		return err == nil && ev.Kind == EventPullRequest && ev.State == Merged
	})
	if err := Verify(Gitea, secret, d.Header, d.Body); err != nil {
		t.Fatalf("Verify the merge delivery: %v", err)
	}
	if err := Verify(Gitea, "first-secret", d.Header, d.Body); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify with the replaced secret: %v, want ErrBadSignature", err)
	}
	ev, _ := Parse(Gitea, d.Header, d.Body)
	if want := (Event{Kind: EventPullRequest, Number: opened.Number, Action: "closed", State: Merged, Sender: g.Admin(), Repo: owner + "/" + name}); ev != want {
		t.Fatalf("Parse(merge delivery) = %+v, want %+v", ev, want)
	}
	for i, d := range hooks.Deliveries() {
		if err := Verify(Gitea, secret, d.Header, d.Body); err != nil {
			t.Errorf("delivery %d (%s): %v", i, d.Header.Get("X-Gitea-Event"), err)
		}
	}
}

// TestGiteaClosedPullRequest: a person closes the pull request; Get names
// them, Find finds no open one, and a new pull request from the same head is
// found although Gitea's base/head lookup answers the closed one.
func TestGiteaClosedPullRequest(t *testing.T) {
	g := testpeers.Gitea(t)
	owner, name, cloneURL := g.NewRepo(t, true)
	closer, closerToken := g.NewUser(t)
	g.AddCollaborator(t, owner, name, closer, "write")
	f := giteaFor(t, g, cloneURL, g.Token(), http.DefaultTransport)
	ctx := context.Background()
	repo := "/repos/" + owner + "/" + name

	wt := giteaClone(t, g, cloneURL)
	const head = "stateward/gitops"
	commitPush(t, wt, head, "works.yaml", "kind: Work\n", true)
	// With a label: its event in the timeline is an object the SDK's timeline type cannot decode.
	p, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "Stateward: 1 Work", Body: "One Work.", Labels: []string{"gitops"}})
	if err != nil {
		t.Fatal(err)
	}

	if err := f.Comment(ctx, p.Number, "The base moved; Stateward rebuilt this branch."); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	var comments []struct {
		Body string
		User struct{ Login string }
	}
	g.MustCall(t, g.Token(), http.MethodGet, fmt.Sprintf("%s/issues/%d/comments", repo, p.Number), nil, http.StatusOK, &comments)
	if len(comments) != 1 || comments[0].Body != "The base moved; Stateward rebuilt this branch." || comments[0].User.Login != g.Admin() {
		t.Fatalf("comments %+v, want the one Stateward made", comments)
	}

	g.MustCall(t, closerToken, http.MethodPatch, fmt.Sprintf("%s/pulls/%d", repo, p.Number), map[string]any{"state": "closed"}, http.StatusCreated, nil)
	closed, err := f.Get(ctx, p.Number)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != Closed || closed.ClosedBy != closer || closed.MergedBy != "" || closed.MergeCommitSHA != "" {
		t.Fatalf("Get after close = %+v, want closed by %s", closed, closer)
	}
	if _, err := f.Find(ctx, head, "main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find with only a closed pull request: %v, want ErrNotFound", err)
	}

	again, err := f.Open(ctx, Proposal{Head: head, Base: "main", Title: "Stateward: 1 Work, again", Body: "One Work."})
	if err != nil {
		t.Fatal(err)
	}
	found, err := f.Find(ctx, head, "main")
	if err != nil || found.Number != again.Number || found.State != Open {
		t.Fatalf("Find = %+v, %v; want the new #%d (the closed one is #%d)", found, err, again.Number, p.Number)
	}
	if _, err := f.Get(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of no such pull request: %v, want ErrNotFound", err)
	}
}

// TestGiteaEnsureHookForbidden: a collaborator who may write but not
// administer the repository, or who cannot see it, may not register hooks.
func TestGiteaEnsureHookForbidden(t *testing.T) {
	g := testpeers.Gitea(t)
	owner, name, cloneURL := g.NewRepo(t, false)
	writer, writerToken := g.NewUser(t)
	g.AddCollaborator(t, owner, name, writer, "write")
	_, strangerToken := g.NewUser(t)
	hooks := testpeers.NewWebhookRecorder(t)
	for who, token := range map[string]string{"writer": writerToken, "stranger": strangerToken} {
		f := giteaFor(t, g, cloneURL, token, http.DefaultTransport)
		err := f.EnsureHook(context.Background(), hooks.URL(), "s3cret")
		var e *APIError
		if !errors.Is(err, ErrForbidden) || !errors.As(err, &e) || e.Call != "GET /repos/"+owner+"/"+name+"/hooks" {
			t.Errorf("EnsureHook as %s: %v, want ErrForbidden from GET /repos/%s/%s/hooks", who, err, owner, name)
		}
	}
	if hs := hooksFor(t, g, owner, name, hooks.URL()); len(hs) != 0 {
		t.Fatalf("hooks %+v registered without the right", hs)
	}
}

// onceTooMany answers the first request 429 with Retry-After: 7, as a proxy in
// front of Gitea would, and passes the others on.
type onceTooMany struct {
	mu   sync.Mutex
	sent bool
}

func (o *onceTooMany) RoundTrip(r *http.Request) (*http.Response, error) {
	o.mu.Lock()
	first := !o.sent
	o.sent = true
	o.mu.Unlock()
	if first {
		return answer(r, http.StatusTooManyRequests, `{"message":"rate limit exceeded"}`, "Retry-After", "7"), nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestGiteaRateLimited(t *testing.T) {
	g := testpeers.Gitea(t)
	_, _, cloneURL := g.NewRepo(t, false)
	f := giteaFor(t, g, cloneURL, g.Token(), &onceTooMany{})
	_, err := f.Find(context.Background(), "stateward/gitops", "main")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second || rl.Message != "rate limit exceeded" {
		t.Fatalf("Find through a 429: %v, want *RateLimitError{RetryAfter: 7s}", err)
	}
	if _, err := f.Find(context.Background(), "stateward/gitops", "main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find after the wait: %v, want Gitea's ErrNotFound", err)
	}
}
