package testpeers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GitLabAPIOptions configures GitLabAPI.
type GitLabAPIOptions struct {
	// Path is the project's full path; "acme/platform/gitops" (a subgroup, so
	// that the escaped project id is exercised) when empty.
	Path string
	// Token is the only credential the API accepts (PRIVATE-TOKEN, or
	// Authorization: Bearer); Login is whose it is. "glpat-fake" and
	// "stateward-bot" when empty.
	Token, Login string
	// Authorize, when set, decides which tokens the API accepts instead of
	// Token.
	Authorize func(token string) bool
}

// gitLabProjectID is the project's numeric id, accepted in place of its path.
const gitLabProjectID = 42

// GitLabAPI is a local GitLab (REST API v4, under /api/v4) for one project, in
// front of a real bare repository served by GitHTTP: the repository is cloned
// from and pushed to at RepoURL through the host. It speaks the endpoints of
// https://docs.gitlab.com/api/ that package forge uses — merge requests (list,
// create, get, update, merge), their notes, and project hooks — and refuses,
// with 4xx and a record in Unexpected, any other request or one whose method,
// fields or field types the docs do not allow, or that carries no credentials.
//
// Merge requests are merged for real (a merge commit on the target branch);
// mergeability comes from the repository (git merge-tree) and
// SetMergeability. Webhooks go to the registered hooks with X-Gitlab-Token
// (the hook's secret token) on open, update, close, reopen, merge and push.
type GitLabAPI struct {
	*forgeHost
}

// GitLabRepo starts a GitLabAPI in front of git (a GitHTTP server); it closes at
// cleanup, where the test fails if Unexpected is not empty.
func GitLabRepo(t testing.TB, git *GitServer, opts GitLabAPIOptions) *GitLabAPI {
	t.Helper()
	path, token, login := opts.Path, opts.Token, opts.Login
	if path == "" {
		path = "acme/platform/gitops"
	}
	if token == "" {
		token = "glpat-fake"
	}
	if login == "" {
		login = "stateward-bot"
	}
	g := &GitLabAPI{forgeHost: newForgeHost(t, git, path, token, login)}
	g.accepts = opts.Authorize
	g.onPush = g.pushed
	g.start(http.HandlerFunc(g.serve))
	return g
}

// APIURL is the REST API's base URL (…/api/v4).
func (g *GitLabAPI) APIURL() string { return g.srv.URL + "/api/v4" }

// Protect makes the repository refuse pushes to branch, as a protected branch
// does; merges through the API still land.
func (g *GitLabAPI) Protect(branch string) {
	g.protect(branch, "GitLab: You are not allowed to push code to protected branches on this project.")
}

// Close closes open merge request iid as username, as someone on the web page.
func (g *GitLabAPI) Close(t testing.TB, iid int, username string) {
	t.Helper()
	g.mu.Lock()
	p := g.pr(iid)
	if p == nil || p.State != "open" {
		g.mu.Unlock()
		t.Fatalf("GitLabAPI.Close: no open merge request !%d", iid)
	}
	p.State, p.ClosedBy = "closed", username
	payload := g.mrEvent("close", p, username)
	g.mu.Unlock()
	g.send("Merge Request Hook", "merge_requests_events", payload)
}

// MergeAs merges open merge request iid as username, as someone on the web page,
// and returns the merge commit.
func (g *GitLabAPI) MergeAs(t testing.TB, iid int, username string) string {
	t.Helper()
	g.mu.Lock()
	p := g.pr(iid)
	if p == nil || p.State != "open" {
		g.mu.Unlock()
		t.Fatalf("GitLabAPI.MergeAs: no open merge request !%d", iid)
	}
	reason, err := g.merge(p, "", username, g.mergeMessage(p))
	if err != nil || reason != "" {
		g.mu.Unlock()
		t.Fatalf("GitLabAPI.MergeAs !%d: %v %s", iid, err, reason)
	}
	commit := p.MergeCommitSHA
	payload := g.mrEvent("merge", p, username)
	g.mu.Unlock()
	g.send("Merge Request Hook", "merge_requests_events", payload)
	g.scanPushes(username)
	return commit
}

func (g *GitLabAPI) mergeMessage(p *ForgePR) string {
	return fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nSee merge request %s!%d", p.Head, p.Base, p.Title, g.path, p.Number)
}

// pushed sends a Push Hook, and an update for the open merge requests from the
// branch.
func (g *GitLabAPI) pushed(ref, before, after, username string) {
	g.send("Push Hook", "push_events", map[string]any{
		"object_kind": "push", "event_name": "push", "ref": ref, "before": before, "after": after,
		"checkout_sha": after, "user_username": username, "project": g.projectJSON(),
	})
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return
	}
	g.mu.Lock()
	var events []map[string]any
	for _, p := range g.prs {
		if p.State == "open" && p.Head == branch {
			events = append(events, g.mrEvent("update", p, username))
		}
	}
	g.mu.Unlock()
	for _, e := range events {
		g.send("Merge Request Hook", "merge_requests_events", e)
	}
}

// send delivers a GitLab event to the hooks with the event's switch on.
func (g *GitLabAPI) send(event, on string, payload map[string]any) {
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	g.deliver(event, body, func(k *ForgeHook) bool { return slices.Contains(k.Events, on) }, func(k *ForgeHook, req *http.Request) {
		req.Header.Set("User-Agent", "GitLab/testpeers")
		req.Header.Set("X-Gitlab-Event", event)
		req.Header.Set("X-Gitlab-Event-UUID", deliveryID())
		req.Header.Set("X-Gitlab-Webhook-UUID", strconv.FormatInt(k.ID, 10))
		req.Header.Set("X-Gitlab-Instance", g.srv.URL)
		if k.Secret != "" {
			req.Header.Set("X-Gitlab-Token", k.Secret)
		}
	})
}

func glUser(username string) map[string]any {
	if username == "" {
		return nil
	}
	return map[string]any{"id": len(username), "username": username, "name": username}
}

func (g *GitLabAPI) projectJSON() map[string]any {
	return map[string]any{"id": gitLabProjectID, "path_with_namespace": g.path, "web_url": g.srv.URL + "/" + g.path}
}

// mrEvent is a Merge Request Hook's payload. mu held.
func (g *GitLabAPI) mrEvent(action string, p *ForgePR, username string) map[string]any {
	mr := g.mrJSON(p)
	labels := []any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"title": l})
	}
	return map[string]any{
		"object_kind": "merge_request", "event_type": "merge_request", "user": glUser(username),
		"project": g.projectJSON(), "labels": labels,
		"object_attributes": map[string]any{
			"iid": p.Number, "action": action, "state": mr["state"], "title": p.Title, "description": p.Body,
			"source_branch": p.Head, "target_branch": p.Base, "merge_commit_sha": mr["merge_commit_sha"],
			"last_commit": map[string]any{"id": mr["sha"]}, "url": mr["web_url"],
		},
	}
}

// mrJSON is a merge request as the API shows it. mu held.
func (g *GitLabAPI) mrJSON(p *ForgePR) map[string]any {
	sha := p.HeadSHA
	if p.State == "open" || sha == "" {
		sha = g.sha(p.Head)
	}
	state := map[string]string{"open": "opened", "closed": "closed", "merged": "merged"}[p.State]
	j := map[string]any{
		"id": 1000 + p.Number, "iid": p.Number, "project_id": gitLabProjectID,
		"title": p.Title, "description": p.Body, "state": state,
		"source_branch": p.Head, "target_branch": p.Base, "sha": sha,
		"merge_commit_sha": nil, "squash_commit_sha": nil,
		"author": glUser(p.Author), "merged_by": glUser(p.MergedBy), "merge_user": glUser(p.MergedBy), "closed_by": glUser(p.ClosedBy),
		"labels": append([]string{}, p.Labels...), "web_url": fmt.Sprintf("%s/%s/-/merge_requests/%d", g.srv.URL, g.path, p.Number),
		"detailed_merge_status": "not_open", "merge_status": "cannot_be_merged", "has_conflicts": false,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	}
	if p.State == "merged" {
		j["merge_commit_sha"] = p.MergeCommitSHA
		j["merged_at"] = time.Now().UTC().Format(time.RFC3339)
	}
	if p.State == "open" {
		switch g.mergeState(p) {
		case "clean":
			j["detailed_merge_status"], j["merge_status"] = "mergeable", "can_be_merged"
		case "conflict":
			j["detailed_merge_status"], j["has_conflicts"] = "conflict", true
		case MergeReviewRequired:
			j["detailed_merge_status"], j["merge_status"] = "not_approved", "can_be_merged"
		case MergeUnknown:
			j["detailed_merge_status"], j["merge_status"] = "checking", "checking"
		}
	}
	return j
}

func glHookJSON(k *ForgeHook) map[string]any {
	return map[string]any{
		"id": k.ID, "url": k.URL, "project_id": gitLabProjectID, "enable_ssl_verification": true,
		"push_events": slices.Contains(k.Events, "push_events"), "merge_requests_events": slices.Contains(k.Events, "merge_requests_events"),
	}
}

// glFail answers a GitLab error ({"message": …}); unexpected ones are recorded.
func (g *GitLabAPI) glFail(w http.ResponseWriter, r *http.Request, status int, unexpected bool, msg any) {
	if unexpected {
		g.unexpectedf(r, "%d %v", status, msg)
	}
	writeJSON(w, status, map[string]any{"message": msg})
}

func (g *GitLabAPI) serve(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok == "" {
		tok = b
	}
	if tok == "" {
		g.glFail(w, r, http.StatusUnauthorized, true, "401 Unauthorized")
		return
	}
	if !g.authorized(tok) {
		g.glFail(w, r, http.StatusUnauthorized, false, "401 Unauthorized")
		return
	}
	if wait, limited := g.takeRateLimit(); limited {
		secs := int(wait.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(wait).Unix(), 10))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
		return
	}
	seg := segments(r, "/api/v4")
	if len(seg) < 3 || seg[0] != "projects" || (seg[1] != g.path && seg[1] != strconv.Itoa(gitLabProjectID)) {
		g.glFail(w, r, http.StatusNotFound, true, "404 Project Not Found")
		return
	}
	rest := seg[2:]
	route := r.Method + " " + rest[0]
	var n int
	if len(rest) > 1 {
		var ok bool
		if n, ok = atoi(rest[1]); !ok {
			g.glFail(w, r, http.StatusNotFound, true, "404 Not Found")
			return
		}
		route += " N"
	}
	if len(rest) > 2 {
		route += " " + strings.Join(rest[2:], " ")
	}
	if rest[0] == "hooks" {
		g.mu.Lock()
		forbid := g.forbidHooks
		g.mu.Unlock()
		if forbid {
			g.glFail(w, r, http.StatusForbidden, false, "403 Forbidden")
			return
		}
	}
	switch route {
	case "GET merge_requests":
		g.listMRs(w, r)
	case "POST merge_requests":
		g.createMR(w, r)
	case "GET merge_requests N":
		g.withMR(w, r, n, func(p *ForgePR) (int, any) { return http.StatusOK, g.mrJSON(p) })
	case "PUT merge_requests N":
		g.updateMR(w, r, n)
	case "PUT merge_requests N merge":
		g.mergeMR(w, r, n)
	case "POST merge_requests N notes":
		obj, _, problem := decodeBody(r, map[string]field{
			"body": {"string", true}, "internal": {"bool", false}, "created_at": {"string", false}, "merge_request_diff_head_sha": {"string", false},
		}, false)
		if problem != "" {
			g.glFail(w, r, http.StatusBadRequest, true, problem)
			return
		}
		g.withMR(w, r, n, func(p *ForgePR) (int, any) {
			p.Comments = append(p.Comments, obj["body"].(string))
			return http.StatusCreated, map[string]any{"id": len(p.Comments), "body": obj["body"], "author": glUser(g.login), "noteable_iid": p.Number}
		})
	case "GET hooks":
		g.mu.Lock()
		hooks := []any{}
		for _, k := range g.hooks {
			hooks = append(hooks, glHookJSON(k))
		}
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, hooks)
	case "POST hooks", "PUT hooks N":
		g.hook(w, r, n)
	default:
		g.glFail(w, r, http.StatusNotFound, true, "404 Not Found")
	}
}

func (g *GitLabAPI) withMR(w http.ResponseWriter, r *http.Request, n int, f func(*ForgePR) (int, any)) {
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusNotFound, false, "404 Not found")
		return
	}
	status, v := f(p)
	g.mu.Unlock()
	writeJSON(w, status, v)
}

// listMRs: GET /projects/:id/merge_requests
// (https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests).
func (g *GitLabAPI) listMRs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"state", "source_branch", "target_branch", "order_by", "sort", "per_page", "page"}, k) {
			g.glFail(w, r, http.StatusBadRequest, true, "the fake does not know query parameter "+k)
			return
		}
	}
	state := q.Get("state")
	if state == "" {
		state = "all"
	}
	if !slices.Contains([]string{"opened", "closed", "locked", "merged", "all"}, state) {
		g.glFail(w, r, http.StatusBadRequest, true, "state does not have a valid value")
		return
	}
	want := map[string]string{"opened": "open", "closed": "closed", "merged": "merged", "locked": "locked"}[state]
	g.mu.Lock()
	list := []any{}
	for i := len(g.prs) - 1; i >= 0; i-- {
		p := g.prs[i]
		if (state != "all" && p.State != want) || (q.Get("source_branch") != "" && p.Head != q.Get("source_branch")) ||
			(q.Get("target_branch") != "" && p.Base != q.Get("target_branch")) {
			continue
		}
		list = append(list, g.mrJSON(p))
	}
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// labelsField reads GitLab's labels parameter: a comma-separated string (or
// an array of strings).
func labelsField(v any) []string {
	if s, ok := v.(string); ok {
		var out []string
		for l := range strings.SplitSeq(s, ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
		return out
	}
	return toStrings(v)
}

func labelsOK(obj map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := obj[k]; ok {
			if _, s := v.(string); !s && !stringsOK(v) {
				return k + " is not a comma-separated string or an array of strings"
			}
		}
	}
	return ""
}

// tooLong is GitLab's 400 for the title and description limits.
func tooLong(obj map[string]any) map[string]any {
	if t, ok := obj["title"].(string); ok && len([]rune(t)) > 255 {
		return map[string]any{"title": []string{"is too long (maximum is 255 characters)"}}
	}
	if d, ok := obj["description"].(string); ok && len([]rune(d)) > 1_048_576 {
		return map[string]any{"description": []string{"is too long (maximum is 1048576 characters)"}}
	}
	return nil
}

// createMR: POST /projects/:id/merge_requests
// (https://docs.gitlab.com/api/merge_requests/#create-mr).
func (g *GitLabAPI) createMR(w http.ResponseWriter, r *http.Request) {
	obj, _, problem := decodeBody(r, map[string]field{
		"source_branch": {"string", true}, "target_branch": {"string", true}, "title": {"string", true},
		"description": {"string", false}, "labels": {"any", false}, "assignee_id": {"int", false},
		"remove_source_branch": {"bool", false}, "squash": {"bool", false}, "allow_collaboration": {"bool", false},
	}, false)
	if problem == "" {
		problem = labelsOK(obj, "labels")
	}
	if problem != "" {
		g.glFail(w, r, http.StatusBadRequest, true, problem)
		return
	}
	if e := tooLong(obj); e != nil {
		g.glFail(w, r, http.StatusBadRequest, false, e)
		return
	}
	head, base := obj["source_branch"].(string), obj["target_branch"].(string)
	desc, _ := obj["description"].(string)
	g.mu.Lock()
	if g.sha(head) == "" || g.sha(base) == "" {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusUnprocessableEntity, false, []string{"Source branch or target branch does not exist"})
		return
	}
	for _, p := range g.prs {
		if p.State == "open" && p.Head == head && p.Base == base {
			g.mu.Unlock()
			g.glFail(w, r, http.StatusConflict, false, []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", p.Number)})
			return
		}
	}
	p := &ForgePR{Number: len(g.prs) + 1, State: "open", Head: head, Base: base, Title: obj["title"].(string), Body: desc,
		Labels: labelsField(obj["labels"]), Author: g.login}
	g.prs = append(g.prs, p)
	j := g.mrJSON(p)
	payload := g.mrEvent("open", p, g.login)
	g.mu.Unlock()
	writeJSON(w, http.StatusCreated, j)
	g.send("Merge Request Hook", "merge_requests_events", payload)
}

// updateMR: PUT /projects/:id/merge_requests/:iid
// (https://docs.gitlab.com/api/merge_requests/#update-mr): at least one field.
func (g *GitLabAPI) updateMR(w http.ResponseWriter, r *http.Request, n int) {
	obj, _, problem := decodeBody(r, map[string]field{
		"title": {"string", false}, "description": {"string", false}, "labels": {"any", false},
		"add_labels": {"any", false}, "remove_labels": {"any", false}, "state_event": {"string", false},
		"target_branch": {"string", false}, "assignee_id": {"int", false}, "remove_source_branch": {"bool", false},
		"squash": {"bool", false}, "discussion_locked": {"bool", false}, "allow_collaboration": {"bool", false},
	}, false)
	if problem == "" {
		problem = labelsOK(obj, "labels", "add_labels", "remove_labels")
	}
	if s, ok := obj["state_event"].(string); ok && s != "close" && s != "reopen" {
		problem = "state_event does not have a valid value"
	}
	if problem == "" && len(obj) == 0 {
		problem = "at least one parameter must be provided"
	}
	if problem != "" {
		g.glFail(w, r, http.StatusBadRequest, true, problem)
		return
	}
	if e := tooLong(obj); e != nil {
		g.glFail(w, r, http.StatusBadRequest, false, e)
		return
	}
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusNotFound, false, "404 Not found")
		return
	}
	action := "update"
	if t, ok := obj["title"].(string); ok {
		p.Title = t
	}
	if d, ok := obj["description"].(string); ok {
		p.Body = d
	}
	if v, ok := obj["labels"]; ok {
		p.Labels = labelsField(v)
	}
	for _, l := range labelsField(obj["add_labels"]) {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	for _, l := range labelsField(obj["remove_labels"]) {
		p.Labels = slices.DeleteFunc(p.Labels, func(x string) bool { return x == l })
	}
	if b, ok := obj["target_branch"].(string); ok {
		p.Base = b
	}
	switch obj["state_event"] {
	case "close":
		if p.State == "open" {
			p.State, p.ClosedBy, action = "closed", g.login, "close"
		}
	case "reopen":
		if p.State == "closed" {
			p.State, p.ClosedBy, action = "open", "", "reopen"
		}
	}
	j := g.mrJSON(p)
	payload := g.mrEvent(action, p, g.login)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
	g.send("Merge Request Hook", "merge_requests_events", payload)
}

// mergeMR: PUT /projects/:id/merge_requests/:iid/merge
// (https://docs.gitlab.com/api/merge_requests/#merge-a-merge-request): 405
// not mergeable now, 406 conflict, 409 sha is not the head.
func (g *GitLabAPI) mergeMR(w http.ResponseWriter, r *http.Request, n int) {
	obj, _, problem := decodeBody(r, map[string]field{
		"merge_commit_message": {"string", false}, "squash_commit_message": {"string", false}, "squash": {"bool", false},
		"should_remove_source_branch": {"bool", false}, "merge_when_pipeline_succeeds": {"bool", false},
		"auto_merge": {"bool", false}, "sha": {"string", false},
	}, false)
	if sq, _ := obj["squash"].(bool); sq && problem == "" {
		problem = "the fake merges with merge commits only, not squash"
	}
	if problem != "" {
		g.glFail(w, r, http.StatusBadRequest, true, problem)
		return
	}
	want, _ := obj["sha"].(string)
	g.mu.Lock()
	p := g.pr(n)
	if p == nil {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusNotFound, false, "404 Not found")
		return
	}
	if p.State != "open" {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusMethodNotAllowed, false, "405 Method Not Allowed")
		return
	}
	msg, _ := obj["merge_commit_message"].(string)
	if msg == "" {
		msg = g.mergeMessage(p)
	}
	reason, err := g.merge(p, want, g.login, msg)
	if err != nil {
		g.mu.Unlock()
		g.glFail(w, r, http.StatusInternalServerError, false, err.Error())
		return
	}
	switch reason {
	case "stale":
		g.mu.Unlock()
		g.glFail(w, r, http.StatusConflict, false, "SHA does not match HEAD of source branch: "+want)
		return
	case "conflict":
		g.mu.Unlock()
		g.glFail(w, r, http.StatusNotAcceptable, false, "Branch cannot be merged")
		return
	case "blocked":
		g.mu.Unlock()
		g.glFail(w, r, http.StatusMethodNotAllowed, false, "405 Method Not Allowed")
		return
	}
	j := g.mrJSON(p)
	payload := g.mrEvent("merge", p, g.login)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
	g.send("Merge Request Hook", "merge_requests_events", payload)
	g.scanPushes(g.login)
}

// hook: POST /projects/:id/hooks and PUT /projects/:id/hooks/:hook_id
// (https://docs.gitlab.com/api/project_webhooks/): url is required in both.
func (g *GitLabAPI) hook(w http.ResponseWriter, r *http.Request, id int) {
	fields := map[string]field{"url": {"string", true}, "token": {"string", false}, "name": {"string", false},
		"description": {"string", false}, "push_events_branch_filter": {"string", false}, "branch_filter_strategy": {"string", false}}
	for _, b := range []string{"push_events", "merge_requests_events", "enable_ssl_verification", "issues_events",
		"confidential_issues_events", "note_events", "confidential_note_events", "tag_push_events", "pipeline_events",
		"job_events", "wiki_page_events", "deployment_events", "releases_events", "emoji_events"} {
		fields[b] = field{"bool", false}
	}
	obj, _, problem := decodeBody(r, fields, false)
	if problem != "" {
		g.glFail(w, r, http.StatusBadRequest, true, problem)
		return
	}
	g.mu.Lock()
	var k *ForgeHook
	if r.Method == http.MethodPost {
		g.nextHook++
		k = &ForgeHook{ID: g.nextHook, Active: true, Events: []string{"push_events"}} // push_events defaults to true
		g.hooks = append(g.hooks, k)
	} else {
		for _, h := range g.hooks {
			if h.ID == int64(id) {
				k = h
			}
		}
		if k == nil {
			g.mu.Unlock()
			g.glFail(w, r, http.StatusNotFound, false, "404 Not found")
			return
		}
	}
	k.URL = obj["url"].(string)
	if s, ok := obj["token"].(string); ok {
		k.Secret = s
	}
	for _, e := range []string{"push_events", "merge_requests_events"} {
		if on, ok := obj[e].(bool); ok {
			k.Events = slices.DeleteFunc(k.Events, func(x string) bool { return x == e })
			if on {
				k.Events = append(k.Events, e)
			}
		}
	}
	slices.Sort(k.Events)
	j := glHookJSON(k)
	g.mu.Unlock()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	writeJSON(w, status, j)
}
