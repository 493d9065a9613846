package testpeers

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file is the part that GitHubAPI and GitLabAPI share: a host on
// 127.0.0.1 in front of a real bare repository (a GitServer). The host serves
// the repository over smart HTTP at /OWNER/NAME.git (proxied to the
// GitServer's git http-backend, so a push through it is a real push), keeps
// pull requests in memory, merges them for real in the bare repository
// (git merge-tree, commit-tree, update-ref), delivers signed webhooks, and
// records every request and every request that the documented API would
// refuse (Unexpected).

// ForgePR is a pull request (GitLab: merge request) as a fake host keeps it.
type ForgePR struct {
	Number int
	// State is "open", "closed" or "merged".
	State      string
	Head, Base string
	Title      string
	Body       string
	Labels     []string
	Comments   []string
	// HeadSHA is the head's commit at the merge (empty while open: the head is
	// read from the repository).
	HeadSHA string
	// MergeCommitSHA is the merge commit on Base.
	MergeCommitSHA     string
	MergedBy, ClosedBy string
	// Author is the login that opened it.
	Author string
}

// ForgeHook is a registered webhook.
type ForgeHook struct {
	ID     int64
	URL    string
	Secret string
	// Events are GitHub's event names, or GitLab's "push_events" /
	// "merge_requests_events" that are on.
	Events []string
	Active bool
}

// ForgeRequest is one API request a fake host received.
type ForgeRequest struct {
	Method, Path string
	Query        url.Values
	At           time.Time
}

// ForgeDelivery is one webhook a fake host delivered.
type ForgeDelivery struct {
	URL    string
	Event  string
	Status int // the receiver's answer, 0 when it did not answer
	Body   []byte
}

// Mergeability switches of a fake host (SetMergeability).
const (
	// MergeAuto: clean unless the repository finds a conflict.
	MergeAuto = "auto"
	// MergeReviewRequired: a required review is missing (GitHub
	// mergeable_state "blocked", GitLab detailed_merge_status "not_approved");
	// the merge endpoint refuses.
	MergeReviewRequired = "review-required"
	// MergeUnknown: the host has not computed mergeability yet (GitHub
	// mergeable null / "unknown", GitLab "checking").
	MergeUnknown = "unknown"
)

// forgeHost is the state and the machinery common to the fakes.
type forgeHost struct {
	t       testing.TB
	git     *GitServer
	srv     *httptest.Server
	proxy   *httputil.ReverseProxy
	path    string // owner/name (GitLab: group/…/project)
	token   string
	accepts func(token string) bool // when set, decides instead of token
	login   string
	onPush  func(ref, before, after, sender string) // the host's push event, mu not held
	running sync.WaitGroup                          // webhook deliveries under way

	mu           sync.Mutex
	prs          []*ForgePR // prs[n-1] is number n
	hooks        []*ForgeHook
	nextHook     int64
	requests     []ForgeRequest
	unexpected   []string
	deliveries   []ForgeDelivery
	refs         map[string]string // refs/heads/… → sha, as last seen
	mergeability string
	rateLimited  int
	rateWait     time.Duration
	forbidHooks  bool
	protected    map[string]bool
}

func newForgeHost(t testing.TB, git *GitServer, path, token, login string) *forgeHost {
	t.Helper()
	if git == nil || git.srv == nil {
		t.Fatalf("testpeers: a fake forge needs a GitHTTP server")
	}
	target, err := url.Parse(git.srv.URL)
	if err != nil {
		t.Fatalf("testpeers: %v", err)
	}
	h := &forgeHost{t: t, git: git, path: path, token: token, login: login, mergeability: MergeAuto, protected: map[string]bool{}}
	h.proxy = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = "/" + repoName + strings.TrimPrefix(r.In.URL.Path, "/"+path+".git")
		r.Out.URL.RawPath = ""
	}}
	h.refs = h.readRefs()
	return h
}

// start serves api (everything but the repository's smart HTTP paths).
func (h *forgeHost) start(api http.Handler) {
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/"+h.path+".git/") {
			h.proxy.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				h.scanPushes(h.login)
			}
			return
		}
		h.mu.Lock()
		h.requests = append(h.requests, ForgeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()})
		h.mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	h.t.Cleanup(func() {
		h.srv.Close()
		h.running.Wait()
		if u := h.Unexpected(); len(u) > 0 {
			h.t.Errorf("the fake forge refused requests that its API docs do not allow:\n%s", strings.Join(u, "\n"))
		}
	})
}

// RepoURL is the repository's Git URL on the host (clone and push go to the
// real repository).
func (h *forgeHost) RepoURL() string { return h.srv.URL + "/" + h.path + ".git" }

// Git is the repository behind the host.
func (h *forgeHost) Git() *GitServer { return h.git }

// authorized reports whether the API accepts tok.
func (h *forgeHost) authorized(tok string) bool {
	if h.accepts != nil {
		return h.accepts(tok)
	}
	return tok == h.token
}

// Token is the credential the API accepts; Login is whose it is.
func (h *forgeHost) Token() string { return h.token }
func (h *forgeHost) Login() string { return h.login }

// Requests returns the API requests received so far, oldest first.
func (h *forgeHost) Requests() []ForgeRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// Unexpected lists the requests refused as not matching the documented API
// (unknown endpoint, wrong method, missing or mistyped field, no credentials).
// A test using the fake fails at cleanup unless it is empty (ClearUnexpected).
func (h *forgeHost) Unexpected() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.unexpected)
}

// ClearUnexpected forgets the unexpected requests, for a test that sends
// malformed ones on purpose.
func (h *forgeHost) ClearUnexpected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unexpected = nil
}

// Deliveries returns the webhooks delivered so far (those answered or failed).
func (h *forgeHost) Deliveries() []ForgeDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.deliveries)
}

// PR returns pull request number (false when there is none).
func (h *forgeHost) PR(number int) (ForgePR, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pr(number)
	if p == nil {
		return ForgePR{}, false
	}
	c := *p
	c.Labels, c.Comments = slices.Clone(p.Labels), slices.Clone(p.Comments)
	return c, true
}

// Hooks returns the registered webhooks.
func (h *forgeHost) Hooks() []ForgeHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	var hs []ForgeHook
	for _, k := range h.hooks {
		hs = append(hs, *k)
	}
	return hs
}

// SetMergeability sets what the host says of open pull requests' mergeability
// (MergeAuto, MergeReviewRequired, MergeUnknown).
func (h *forgeHost) SetMergeability(m string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mergeability = m
}

// RateLimit makes the next n API requests fail with 429 and Retry-After wait.
func (h *forgeHost) RateLimit(n int, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rateLimited, h.rateWait = n, wait
}

// ForbidHooks makes the hooks endpoints answer 403, as to credentials without
// admin (GitLab: Maintainer) rights.
func (h *forgeHost) ForbidHooks(forbid bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forbidHooks = forbid
}

// takeRateLimit reports whether this request is rate limited, and the wait.
func (h *forgeHost) takeRateLimit() (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rateLimited == 0 {
		return 0, false
	}
	h.rateLimited--
	return h.rateWait, true
}

// unexpectedf records a refused request.
func (h *forgeHost) unexpectedf(r *http.Request, format string, a ...any) string {
	msg := fmt.Sprintf(format, a...)
	h.mu.Lock()
	h.unexpected = append(h.unexpected, r.Method+" "+r.URL.RequestURI()+": "+msg)
	h.mu.Unlock()
	return msg
}

func (h *forgeHost) pr(number int) *ForgePR {
	if number < 1 || number > len(h.prs) {
		return nil
	}
	return h.prs[number-1]
}

// field is a JSON field a request body may have: its kind is "string",
// "bool", "int", "strings" (an array of strings), "object" or "any" (checked
// by the endpoint).
type field struct {
	kind     string
	required bool
}

// decodeBody reads r's JSON object and checks it against fields: every field
// known, of its kind, the required ones present. A body that is a bare array
// is returned in arr when allowArray.
func decodeBody(r *http.Request, fields map[string]field, allowArray bool) (obj map[string]any, arr []any, problem string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, nil, fmt.Sprintf("Content-Type is %q, not application/json", ct)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err.Error()
	}
	if allowArray && bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, nil, "body is not JSON: " + err.Error()
		}
		return nil, arr, ""
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, nil, "body is not a JSON object"
	}
	for k, v := range obj {
		f, ok := fields[k]
		if !ok {
			return nil, nil, fmt.Sprintf("unknown field %q", k)
		}
		if !kindOK(f.kind, v) {
			return nil, nil, fmt.Sprintf("field %q is not a %s", k, f.kind)
		}
	}
	for k, f := range fields {
		if _, ok := obj[k]; f.required && !ok {
			return nil, nil, fmt.Sprintf("field %q is missing", k)
		}
	}
	return obj, nil, ""
}

func kindOK(kind string, v any) bool {
	switch kind {
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "int":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "strings":
		return stringsOK(v)
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "any":
		return true
	}
	return false
}

func stringsOK(v any) bool {
	a, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range a {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

func toStrings(v any) []string {
	var s []string
	a, _ := v.([]any)
	for _, e := range a {
		if x, ok := e.(string); ok {
			s = append(s, x)
		}
	}
	return s
}

// segments splits an escaped URL path after prefix into its unescaped parts
// (GitLab's project id is one escaped segment), or nil when it does not start
// with prefix.
func segments(r *http.Request, prefix string) []string {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, prefix+"/") {
		return nil
	}
	var out []string
	for s := range strings.SplitSeq(strings.TrimPrefix(p, prefix+"/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil
		}
		out = append(out, u)
	}
	return out
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sha returns branch's tip in the repository, "" when it does not exist.
func (h *forgeHost) sha(branch string) string {
	out, err := runGit(h.git.dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// mergeTree is the tree that merging head into base gives, or conflict.
func (h *forgeHost) mergeTree(base, head string) (tree string, conflict bool, err error) {
	cmd := exec.Command("git", "merge-tree", "--write-tree", "--no-messages", base, head)
	cmd.Dir = h.git.dir
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 1 {
		return "", true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("git merge-tree: %v: %s", err, stderr.String())
	}
	return strings.TrimSpace(strings.SplitN(stdout.String(), "\n", 2)[0]), false, nil
}

// mergeState is the mergeability of open pull request p: "conflict",
// MergeReviewRequired, MergeUnknown or "clean". mu held.
func (h *forgeHost) mergeState(p *ForgePR) string {
	if h.mergeability == MergeUnknown {
		return MergeUnknown
	}
	base, head := h.sha(p.Base), h.sha(p.Head)
	if base == "" || head == "" {
		return "conflict"
	}
	if _, conflict, err := h.mergeTree(base, head); err != nil || conflict {
		return "conflict"
	}
	if h.mergeability == MergeReviewRequired {
		return MergeReviewRequired
	}
	return "clean"
}

// merge merges open pull request p as login for real: a merge commit of Base
// and Head on Base, if Head is still wantSHA (when given). status is 0 on
// success, else the reason: "stale", "conflict", "blocked". mu held.
func (h *forgeHost) merge(p *ForgePR, wantSHA, login, message string) (reason string, err error) {
	base, head := h.sha(p.Base), h.sha(p.Head)
	if wantSHA != "" && wantSHA != head {
		return "stale", nil
	}
	switch h.mergeState(p) {
	case "conflict":
		return "conflict", nil
	case MergeReviewRequired, MergeUnknown:
		return "blocked", nil
	}
	tree, _, err := h.mergeTree(base, head)
	if err != nil {
		return "", err
	}
	who := []string{
		"GIT_AUTHOR_NAME=" + login, "GIT_AUTHOR_EMAIL=" + login + "@users.noreply.example.com",
		"GIT_COMMITTER_NAME=" + login, "GIT_COMMITTER_EMAIL=" + login + "@users.noreply.example.com",
	}
	out, err := runGit(h.git.dir, who, "commit-tree", tree, "-p", base, "-p", head, "-m", message)
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(out)
	// update-ref runs no hooks: the host's own merge passes branch protection.
	if _, err := runGit(h.git.dir, nil, "update-ref", "refs/heads/"+p.Base, commit, base); err != nil {
		return "", err
	}
	p.State, p.HeadSHA, p.MergeCommitSHA, p.MergedBy = "merged", head, commit, login
	return "", nil
}

// readRefs lists the repository's branches.
func (h *forgeHost) readRefs() map[string]string {
	refs := map[string]string{}
	out, err := runGit(h.git.dir, nil, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
	if err != nil {
		return refs
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs
}

// scanPushes compares the branches with the last scan and sends the host's
// push event for each change (after a push through the host, or its merge),
// as sender's.
func (h *forgeHost) scanPushes(sender string) {
	h.mu.Lock()
	now := h.readRefs()
	type change struct{ ref, before, after string }
	var changes []change
	zero := strings.Repeat("0", 40)
	for ref, sha := range now {
		if before := h.refs[ref]; before != sha {
			if before == "" {
				before = zero
			}
			changes = append(changes, change{ref, before, sha})
		}
	}
	for ref, before := range h.refs {
		if _, ok := now[ref]; !ok {
			changes = append(changes, change{ref, before, zero})
		}
	}
	h.refs = now
	h.mu.Unlock()
	slices.SortFunc(changes, func(a, b change) int { return strings.Compare(a.ref, b.ref) })
	for _, c := range changes {
		h.onPush(c.ref, c.before, c.after, sender)
	}
}

// protect installs a pre-receive hook refusing pushes to branch with msg (the
// host's own merge goes through update-ref, which runs no hooks).
func (h *forgeHost) protect(branch, msg string) {
	h.mu.Lock()
	h.protected[branch] = true
	var refs []string
	for b := range h.protected {
		refs = append(refs, shellQuote("refs/heads/"+b))
	}
	h.mu.Unlock()
	slices.Sort(refs)
	h.git.SetPreReceive("#!/bin/sh\nwhile read old new ref; do\n  for p in " + strings.Join(refs, " ") +
		"; do\n    if [ \"$ref\" = \"$p\" ]; then echo " + shellQuote(msg) + " >&2; exit 1; fi\n  done\ndone\nexit 0\n")
}

// deliver posts body to every active hook subscribed to event, with the
// headers sign gives, in the background (as hosts do); mu not held.
func (h *forgeHost) deliver(event string, body []byte, subscribed func(*ForgeHook) bool, sign func(hook *ForgeHook, req *http.Request)) {
	h.mu.Lock()
	var targets []ForgeHook
	for _, k := range h.hooks {
		if k.Active && subscribed(k) {
			targets = append(targets, *k)
		}
	}
	h.mu.Unlock()
	for _, k := range targets {
		h.running.Add(1)
		go func() {
			defer h.running.Done()
			d := ForgeDelivery{URL: k.URL, Event: event, Body: body}
			req, err := http.NewRequest(http.MethodPost, k.URL, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				sign(&k, req)
				c := &http.Client{Timeout: 10 * time.Second}
				if resp, err := c.Do(req); err == nil {
					d.Status = resp.StatusCode
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			h.mu.Lock()
			h.deliveries = append(h.deliveries, d)
			h.mu.Unlock()
		}()
	}
}

// deliveryID is a random id for a delivery header.
func deliveryID() string { return strings.ToLower(rand.Text()) }

// atoi parses a positive decimal path segment.
func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}
