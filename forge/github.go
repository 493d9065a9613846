package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v84/github"
)

// GitHub's limits on a pull request, which its API enforces with 422 "Validation
// Failed": a title of at most 256 characters, a body of at most 65536 ("body is
// too long (maximum is 65536 characters)", the answer to
// https://docs.github.com/rest/pulls/pulls#create-a-pull-request quoted in
// https://github.com/renovatebot/renovate/issues/2032; the REST docs do not
// state the number).
var gitHubLimits = Limits{Title: 256, Body: 65536}

// gitHubSecondaryWait is the wait after a secondary rate limit that names none:
// GitHub's docs say to wait at least one minute
// (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#handle-rate-limit-errors-appropriately).
const gitHubSecondaryWait = time.Minute

// githubForge is one repository on GitHub or GitHub Enterprise Server, through
// go-github.
type githubForge struct {
	c           *github.Client
	owner, repo string
	pace        *pacer
	now         func() time.Time
}

// newGitHub makes the GitHub provider of cfg: the REST base is cfg.APIURL, else
// https://api.github.com for github.com and https://HOST/api/v3 for GitHub
// Enterprise Server.
func newGitHub(cfg Config) (*githubForge, error) {
	r, err := parseRepo(cfg.RepoURL)
	if err != nil {
		return nil, err
	}
	if strings.Contains(r.name(), "/") {
		return nil, fmt.Errorf("forge: %q: a GitHub repository is owner/name", cfg.RepoURL)
	}
	hc, err := hubHTTPClient(cfg, func(h http.Header, tok string) {
		h.Set("Authorization", "Bearer "+tok)
	})
	if err != nil {
		return nil, err
	}
	base := cfg.APIURL
	if base == "" {
		base = r.apiBase(GitHub)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("forge: API URL %q is not an http(s) URL", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c := github.NewClient(hc)
	c.BaseURL = u
	return &githubForge{c: c, owner: r.owner(), repo: r.name(), pace: hubPacer(cfg), now: hubNow(cfg)}, nil
}

func (f *githubForge) Provider() string { return GitHub }

func (f *githubForge) Limits() Limits { return gitHubLimits }

func (f *githubForge) path(format string, a ...any) string {
	return fmt.Sprintf("/repos/%s/%s", f.owner, f.repo) + fmt.Sprintf(format, a...)
}

func (f *githubForge) Find(ctx context.Context, head, base string) (PR, error) {
	prs, resp, err := f.c.PullRequests.List(ctx, f.owner, f.repo, &github.PullRequestListOptions{
		State: "open", Head: f.owner + ":" + head, Base: base,
	})
	if err != nil {
		// A 404 here is the repository (missing, or hidden from the token),
		// not the absence of a pull request: not ErrNotFound.
		return PR{}, f.err("GET "+f.path("/pulls"), resp, err, map[int]error{http.StatusNotFound: nil})
	}
	for _, p := range prs {
		if p.GetHead().GetRef() == head && p.GetBase().GetRef() == base {
			return gitHubPR(p), nil
		}
	}
	return PR{}, ErrNotFound
}

func (f *githubForge) Open(ctx context.Context, p Proposal) (PR, error) {
	if err := hubCheck(gitHubLimits, p.Title, p.Body); err != nil {
		return PR{}, err
	}
	if err := f.pace.wait(ctx); err != nil {
		return PR{}, err
	}
	created, resp, err := f.c.PullRequests.Create(ctx, f.owner, f.repo, &github.NewPullRequest{
		Title: &p.Title, Head: &p.Head, Base: &p.Base, Body: &p.Body,
	})
	if err != nil {
		return PR{}, f.err("POST "+f.path("/pulls"), resp, err, nil)
	}
	pr := gitHubPR(created)
	if len(p.Labels) > 0 {
		// GitHub creates a label that does not exist yet when it is added.
		if err := f.pace.wait(ctx); err != nil {
			return pr, err
		}
		labels, resp, err := f.c.Issues.AddLabelsToIssue(ctx, f.owner, f.repo, pr.Number, p.Labels)
		if err != nil {
			return pr, f.err("POST "+f.path("/issues/%d/labels", pr.Number), resp, err, nil)
		}
		pr.Labels = gitHubLabelNames(labels)
	}
	return pr, nil
}

func (f *githubForge) Update(ctx context.Context, number int, p Proposal) (PR, error) {
	if err := hubCheck(gitHubLimits, p.Title, p.Body); err != nil {
		return PR{}, err
	}
	cur, err := f.get(ctx, number)
	if err != nil {
		return PR{}, err
	}
	pr := gitHubPR(cur)
	if pr.Title != p.Title || pr.Body != p.Body {
		if err := f.pace.wait(ctx); err != nil {
			return pr, err
		}
		edited, resp, err := f.c.PullRequests.Edit(ctx, f.owner, f.repo, number, &github.PullRequest{Title: &p.Title, Body: &p.Body})
		if err != nil {
			return pr, f.err("PATCH "+f.path("/pulls/%d", number), resp, err, nil)
		}
		labels := pr.Labels
		pr = gitHubPR(edited)
		pr.Labels = labels
	}
	if !hubSameLabels(pr.Labels, p.Labels) {
		if err := f.pace.wait(ctx); err != nil {
			return pr, err
		}
		labels, resp, err := f.c.Issues.ReplaceLabelsForIssue(ctx, f.owner, f.repo, number, p.Labels)
		if err != nil {
			return pr, f.err("PUT "+f.path("/issues/%d/labels", number), resp, err, nil)
		}
		pr.Labels = gitHubLabelNames(labels)
	}
	return pr, nil
}

func (f *githubForge) get(ctx context.Context, number int) (*github.PullRequest, error) {
	p, resp, err := f.c.PullRequests.Get(ctx, f.owner, f.repo, number)
	if err != nil {
		return nil, f.err("GET "+f.path("/pulls/%d", number), resp, err, nil)
	}
	return p, nil
}

func (f *githubForge) Get(ctx context.Context, number int) (PR, error) {
	p, err := f.get(ctx, number)
	if err != nil {
		return PR{}, err
	}
	pr := gitHubPR(p)
	if pr.State == Closed {
		// The pull request says who merged it, its issue who closed it.
		is, resp, err := f.c.Issues.Get(ctx, f.owner, f.repo, number)
		if err != nil {
			return PR{}, f.err("GET "+f.path("/issues/%d", number), resp, err, nil)
		}
		pr.ClosedBy = is.GetClosedBy().GetLogin()
	}
	return pr, nil
}

func (f *githubForge) Merge(ctx context.Context, number int, headSHA string) (string, error) {
	if err := f.pace.wait(ctx); err != nil {
		return "", err
	}
	res, resp, err := f.c.PullRequests.Merge(ctx, f.owner, f.repo, number, "", &github.PullRequestOptions{SHA: headSHA, MergeMethod: "merge"})
	if err != nil {
		return "", f.err("PUT "+f.path("/pulls/%d/merge", number), resp, err, map[int]error{
			http.StatusMethodNotAllowed:    ErrNotMergeable, // not mergeable (checks, reviews, conflict)
			http.StatusConflict:            ErrNotMergeable, // head is not headSHA
			http.StatusUnprocessableEntity: ErrNotMergeable,
		})
	}
	if !res.GetMerged() || res.GetSHA() == "" {
		return "", &APIError{Call: "PUT " + f.path("/pulls/%d/merge", number), Status: resp.StatusCode, Message: "merge not reported: " + res.GetMessage(), Err: ErrNotMergeable}
	}
	return res.GetSHA(), nil
}

func (f *githubForge) Comment(ctx context.Context, number int, body string) error {
	if err := hubCheck(gitHubLimits, "", body); err != nil {
		return err
	}
	if err := f.pace.wait(ctx); err != nil {
		return err
	}
	_, resp, err := f.c.Issues.CreateComment(ctx, f.owner, f.repo, number, &github.IssueComment{Body: &body})
	if err != nil {
		return f.err("POST "+f.path("/issues/%d/comments", number), resp, err, nil)
	}
	return nil
}

func (f *githubForge) EnsureHook(ctx context.Context, hookURL, secret string) error {
	// Without admin rights on the repository the hooks API answers 404, not 403.
	forbidden := map[int]error{http.StatusForbidden: ErrForbidden, http.StatusNotFound: ErrForbidden}
	var existing *github.Hook
	opts := &github.ListOptions{PerPage: 100}
	for existing == nil {
		hooks, resp, err := f.c.Repositories.ListHooks(ctx, f.owner, f.repo, opts)
		if err != nil {
			return f.err("GET "+f.path("/hooks"), resp, err, forbidden)
		}
		for _, h := range hooks {
			if h.GetConfig().GetURL() == hookURL {
				existing = h
				break
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	hook := &github.Hook{
		Config: &github.HookConfig{
			URL: &hookURL, ContentType: github.Ptr("json"), Secret: &secret, InsecureSSL: github.Ptr("0"),
		},
		Events: []string{"pull_request", "push"},
		Active: github.Ptr(true),
	}
	if err := f.pace.wait(ctx); err != nil {
		return err
	}
	if existing != nil {
		_, resp, err := f.c.Repositories.EditHook(ctx, f.owner, f.repo, existing.GetID(), hook)
		if err != nil {
			return f.err("PATCH "+f.path("/hooks/%d", existing.GetID()), resp, err, forbidden)
		}
		return nil
	}
	_, resp, err := f.c.Repositories.CreateHook(ctx, f.owner, f.repo, hook)
	if err != nil {
		return f.err("POST "+f.path("/hooks"), resp, err, forbidden)
	}
	return nil
}

// err turns go-github's error for call into a *RateLimitError, an *APIError
// (with the sentinel of its status: byStatus first, then 401/403/404), or the
// transport's error.
func (f *githubForge) err(call string, resp *github.Response, err error, byStatus map[int]error) error {
	var hdr http.Header
	if resp != nil && resp.Response != nil {
		hdr = resp.Header
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		wait, ok := RetryAfter(hdr, f.now())
		if !ok {
			wait = min(max(rle.Rate.Reset.Sub(f.now()), time.Second), time.Hour)
		}
		return &RateLimitError{RetryAfter: wait, Message: rle.Message}
	}
	var are *github.AbuseRateLimitError
	if errors.As(err, &are) {
		wait, ok := RetryAfter(hdr, f.now())
		if !ok && are.RetryAfter != nil {
			wait, ok = max(*are.RetryAfter, time.Second), true
		}
		if !ok {
			wait = gitHubSecondaryWait
		}
		return &RateLimitError{RetryAfter: wait, Message: are.Message}
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		status := er.Response.StatusCode
		msg := er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + e.Message
			} else if e.Field != "" {
				msg += fmt.Sprintf("; %s %s", e.Field, e.Code)
			}
		}
		if wait, ok := RetryAfter(er.Response.Header, f.now()); ok && (status == http.StatusTooManyRequests || (status == http.StatusForbidden && er.Response.Header.Get("Retry-After") != "")) {
			return &RateLimitError{RetryAfter: wait, Message: msg}
		}
		if status == http.StatusTooManyRequests {
			return &RateLimitError{RetryAfter: gitHubSecondaryWait, Message: msg}
		}
		return &APIError{Call: call, Status: status, Message: msg, Err: hubStatusErr(status, byStatus)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", call, err)
}

// hubStatusErr is the sentinel error of an HTTP status: byStatus first, then 401
// ErrUnauthorized, 403 ErrForbidden, 404 ErrNotFound.
func hubStatusErr(status int, byStatus map[int]error) error {
	if e, ok := byStatus[status]; ok {
		return e
	}
	switch status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// gitHubPR maps a GitHub pull request. mergeable_state is computed lazily by
// GitHub: until it is known ("unknown", mergeable null) the PR is neither
// Mergeable nor Conflicted.
func gitHubPR(p *github.PullRequest) PR {
	pr := PR{
		Number:  p.GetNumber(),
		URL:     p.GetHTMLURL(),
		State:   Open,
		Head:    p.GetHead().GetRef(),
		Base:    p.GetBase().GetRef(),
		HeadSHA: p.GetHead().GetSHA(),
		Title:   p.GetTitle(),
		Body:    p.GetBody(),
		Labels:  gitHubLabelNames(p.Labels),
	}
	switch {
	case p.GetMerged() || p.MergedAt != nil:
		pr.State = Merged
		pr.MergeCommitSHA = p.GetMergeCommitSHA()
		pr.MergedBy = p.GetMergedBy().GetLogin()
	case p.GetState() == "closed":
		pr.State = Closed
	default:
		pr.Mergeable = p.GetMergeableState() == "clean"
		pr.Conflicted = p.GetMergeableState() == "dirty"
	}
	return pr
}

func gitHubLabelNames(ls []*github.Label) []string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.GetName())
	}
	return names
}
