package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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

var _ Forge = (*giteaForge)(nil)

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
	return &giteaForge{cfg: cfg, root: root, owner: owner, name: name, pace: newPacer(cfg, Gitea)}, nil
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
		wait, ok := RetryAfter(resp.Header, g.cfg.Now())
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

// giteaPR converts the SDK's pull request; complete fills ClosedBy.
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
// before closed_at on, so a long discussion costs no more pages, and decoded
// here for the two fields it needs: the SDK's own type fails on the label
// events Gitea 1.27 sends ("label" is an object there, a list in the SDK). Who
// closed it is a courtesy: when the timeline cannot be read, ClosedBy is empty
// and the state still says closed (only a rate limit is an error).
func (g *giteaForge) complete(ctx context.Context, p *gitea.PullRequest) (PR, error) {
	pr := giteaPR(p)
	if pr.State != Closed {
		return pr, nil
	}
	q := url.Values{"limit": {strconv.Itoa(giteaPageSize)}}
	if p.Closed != nil {
		q.Set("since", p.Closed.Add(-time.Minute).UTC().Format(time.RFC3339))
	}
	for page := 1; page <= 20; page++ {
		q.Set("page", strconv.Itoa(page))
		path := fmt.Sprintf("%s/issues/%d/timeline", g.repoPath(), p.Index)
		var events []struct {
			Type string `json:"type"`
			User *struct {
				Login string `json:"login"`
			} `json:"user"`
		}
		err := g.getJSON(ctx, path+"?"+q.Encode(), &events)
		var rl *RateLimitError
		if errors.As(err, &rl) {
			return PR{}, err
		}
		if err != nil {
			return pr, nil
		}
		for _, e := range events {
			if e.Type == "close" && e.User != nil {
				pr.ClosedBy = e.User.Login
			}
		}
		if len(events) < giteaPageSize {
			break
		}
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
	return g.complete(ctx, p)
}

// Find asks Gitea for the pull request from head to base
// (GET /repos/{o}/{r}/pulls/{base}/{head}). That endpoint answers one of
// them whatever its state, not necessarily the newest
// (models/issues/pull.go, GetPullRequestByBaseHeadInfo has no ORDER BY), so
// when it answers a closed one, or none, the open pull requests are searched.
func (g *giteaForge) Find(ctx context.Context, head, base string) (PR, error) {
	c, err := g.client(ctx)
	if err != nil {
		return PR{}, err
	}
	p, resp, err := c.GetPullRequestByBaseHead(g.owner, g.name, base, head)
	if err != nil {
		// 404 is also the answer of a server without the endpoint (Gitea
		// before 1.22, older Forgejo): search then, too.
		if err = g.fail(fmt.Sprintf("GET %s/pulls/%s/%s", g.repoPath(), base, head), resp, err, false); !errors.Is(err, ErrNotFound) {
			return PR{}, err
		}
	} else if p.State == gitea.StateOpen && !p.HasMerged {
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
