package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"code.gitea.io/sdk/gitea"
)

// Gitea's limits. The title: the web form binds Title with MaxSize(255)
// (services/forms/repo_form.go, CreateIssueForm) and issue.name is a
// VARCHAR(255) column (models/issues/issue.go, xorm's default string length),
// which PostgreSQL and MySQL enforce in characters. The body: Gitea itself sets
// none — the API checks no length and issue.content is LONGTEXT — so Stateward
// keeps GitHub's 65,536 characters, which keeps the reviewer's page readable
// and makes the caller summarise at the same size on every host.
const (
	giteaTitleLimit = 255
	giteaBodyLimit  = 65536
)

// giteaPageSize is the page size of list calls: Gitea's default
// [api] MAX_RESPONSE_ITEMS is 50.
const giteaPageSize = 50

// giteaLabelColor is the color of the labels Stateward creates.
const giteaLabelColor = "#6f42c1"

// giteaForge speaks the API of one Gitea (or Forgejo) repository through
// code.gitea.io/sdk/gitea. A client is built for every call: the token may
// change between calls, and the SDK takes the request context from the client.
type giteaForge struct {
	cfg         Config
	root        string // the server's root URL: the SDK appends /api/v1
	owner, name string
	pace        *pacer
}

// newGitea makes the Forge of cfg's repository on a Gitea server. It makes no
// call: the SDK's server-version check is switched off (Stateward uses only
// endpoints of Gitea 1.22 and later).
func newGitea(cfg Config) (*giteaForge, error) {
	r, err := parseRepo(cfg.RepoURL)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("forge: gitea: no HTTP client")
	}
	// Gitea may be served under a sub-path (ROOT_URL https://host/git/): the
	// repository is the last two segments, the rest is the prefix.
	segs := strings.Split(r.Path, "/")
	prefix := strings.Join(segs[:len(segs)-2], "/")
	owner, name := segs[len(segs)-2], segs[len(segs)-1]
	api := strings.TrimRight(cfg.APIURL, "/")
	if api == "" {
		api = r.origin()
		if prefix != "" {
			api += "/" + prefix
		}
		api += "/api/v1"
	}
	root, ok := strings.CutSuffix(api, "/api/v1")
	if !ok {
		return nil, fmt.Errorf("forge: gitea: API URL %q does not end in /api/v1", cfg.APIURL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	every := cfg.ContentInterval
	if every == 0 {
		every = DefaultContentInterval(Gitea)
	}
	return &giteaForge{cfg: cfg, root: root, owner: owner, name: name, pace: &pacer{every: every, now: cfg.Now}}, nil
}

func (g *giteaForge) Provider() string { return Gitea }

func (g *giteaForge) Limits() Limits { return Limits{Title: giteaTitleLimit, Body: giteaBodyLimit} }

// client is an SDK client for one call: the current token, the configured
// HTTP client, ctx for its requests, no version probe.
func (g *giteaForge) client(ctx context.Context) (*gitea.Client, error) {
	token := ""
	if g.cfg.Token != nil {
		t, err := g.cfg.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("forge: gitea token: %w", err)
		}
		token = t
	}
	return gitea.NewClient(g.root,
		gitea.SetGiteaVersion(""),
		gitea.SetHTTPClient(g.cfg.HTTPClient),
		gitea.SetToken(token),
		gitea.SetContext(ctx),
		gitea.SetUserAgent("stateward"))
}

// repoPath is /repos/owner/name, for the names of calls in errors.
func (g *giteaForge) repoPath() string { return "/repos/" + g.owner + "/" + g.name }

// fail turns what the SDK returned for call ("METHOD /path") into the
// package's errors: *RateLimitError for 429 (or 403 with Retry-After),
// *APIError for another non-2xx answer, else err wrapped with the call.
// merge maps the merge endpoint's refusals (405, 409) to ErrNotMergeable.
func (g *giteaForge) fail(call string, resp *gitea.Response, err error, merge bool) error {
	if resp == nil || resp.Response == nil || resp.StatusCode/100 == 2 {
		return fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	msg := giteaMessage(err)
	status := resp.StatusCode
	if status == http.StatusTooManyRequests || status == http.StatusForbidden && resp.Header.Get("Retry-After") != "" {
		wait, ok := retryAfter(resp.Header, g.cfg.Now())
		if !ok {
			wait = time.Minute
		}
		return fmt.Errorf("forge: gitea %s: %w", call, &RateLimitError{RetryAfter: wait, Message: msg})
	}
	e := &APIError{Call: call, Status: status, Message: msg}
	switch {
	case status == http.StatusNotFound:
		e.Err = ErrNotFound
	case status == http.StatusUnauthorized:
		e.Err = ErrUnauthorized
	case status == http.StatusForbidden:
		e.Err = ErrForbidden
	case merge && (status == http.StatusMethodNotAllowed || status == http.StatusConflict):
		e.Err = ErrNotMergeable
	}
	return e
}

// giteaMessage is the host's words out of an SDK error: the "message" of
// Gitea's JSON error as is, the body of another answer out of the SDK's
// "unknown API error" sentence.
func giteaMessage(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown API error:") {
		if _, body, ok := strings.Cut(msg, " method and '"); ok {
			msg = strings.TrimSuffix(body, "' body")
		}
	}
	return strings.TrimSpace(msg)
}

// toPR converts the SDK's pull request; ClosedBy is filled by closedBy.
func giteaPR(p *gitea.PullRequest) PR {
	pr := PR{
		Number:    int(p.Index),
		URL:       p.HTMLURL,
		State:     Open,
		Mergeable: p.Mergeable,
		Title:     p.Title,
		Body:      p.Body,
	}
	if p.Head != nil {
		pr.Head, pr.HeadSHA = p.Head.Ref, p.Head.Sha
	}
	if p.Base != nil {
		pr.Base = p.Base.Ref
	}
	for _, l := range p.Labels {
		if l != nil {
			pr.Labels = append(pr.Labels, l.Name)
		}
	}
	switch {
	case p.HasMerged:
		pr.State = Merged
		if p.MergedCommitID != nil {
			pr.MergeCommitSHA = *p.MergedCommitID
		}
		if p.MergedBy != nil {
			pr.MergedBy = p.MergedBy.UserName
		}
	case p.State == gitea.StateClosed:
		pr.State = Closed
	}
	return pr
}

// complete converts p and, for a pull request closed without merging, finds
// who closed it: Gitea's pull request has no closed_by, but its issue timeline
// has a "close" event by that person. The timeline is read from a minute
// before closed_at on, so a long discussion costs no more pages. A token that
// may not read the timeline leaves ClosedBy empty.
func (g *giteaForge) complete(c *gitea.Client, p *gitea.PullRequest) (PR, error) {
	pr := giteaPR(p)
	if pr.State != Closed {
		return pr, nil
	}
	opt := gitea.ListIssueCommentOptions{ListOptions: gitea.ListOptions{PageSize: giteaPageSize}}
	if p.Closed != nil {
		opt.Since = p.Closed.Add(-time.Minute)
	}
	for page := 1; page > 0; {
		opt.Page = page
		events, resp, err := c.ListIssueTimeline(g.owner, g.name, p.Index, opt)
		if err != nil {
			err = g.fail(fmt.Sprintf("GET %s/issues/%d/timeline", g.repoPath(), p.Index), resp, err, false)
			if errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound) {
				return pr, nil
			}
			return PR{}, err
		}
		for _, e := range events {
			if e.Type == "close" && e.Poster != nil {
				pr.ClosedBy = e.Poster.UserName
			}
		}
		page = resp.NextPage
	}
	return pr, nil
}

func (g *giteaForge) Get(ctx context.Context, number int) (PR, error) {
	c, err := g.client(ctx)
	if err != nil {
		return PR{}, err
	}
	p, resp, err := c.GetPullRequest(g.owner, g.name, int64(number))
	if err != nil {
		return PR{}, g.fail(fmt.Sprintf("GET %s/pulls/%d", g.repoPath(), number), resp, err, false)
	}
	return g.complete(c, p)
}

// Find asks Gitea for the pull request from head to base
// (GET /repos/{o}/{r}/pulls/{base}/{head}). That endpoint answers one of
// them whatever its state, not necessarily the newest, so when it answers a
// closed one the open pull requests into base are searched.
func (g *giteaForge) Find(ctx context.Context, head, base string) (PR, error) {
	c, err := g.client(ctx)
	if err != nil {
		return PR{}, err
	}
	p, resp, err := c.GetPullRequestByBaseHead(g.owner, g.name, base, head)
	if err != nil {
		return PR{}, g.fail(fmt.Sprintf("GET %s/pulls/%s/%s", g.repoPath(), base, head), resp, err, false)
	}
	if p.State == gitea.StateOpen && !p.HasMerged {
		return giteaPR(p), nil
	}
	opt := gitea.ListPullRequestsOptions{ListOptions: gitea.ListOptions{PageSize: giteaPageSize}, State: gitea.StateOpen}
	for page := 1; page > 0; {
		opt.Page = page
		list, resp, err := c.ListRepoPullRequests(g.owner, g.name, opt)
		if err != nil {
			return PR{}, g.fail("GET "+g.repoPath()+"/pulls?state=open", resp, err, false)
		}
		for _, p := range list {
			if p.Head != nil && p.Base != nil && p.Head.Ref == head && p.Base.Ref == base && p.Head.RepoID == p.Base.RepoID {
				return giteaPR(p), nil
			}
		}
		page = resp.NextPage
	}
	return PR{}, fmt.Errorf("forge: gitea: no open pull request from %s to %s: %w", head, base, ErrNotFound)
}

// giteaCheck refuses a proposal longer than Gitea takes; the caller summarises.
func giteaCheck(p Proposal) error {
	if n := utf8.RuneCountInString(p.Title); n > giteaTitleLimit {
		return fmt.Errorf("forge: gitea: title of %d characters, Gitea takes at most %d", n, giteaTitleLimit)
	}
	if n := utf8.RuneCountInString(p.Body); n > giteaBodyLimit {
		return fmt.Errorf("forge: gitea: body of %d characters, at most %d", n, giteaBodyLimit)
	}
	return nil
}

func (g *giteaForge) Open(ctx context.Context, p Proposal) (PR, error) {
	if err := giteaCheck(p); err != nil {
		return PR{}, err
	}
	c, err := g.client(ctx)
	if err != nil {
		return PR{}, err
	}
	labels, err := g.labelIDs(ctx, c, p.Labels)
	if err != nil {
		return PR{}, err
	}
	if err := g.pace.wait(ctx); err != nil {
		return PR{}, err
	}
	opened, resp, err := c.CreatePullRequest(g.owner, g.name, gitea.CreatePullRequestOption{
		Head: p.Head, Base: p.Base, Title: p.Title, Body: p.Body, Labels: labels,
	})
	if err != nil {
		return PR{}, g.fail("POST "+g.repoPath()+"/pulls", resp, err, false)
	}
	return giteaPR(opened), nil
}

// Update reads the pull request and edits it in one PATCH when its title, body
// or set of labels differs from p's; labels are replaced by p's.
func (g *giteaForge) Update(ctx context.Context, number int, p Proposal) (PR, error) {
	if err := giteaCheck(p); err != nil {
		return PR{}, err
	}
	c, err := g.client(ctx)
	if err != nil {
		return PR{}, err
	}
	cur, resp, err := c.GetPullRequest(g.owner, g.name, int64(number))
	if err != nil {
		return PR{}, g.fail(fmt.Sprintf("GET %s/pulls/%d", g.repoPath(), number), resp, err, false)
	}
	have := giteaPR(cur)
	sameLabels := giteaSameSet(have.Labels, p.Labels)
	if have.Title == p.Title && have.Body == p.Body && sameLabels {
		return g.complete(c, cur)
	}
	edit := gitea.EditPullRequestOption{}
	if have.Title != p.Title {
		edit.Title = p.Title
	}
	if have.Body != p.Body {
		edit.Body = &p.Body
	}
	if !sameLabels {
		// A non-nil (possibly empty) list replaces the labels; nil keeps them.
		if edit.Labels, err = g.labelIDs(ctx, c, p.Labels); err != nil {
			return PR{}, err
		}
		if edit.Labels == nil {
			edit.Labels = []int64{}
		}
	}
	if err := g.pace.wait(ctx); err != nil {
		return PR{}, err
	}
	edited, resp, err := c.EditPullRequest(g.owner, g.name, int64(number), edit)
	if err != nil {
		return PR{}, g.fail(fmt.Sprintf("PATCH %s/pulls/%d", g.repoPath(), number), resp, err, false)
	}
	return g.complete(c, edited)
}

// giteaSameSet reports whether a and b hold the same names.
func giteaSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// labelIDs returns the IDs of the labels names, in their order, creating in
// the repository those that neither it nor its organization has (Gitea takes
// label IDs, not names, on pull requests).
func (g *giteaForge) labelIDs(ctx context.Context, c *gitea.Client, names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known, err := g.labels(c)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, n := range names {
		id, ok := known[n]
		if !ok {
			if err := g.pace.wait(ctx); err != nil {
				return nil, err
			}
			l, resp, err := c.CreateLabel(g.owner, g.name, gitea.CreateLabelOption{
				Name: n, Color: giteaLabelColor, Description: "Added by Stateward",
			})
			if err != nil {
				return nil, g.fail("POST "+g.repoPath()+"/labels", resp, err, false)
			}
			id, known[n] = l.ID, l.ID
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// labels maps the names of the labels a pull request of the repository may
// carry to their IDs: the repository's and, when the owner is an
// organization, the organization's (the repository's win).
func (g *giteaForge) labels(c *gitea.Client) (map[string]int64, error) {
	known := map[string]int64{}
	org := gitea.ListOrgLabelsOptions{ListOptions: gitea.ListOptions{PageSize: giteaPageSize}}
	for page := 1; page > 0; {
		org.Page = page
		list, resp, err := c.ListOrgLabels(g.owner, org)
		if err != nil {
			err = g.fail("GET /orgs/"+g.owner+"/labels", resp, err, false)
			// 404: the owner is a person. 403: the token has no
			// read:organization scope; Stateward then makes the label in
			// the repository.
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
				break
			}
			return nil, err
		}
		for _, l := range list {
			known[l.Name] = l.ID
		}
		page = resp.NextPage
	}
	opt := gitea.ListLabelsOptions{ListOptions: gitea.ListOptions{PageSize: giteaPageSize}}
	for page := 1; page > 0; {
		opt.Page = page
		list, resp, err := c.ListRepoLabels(g.owner, g.name, opt)
		if err != nil {
			return nil, g.fail("GET "+g.repoPath()+"/labels", resp, err, false)
		}
		for _, l := range list {
			known[l.Name] = l.ID
		}
		page = resp.NextPage
	}
	return known, nil
}

// Merge merges with the repository's merge commits when it allows them, else
// with its default merge style, guarded by head_commit_id, and reads the merge
// commit back (the merge endpoint answers no body). Gitea refuses with 405
// (approvals or checks missing, not yet checked, already merged) or 409 (head
// moved, conflict, push rejected): ErrNotMergeable.
func (g *giteaForge) Merge(ctx context.Context, number int, headSHA string) (string, error) {
	if headSHA == "" {
		return "", errors.New("forge: gitea: merge needs the head commit it approves")
	}
	c, err := g.client(ctx)
	if err != nil {
		return "", err
	}
	repo, resp, err := c.GetRepo(g.owner, g.name)
	if err != nil {
		return "", g.fail("GET "+g.repoPath(), resp, err, false)
	}
	style := gitea.MergeStyleMerge
	if !repo.AllowMerge && repo.DefaultMergeStyle != "" {
		style = repo.DefaultMergeStyle
	}
	if err := g.pace.wait(ctx); err != nil {
		return "", err
	}
	if err := g.merge(ctx, number, gitea.MergePullRequestOption{Style: style, HeadCommitId: headSHA}); err != nil {
		return "", err
	}
	p, resp, err := c.GetPullRequest(g.owner, g.name, int64(number))
	if err != nil {
		return "", g.fail(fmt.Sprintf("GET %s/pulls/%d", g.repoPath(), number), resp, err, false)
	}
	if !p.HasMerged || p.MergedCommitID == nil || *p.MergedCommitID == "" {
		return "", fmt.Errorf("forge: gitea: merge of pull request %d answered success, but it is not merged", number)
	}
	return *p.MergedCommitID, nil
}

// merge posts to the merge endpoint itself: the SDK's MergePullRequest
// closes a refusal's body unread and says only "not merged", and the host's
// reason ("Does not have enough approvals", "head out of date") is what a
// person needs to see.
func (g *giteaForge) merge(ctx context.Context, number int, opt gitea.MergePullRequestOption) error {
	path := fmt.Sprintf("%s/pulls/%d/merge", g.repoPath(), number)
	call := "POST " + path
	body, err := json.Marshal(opt)
	if err != nil {
		return fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.root+"/api/v1"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "stateward")
	if g.cfg.Token != nil {
		token, err := g.cfg.Token(ctx)
		if err != nil {
			return fmt.Errorf("forge: gitea token: %w", err)
		}
		if token != "" {
			req.Header.Set("Authorization", "token "+token)
		}
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("forge: gitea %s: read answer: %w", call, err)
	}
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := strings.TrimSpace(string(answer))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(answer, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = resp.Status
	}
	return g.fail(call, &gitea.Response{Response: resp}, errors.New(msg), true)
}

func (g *giteaForge) Comment(ctx context.Context, number int, body string) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	if err := g.pace.wait(ctx); err != nil {
		return err
	}
	_, resp, err := c.CreateIssueComment(g.owner, g.name, int64(number), gitea.CreateIssueCommentOption{Body: body})
	if err != nil {
		return g.fail(fmt.Sprintf("POST %s/issues/%d/comments", g.repoPath(), number), resp, err, false)
	}
	return nil
}

// giteaHookEvents are the events of Stateward's hook: "pull_request" stands
// for every pull-request event (opened, closed, synchronized, reviews, …).
var giteaHookEvents = []string{"pull_request", "push"}

// EnsureHook creates the repository's hook for url and then deletes every
// other hook for url. Gitea's hook edit (PATCH …/hooks/{id}) ignores
// config.secret (routers/api/v1/utils/hook.go, editHook), so an existing
// hook's secret can only be set again by replacing the hook; creating first
// leaves no moment without one. 403 and 404: ErrForbidden (only repository
// administrators may list hooks).
func (g *giteaForge) EnsureHook(ctx context.Context, url, secret string) error {
	if secret == "" {
		return errors.New("forge: gitea: a webhook needs a secret")
	}
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	var old []int64
	opt := gitea.ListHooksOptions{ListOptions: gitea.ListOptions{PageSize: giteaPageSize}}
	for page := 1; page > 0; {
		opt.Page = page
		hooks, resp, err := c.ListRepoHooks(g.owner, g.name, opt)
		if err != nil {
			return giteaHookErr(g.fail("GET "+g.repoPath()+"/hooks", resp, err, false))
		}
		for _, h := range hooks {
			if h.Config["url"] == url {
				old = append(old, h.ID)
			}
		}
		page = resp.NextPage
	}
	if err := g.pace.wait(ctx); err != nil {
		return err
	}
	_, resp, err := c.CreateRepoHook(g.owner, g.name, gitea.CreateHookOption{
		Type:         gitea.HookTypeGitea,
		Config:       map[string]string{"url": url, "content_type": "json", "secret": secret},
		Events:       giteaHookEvents,
		BranchFilter: "*",
		Active:       true,
	})
	if err != nil {
		return giteaHookErr(g.fail("POST "+g.repoPath()+"/hooks", resp, err, false))
	}
	for _, id := range old {
		resp, err := c.DeleteRepoHook(g.owner, g.name, id)
		if err != nil {
			err = g.fail(fmt.Sprintf("DELETE %s/hooks/%d", g.repoPath(), id), resp, err, false)
			if !errors.Is(err, ErrNotFound) { // gone already: what we wanted
				return giteaHookErr(err)
			}
		}
	}
	return nil
}

// giteaHookErr makes a 404 of the hook calls ErrForbidden: Gitea hides the
// hooks of a repository the token may not administer.
func giteaHookErr(err error) error {
	var e *APIError
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		e.Err = ErrForbidden
	}
	return err
}
