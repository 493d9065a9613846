package testpeers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GitHubAPIOptions configures GitHubAPI.
type GitHubAPIOptions struct {
	// Owner and Name are the repository's; "acme" and "gitops" when empty.
	Owner, Name string
	// Token is the only credential the API accepts (Authorization: Bearer or
	// token); Login is whose it is. "ghs_fake" and "stateward-bot" when empty.
	Token, Login string
	// Authorize, when set, decides which tokens the API accepts instead of
	// Token, e.g. func(tok string) bool { return app.Accepts("x-access-token", tok) }
	// for the installation tokens of a GitHubAppAPI.
	Authorize func(token string) bool
	// Root serves the API at the root, as api.github.com does; otherwise it is
	// under /api/v3, as on GitHub Enterprise Server (the base that forge
	// derives from the repository URL).
	Root bool
}

// GitHubAPI is a local GitHub (REST API v3) for one repository, in front of a
// real bare repository served by GitHTTP: the repository is cloned from and
// pushed to at RepoURL through the host. It speaks the endpoints of
// https://docs.github.com/rest that package forge uses — pulls (list, create,
// get, update, merge), issues (get, labels, comments) and repository hooks —
// and refuses, with 4xx and a record in Unexpected, any other request or one
// whose method, fields or field types the docs do not allow, or that carries
// no credentials.
//
// Pull requests are merged for real (a merge commit on the base branch);
// mergeability comes from the repository (git merge-tree) and
// SetMergeability. Webhooks go to the registered hooks with
// X-Hub-Signature-256 (HMAC-SHA256 of the body with the hook's secret) on
// opened, edited, closed, reopened, synchronize and push.
type GitHubAPI struct {
	*forgeHost
	owner, name, prefix string
}

// GitHubRepo starts a GitHubAPI in front of git (a GitHTTP server); it closes
// at cleanup, where the test fails if Unexpected is not empty.
func GitHubRepo(t testing.TB, git *GitServer, opts GitHubAPIOptions) *GitHubAPI {
	t.Helper()
	g := &GitHubAPI{owner: opts.Owner, name: opts.Name, prefix: "/api/v3"}
	if g.owner == "" {
		g.owner = "acme"
	}
	if g.name == "" {
		g.name = "gitops"
	}
	if opts.Root {
		g.prefix = ""
	}
	token, login := opts.Token, opts.Login
	if token == "" {
		token = "ghs_fake"
	}
	if login == "" {
		login = "stateward-bot"
	}
	g.forgeHost = newForgeHost(t, git, g.owner+"/"+g.name, token, login)
	g.accepts = opts.Authorize
	g.onPush = g.pushed
	g.start(http.HandlerFunc(g.serve))
	return g
}

// APIURL is the REST API's base URL.
func (g *GitHubAPI) APIURL() string { return g.srv.URL + g.prefix }

// Protect makes the repository refuse pushes to branch, as GitHub's branch
// protection does; merges through the API still land.
func (g *GitHubAPI) Protect(branch string) {
	g.protect(branch, "GH006: Protected branch update failed for refs/heads/"+branch+".")
}

// Close closes open pull request number as login, as someone on the web page.
func (g *GitHubAPI) Close(t testing.TB, number int, login string) {
	t.Helper()
	g.mu.Lock()
	p := g.pr(number)
	if p == nil || p.State != "open" {
		g.mu.Unlock()
		t.Fatalf("GitHubAPI.Close: no open pull request #%d", number)
	}
	p.State, p.ClosedBy = "closed", login
	payload := g.prEvent("closed", p, login)
	g.mu.Unlock()
	g.send("pull_request", payload)
}

// MergeAs merges open pull request number as login, as someone on the web page
// (branch protection and review rules as for the API), and returns the merge
// commit.
func (g *GitHubAPI) MergeAs(t testing.TB, number int, login string) string {
	t.Helper()
	g.mu.Lock()
	p := g.pr(number)
	if p == nil || p.State != "open" {
		g.mu.Unlock()
		t.Fatalf("GitHubAPI.MergeAs: no open pull request #%d", number)
	}
	reason, err := g.merge(p, "", login, fmt.Sprintf("Merge pull request #%d from %s/%s", number, g.owner, p.Head))
	if err != nil || reason != "" {
		g.mu.Unlock()
		t.Fatalf("GitHubAPI.MergeAs #%d: %v %s", number, err, reason)
	}
	commit := p.MergeCommitSHA
	payload := g.prEvent("closed", p, login)
	g.mu.Unlock()
	g.send("pull_request", payload)
	g.scanPushes(login)
	return commit
}

// pushed sends push, and synchronize for the open pull requests from the branch.
func (g *GitHubAPI) pushed(ref, before, after, login string) {
	g.send("push", map[string]any{
		"ref": ref, "before": before, "after": after,
		"repository": g.repoJSON(), "pusher": map[string]any{"name": login}, "sender": ghUser(login),
	})
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return
	}
	g.mu.Lock()
	var events []map[string]any
	for _, p := range g.prs {
		if p.State == "open" && p.Head == branch {
			events = append(events, g.prEvent("synchronize", p, login))
		}
	}
	g.mu.Unlock()
	for _, e := range events {
		g.send("pull_request", e)
	}
}

// send delivers a GitHub event to the hooks subscribed to it.
func (g *GitHubAPI) send(event string, payload map[string]any) {
	g.sendTo(event, payload, func(k *ForgeHook) bool {
		return slices.Contains(k.Events, event) || slices.Contains(k.Events, "*")
	})
}

func (g *GitHubAPI) sendTo(event string, payload map[string]any, to func(*ForgeHook) bool) {
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	g.deliver(event, body, to, func(k *ForgeHook, req *http.Request) {
		req.Header.Set("User-Agent", "GitHub-Hookshot/testpeers")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", deliveryID())
		req.Header.Set("X-GitHub-Hook-ID", strconv.FormatInt(k.ID, 10))
		if k.Secret != "" {
			mac := hmac.New(sha256.New, []byte(k.Secret))
			mac.Write(body)
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		}
	})
}

func ghUser(login string) map[string]any {
	if login == "" {
		return nil
	}
	return map[string]any{"login": login, "type": "User"}
}

func (g *GitHubAPI) repoJSON() map[string]any {
	return map[string]any{"full_name": g.owner + "/" + g.name, "name": g.name, "owner": ghUser(g.owner)}
}

// prEvent is a pull_request event's payload. mu held.
func (g *GitHubAPI) prEvent(action string, p *ForgePR, sender string) map[string]any {
	return map[string]any{
		"action": action, "number": p.Number, "pull_request": g.prJSON(p, true),
		"repository": g.repoJSON(), "sender": ghUser(sender),
	}
}

// prJSON is a pull request as the API shows it (full: with mergeability, as
// the single-PR endpoint gives it). mu held.
func (g *GitHubAPI) prJSON(p *ForgePR, full bool) map[string]any {
	headSHA := p.HeadSHA
	if p.State == "open" || headSHA == "" {
		headSHA = g.sha(p.Head)
	}
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	j := map[string]any{
		"url":      fmt.Sprintf("%s%s/repos/%s/%s/pulls/%d", g.srv.URL, g.prefix, g.owner, g.name, p.Number),
		"html_url": fmt.Sprintf("%s/%s/%s/pull/%d", g.srv.URL, g.owner, g.name, p.Number),
		"number":   p.Number, "title": p.Title, "body": p.Body, "user": ghUser(p.Author), "labels": labels,
		"state":            map[bool]string{true: "open", false: "closed"}[p.State == "open"],
		"head":             map[string]any{"ref": p.Head, "sha": headSHA, "label": g.owner + ":" + p.Head},
		"base":             map[string]any{"ref": p.Base, "sha": g.sha(p.Base), "label": g.owner + ":" + p.Base},
		"merged":           p.State == "merged",
		"merged_by":        ghUser(p.MergedBy),
		"merge_commit_sha": nil,
	}
	if p.State == "merged" {
		j["merge_commit_sha"] = p.MergeCommitSHA
		j["merged_at"] = time.Now().UTC().Format(time.RFC3339)
	}
	if full {
		j["mergeable"], j["mergeable_state"] = nil, "unknown"
		if p.State == "open" {
			switch g.mergeState(p) {
			case "clean":
				j["mergeable"], j["mergeable_state"] = true, "clean"
			case "conflict":
				j["mergeable"], j["mergeable_state"] = false, "dirty"
			case MergeReviewRequired:
				j["mergeable"], j["mergeable_state"] = true, "blocked"
			}
		}
	}
	return j
}

func (g *GitHubAPI) issueJSON(p *ForgePR) map[string]any {
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	return map[string]any{
		"number": p.Number, "title": p.Title, "body": p.Body, "labels": labels, "user": ghUser(p.Author),
		"state":        map[bool]string{true: "open", false: "closed"}[p.State == "open"],
		"closed_by":    ghUser(map[bool]string{true: p.ClosedBy, false: p.MergedBy}[p.State == "closed"]),
		"pull_request": map[string]any{"url": fmt.Sprintf("%s%s/repos/%s/%s/pulls/%d", g.srv.URL, g.prefix, g.owner, g.name, p.Number)},
	}
}

func hookJSON(k *ForgeHook) map[string]any {
	return map[string]any{
		"id": k.ID, "type": "Repository", "name": "web", "active": k.Active, "events": k.Events,
		"config": map[string]any{"url": k.URL, "content_type": "json", "insecure_ssl": "0", "secret": "********"},
	}
}

// ghFail answers a GitHub error; unexpected ones are recorded.
func (g *GitHubAPI) ghFail(w http.ResponseWriter, r *http.Request, status int, unexpected bool, msg string, errs ...map[string]any) {
	if unexpected {
		g.unexpectedf(r, "%d %s", status, msg)
	}
	body := map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, status, body)
}

func (g *GitHubAPI) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "token ")
	}
	if !ok {
		g.ghFail(w, r, http.StatusUnauthorized, true, "Requires authentication")
		return
	}
	if !g.authorized(tok) {
		g.ghFail(w, r, http.StatusUnauthorized, false, "Bad credentials")
		return
	}
	if wait, limited := g.takeRateLimit(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
		return
	}
	seg := segments(r, g.prefix)
	if len(seg) < 4 || seg[0] != "repos" || seg[1] != g.owner || seg[2] != g.name {
		g.ghFail(w, r, http.StatusNotFound, true, "Not Found")
		return
	}
	rest := seg[3:]
	route := r.Method + " " + rest[0]
	var n int
	if len(rest) > 1 {
		if n, ok = atoi(rest[1]); !ok {
			g.ghFail(w, r, http.StatusNotFound, true, "Not Found")
			return
		}
		route += " N"
	}
	if len(rest) > 2 {
		route += " " + strings.Join(rest[2:], " ")
	}
	if strings.Contains(route, "hooks") {
		g.mu.Lock()
		forbid := g.forbidHooks
		g.mu.Unlock()
		if forbid {
			g.ghFail(w, r, http.StatusForbidden, false, "Resource not accessible by integration")
			return
		}
	}
	switch route {
	case "GET pulls":
		g.listPulls(w, r)
	case "POST pulls":
		g.createPull(w, r)
	case "GET pulls N":
		g.withPR(w, r, n, func(p *ForgePR) (int, any) { return http.StatusOK, g.prJSON(p, true) })
	case "PATCH pulls N":
		g.updatePull(w, r, n)
	case "PUT pulls N merge":
		g.mergePull(w, r, n)
	case "GET issues N":
		g.withPR(w, r, n, func(p *ForgePR) (int, any) { return http.StatusOK, g.issueJSON(p) })
	case "POST issues N labels", "PUT issues N labels":
		g.labels(w, r, n)
	case "POST issues N comments":
		g.comment(w, r, n)
	case "GET hooks":
		g.mu.Lock()
		hooks := []any{}
		for _, k := range g.hooks {
			hooks = append(hooks, hookJSON(k))
		}
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, hooks)
	case "POST hooks", "PATCH hooks N":
		g.hook(w, r, n)
	default:
		g.ghFail(w, r, http.StatusNotFound, true, "Not Found")
	}
}

func (g *GitHubAPI) withPR(w http.ResponseWriter, r *http.Request, n int, f func(*ForgePR) (int, any)) {
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusNotFound, false, "Not Found")
		return
	}
	status, v := f(p)
	g.mu.Unlock()
	writeJSON(w, status, v)
}

// listPulls: GET /repos/{owner}/{repo}/pulls
// (https://docs.github.com/rest/pulls/pulls#list-pull-requests).
func (g *GitHubAPI) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"state", "head", "base", "sort", "direction", "per_page", "page"}, k) {
			g.ghFail(w, r, http.StatusUnprocessableEntity, true, "unknown query parameter "+k)
			return
		}
	}
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, "state must be open, closed or all")
		return
	}
	head := q.Get("head")
	if head != "" {
		owner, branch, ok := strings.Cut(head, ":")
		if !ok {
			g.ghFail(w, r, http.StatusUnprocessableEntity, true, "head must be user:ref-name")
			return
		}
		if owner != g.owner {
			branch = "\x00" // another user's fork: none here
		}
		head = branch
	}
	g.mu.Lock()
	list := []any{}
	for i := len(g.prs) - 1; i >= 0; i-- { // newest first
		p := g.prs[i]
		open := p.State == "open"
		if (state == "open" && !open) || (state == "closed" && open) ||
			(head != "" && p.Head != head) || (q.Get("base") != "" && p.Base != q.Get("base")) {
			continue
		}
		list = append(list, g.prJSON(p, false))
	}
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// createPull: POST /repos/{owner}/{repo}/pulls
// (https://docs.github.com/rest/pulls/pulls#create-a-pull-request).
func (g *GitHubAPI) createPull(w http.ResponseWriter, r *http.Request) {
	obj, _, problem := decodeBody(r, map[string]field{
		"title": {"string", false}, "head": {"string", true}, "base": {"string", true}, "body": {"string", false},
		"head_repo": {"string", false}, "maintainer_can_modify": {"bool", false}, "draft": {"bool", false}, "issue": {"int", false},
	}, false)
	if problem == "" && obj["title"] == nil && obj["issue"] == nil {
		problem = "title or issue is required"
	}
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	head, base := obj["head"].(string), obj["base"].(string)
	if o, b, ok := strings.Cut(head, ":"); ok && o == g.owner {
		head = b
	}
	title, _ := obj["title"].(string)
	body, _ := obj["body"].(string)
	var payload map[string]any // delivered after mu is released
	invalid := func(field string) map[string]any {
		return map[string]any{"resource": "PullRequest", "field": field, "code": "invalid"}
	}
	g.mu.Lock()
	defer func() {
		if payload != nil {
			g.send("pull_request", payload)
		}
	}()
	defer g.mu.Unlock()
	switch {
	case g.sha(head) == "":
		g.ghFail(w, r, http.StatusUnprocessableEntity, false, "Validation Failed", invalid("head"))
		return
	case g.sha(base) == "":
		g.ghFail(w, r, http.StatusUnprocessableEntity, false, "Validation Failed", invalid("base"))
		return
	case len([]rune(body)) > 65536:
		g.ghFail(w, r, http.StatusUnprocessableEntity, false, "Validation Failed",
			map[string]any{"resource": "Issue", "field": "body", "code": "custom", "message": "body is too long (maximum is 65536 characters)"})
		return
	}
	for _, p := range g.prs {
		if p.State == "open" && p.Head == head && p.Base == base {
			g.ghFail(w, r, http.StatusUnprocessableEntity, false, "Validation Failed",
				map[string]any{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + g.owner + ":" + head + "."})
			return
		}
	}
	p := &ForgePR{Number: len(g.prs) + 1, State: "open", Head: head, Base: base, Title: title, Body: body, Author: g.login}
	g.prs = append(g.prs, p)
	payload = g.prEvent("opened", p, g.login)
	writeJSON(w, http.StatusCreated, g.prJSON(p, false))
}

// updatePull: PATCH /repos/{owner}/{repo}/pulls/{n}
// (https://docs.github.com/rest/pulls/pulls#update-a-pull-request).
func (g *GitHubAPI) updatePull(w http.ResponseWriter, r *http.Request, n int) {
	obj, _, problem := decodeBody(r, map[string]field{
		"title": {"string", false}, "body": {"string", false}, "state": {"string", false},
		"base": {"string", false}, "maintainer_can_modify": {"bool", false},
	}, false)
	if s, ok := obj["state"].(string); ok && s != "open" && s != "closed" {
		problem = "state must be open or closed"
	}
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusNotFound, false, "Not Found")
		return
	}
	action := ""
	if t, ok := obj["title"].(string); ok && t != p.Title {
		p.Title, action = t, "edited"
	}
	if b, ok := obj["body"].(string); ok && b != p.Body {
		p.Body, action = b, "edited"
	}
	if s, ok := obj["state"].(string); ok && p.State != "merged" {
		if s == "closed" && p.State == "open" {
			p.State, p.ClosedBy, action = "closed", g.login, "closed"
		} else if s == "open" && p.State == "closed" {
			p.State, p.ClosedBy, action = "open", "", "reopened"
		}
	}
	if b, ok := obj["base"].(string); ok {
		p.Base = b
	}
	var payload map[string]any
	if action != "" {
		payload = g.prEvent(action, p, g.login)
	}
	j := g.prJSON(p, true)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
	if payload != nil {
		g.send("pull_request", payload)
	}
}

// mergePull: PUT /repos/{owner}/{repo}/pulls/{n}/merge
// (https://docs.github.com/rest/pulls/pulls#merge-a-pull-request): 405 not
// mergeable, 409 the sha is not the head.
func (g *GitHubAPI) mergePull(w http.ResponseWriter, r *http.Request, n int) {
	obj, _, problem := decodeBody(r, map[string]field{
		"commit_title": {"string", false}, "commit_message": {"string", false}, "sha": {"string", false}, "merge_method": {"string", false},
	}, false)
	if m, ok := obj["merge_method"].(string); ok && m != "merge" {
		problem = "the fake merges with merge_method merge only, not " + m
	}
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	want, _ := obj["sha"].(string)
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusNotFound, false, "Not Found")
		return
	}
	if p.State != "open" {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusMethodNotAllowed, false, "Pull Request is not mergeable")
		return
	}
	title, _ := obj["commit_title"].(string)
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", n, g.owner, p.Head)
	}
	reason, err := g.merge(p, want, g.login, title)
	if err != nil {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusInternalServerError, false, err.Error())
		return
	}
	switch reason {
	case "stale":
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusConflict, false, "Head branch was modified. Review and try the merge again.")
		return
	case "conflict":
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusMethodNotAllowed, false, "Pull Request is not mergeable")
		return
	case "blocked":
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusMethodNotAllowed, false, "At least 1 approving review is required by reviewers with write access.")
		return
	}
	commit := p.MergeCommitSHA
	payload := g.prEvent("closed", p, g.login)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"sha": commit, "merged": true, "message": "Pull Request successfully merged"})
	g.send("pull_request", payload)
	g.scanPushes(g.login)
}

// labels: POST (add) and PUT (set) /repos/{owner}/{repo}/issues/{n}/labels
// (https://docs.github.com/rest/issues/labels): {"labels": [...]} or a bare
// array of names.
func (g *GitHubAPI) labels(w http.ResponseWriter, r *http.Request, n int) {
	obj, arr, problem := decodeBody(r, map[string]field{"labels": {"strings", true}}, true)
	if problem == "" && arr != nil && !stringsOK(any(arr)) {
		problem = "labels must be strings"
	}
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	names := toStrings(any(arr))
	if obj != nil {
		names = toStrings(obj["labels"])
	}
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.ghFail(w, r, http.StatusNotFound, false, "Not Found")
		return
	}
	if r.Method == http.MethodPut {
		p.Labels = nil
	}
	for _, l := range names {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	out := []any{}
	for _, l := range p.Labels {
		out = append(out, map[string]any{"name": l, "color": "ededed"})
	}
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// comment: POST /repos/{owner}/{repo}/issues/{n}/comments
// (https://docs.github.com/rest/issues/comments#create-an-issue-comment).
func (g *GitHubAPI) comment(w http.ResponseWriter, r *http.Request, n int) {
	obj, _, problem := decodeBody(r, map[string]field{"body": {"string", true}}, false)
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	g.withPR(w, r, n, func(p *ForgePR) (int, any) {
		p.Comments = append(p.Comments, obj["body"].(string))
		return http.StatusCreated, map[string]any{"id": len(p.Comments), "body": obj["body"], "user": ghUser(g.login)}
	})
}

// hook: POST /repos/{owner}/{repo}/hooks and PATCH …/hooks/{id}
// (https://docs.github.com/rest/repos/webhooks).
func (g *GitHubAPI) hook(w http.ResponseWriter, r *http.Request, id int) {
	fields := map[string]field{
		"name": {"string", false}, "config": {"object", r.Method == http.MethodPost}, "events": {"strings", false},
		"active": {"bool", false}, "add_events": {"strings", false}, "remove_events": {"strings", false},
	}
	obj, _, problem := decodeBody(r, fields, false)
	if n, ok := obj["name"].(string); ok && n != "web" {
		problem = `name must be "web"`
	}
	cfg, _ := obj["config"].(map[string]any)
	for k, v := range cfg {
		switch k {
		case "url", "content_type", "secret":
			if _, ok := v.(string); !ok {
				problem = "config." + k + " is not a string"
			}
		case "insecure_ssl":
		default:
			problem = "unknown config field " + k
		}
	}
	if ct, ok := cfg["content_type"].(string); ok && ct != "json" && ct != "form" {
		problem = "config.content_type must be json or form"
	}
	if r.Method == http.MethodPost && cfg["url"] == nil && problem == "" {
		problem = "config.url is missing"
	}
	if problem != "" {
		g.ghFail(w, r, http.StatusUnprocessableEntity, true, problem)
		return
	}
	g.mu.Lock()
	var k *ForgeHook
	if r.Method == http.MethodPost {
		g.nextHook++
		k = &ForgeHook{ID: g.nextHook, Active: true, Events: []string{"push"}}
		g.hooks = append(g.hooks, k)
	} else {
		for _, h := range g.hooks {
			if h.ID == int64(id) {
				k = h
			}
		}
		if k == nil {
			g.mu.Unlock()
			g.ghFail(w, r, http.StatusNotFound, false, "Not Found")
			return
		}
	}
	if u, ok := cfg["url"].(string); ok {
		k.URL = u
	}
	if s, ok := cfg["secret"].(string); ok {
		k.Secret = s
	}
	if e, ok := obj["events"]; ok {
		k.Events = toStrings(e)
	}
	if a, ok := obj["active"].(bool); ok {
		k.Active = a
	}
	j := hookJSON(k)
	g.mu.Unlock()
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusOK, j)
		return
	}
	writeJSON(w, http.StatusCreated, j)
	// A new hook gets a ping (https://docs.github.com/webhooks/webhook-events-and-payloads#ping).
	g.sendTo("ping", map[string]any{
		"zen": "Keep it logically awesome.", "hook_id": j["id"], "hook": j, "repository": g.repoJSON(), "sender": ghUser(g.login),
	}, func(h *ForgeHook) bool { return h.ID == j["id"] })
}
