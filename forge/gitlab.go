package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// GitLab's limits on a merge request: a title of at most 255 characters, a
// description of at most 1,048,576 ("Limited to 1,048,576 characters",
// https://docs.gitlab.com/api/merge_requests/#create-mr; raised to 1 MB by
// https://gitlab.com/gitlab-org/gitlab/merge_requests/18617).
var gitLabLimits = Limits{Title: 255, Body: 1_048_576}

// gitLabDefaultWait is the wait after a 429 that names none (GitLab sends
// Retry-After and RateLimit-Reset with its 429s, so this is only a floor).
const gitLabDefaultWait = time.Minute

// gitlabForge is one project on GitLab (merge requests), through client-go.
type gitlabForge struct {
	c       *gitlab.Client
	project string // full path, group/subgroup/project; client-go escapes it
	pace    *pacer
	now     func() time.Time
}

// gitLabToken is an AuthSource that asks Config.Token for every request and
// sends it as "Authorization: Bearer", which GitLab takes for personal,
// project and group access tokens as well as OAuth tokens
// (https://docs.gitlab.com/api/rest/authentication/).
type gitLabToken struct {
	token func(ctx context.Context) (string, error)
}

func (gitLabToken) Init(context.Context, *gitlab.Client) error { return nil }

func (s gitLabToken) Header(ctx context.Context) (string, string, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return "", "", fmt.Errorf("forge: GitLab token: %w", err)
	}
	if tok == "" {
		return "", "", errors.New("forge: GitLab token is empty")
	}
	return "Authorization", "Bearer " + tok, nil
}

// newGitLab makes the GitLab provider of cfg: the REST base is cfg.APIURL, else
// https://HOST/api/v4. client-go's own retries are off: it would sleep on a 429
// and retry silently; a 429 comes back as *RateLimitError instead.
func newGitLab(cfg Config) (*gitlabForge, error) {
	r, err := parseRepo(cfg.RepoURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == nil {
		return nil, errors.New("forge: Config.Token is nil")
	}
	base := cfg.APIURL
	if base == "" {
		base = r.apiBase(GitLab)
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("forge: API URL %q is not an http(s) URL", base)
	}
	hc := http.DefaultClient
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	cp := *hc
	c, err := gitlab.NewAuthSourceClient(gitLabToken{token: cfg.Token},
		gitlab.WithBaseURL(base),
		gitlab.WithHTTPClient(&cp),
		gitlab.WithoutRetries(),
		gitlab.WithCustomRetryMax(0),
	)
	if err != nil {
		return nil, fmt.Errorf("forge: GitLab client: %w", err)
	}
	return &gitlabForge{c: c, project: r.Path, pace: hubPacer(cfg), now: hubNow(cfg)}, nil
}

func (f *gitlabForge) Provider() string { return GitLab }

func (f *gitlabForge) Limits() Limits { return gitLabLimits }

func (f *gitlabForge) path(format string, a ...any) string {
	return "/projects/" + gitlab.PathEscape(f.project) + fmt.Sprintf(format, a...)
}

func (f *gitlabForge) Find(ctx context.Context, head, base string) (PR, error) {
	mrs, resp, err := f.c.MergeRequests.ListProjectMergeRequests(f.project, &gitlab.ListProjectMergeRequestsOptions{
		State: gitlab.Ptr("opened"), SourceBranch: &head, TargetBranch: &base,
	}, gitlab.WithContext(ctx))
	if err != nil {
		// A 404 here is the project (missing, or hidden from the token), not
		// the absence of a merge request: not ErrNotFound.
		return PR{}, f.err("GET "+f.path("/merge_requests"), resp, err, map[int]error{http.StatusNotFound: nil})
	}
	for _, m := range mrs {
		if m.SourceBranch == head && m.TargetBranch == base {
			return gitLabPR(m), nil
		}
	}
	return PR{}, ErrNotFound
}

func (f *gitlabForge) Open(ctx context.Context, p Proposal) (PR, error) {
	if err := hubCheck(gitLabLimits, p.Title, p.Body); err != nil {
		return PR{}, err
	}
	if err := f.pace.wait(ctx); err != nil {
		return PR{}, err
	}
	opts := &gitlab.CreateMergeRequestOptions{
		Title: &p.Title, Description: &p.Body, SourceBranch: &p.Head, TargetBranch: &p.Base,
	}
	if len(p.Labels) > 0 {
		// GitLab creates a label that does not exist yet.
		opts.Labels = (*gitlab.LabelOptions)(&p.Labels)
	}
	mr, resp, err := f.c.MergeRequests.CreateMergeRequest(f.project, opts, gitlab.WithContext(ctx))
	if err != nil {
		return PR{}, f.err("POST "+f.path("/merge_requests"), resp, err, nil)
	}
	return gitLabPR(&mr.BasicMergeRequest), nil
}

func (f *gitlabForge) Update(ctx context.Context, number int, p Proposal) (PR, error) {
	if err := hubCheck(gitLabLimits, p.Title, p.Body); err != nil {
		return PR{}, err
	}
	cur, err := f.Get(ctx, number)
	if err != nil {
		return PR{}, err
	}
	opts := &gitlab.UpdateMergeRequestOptions{}
	change := false
	if cur.Title != p.Title {
		opts.Title, change = &p.Title, true
	}
	if cur.Body != p.Body {
		opts.Description, change = &p.Body, true
	}
	if !hubSameLabels(cur.Labels, p.Labels) {
		labels := gitlab.LabelOptions(append([]string{}, p.Labels...)) // "" removes them all
		opts.Labels, change = &labels, true
	}
	if !change {
		return cur, nil
	}
	if err := f.pace.wait(ctx); err != nil {
		return cur, err
	}
	mr, resp, err := f.c.MergeRequests.UpdateMergeRequest(f.project, int64(number), opts, gitlab.WithContext(ctx))
	if err != nil {
		return cur, f.err("PUT "+f.path("/merge_requests/%d", number), resp, err, nil)
	}
	return gitLabPR(&mr.BasicMergeRequest), nil
}

func (f *gitlabForge) Get(ctx context.Context, number int) (PR, error) {
	mr, resp, err := f.c.MergeRequests.GetMergeRequest(f.project, int64(number), nil, gitlab.WithContext(ctx))
	if err != nil {
		return PR{}, f.err("GET "+f.path("/merge_requests/%d", number), resp, err, nil)
	}
	return gitLabPR(&mr.BasicMergeRequest), nil
}

func (f *gitlabForge) Merge(ctx context.Context, number int, headSHA string) (string, error) {
	if err := f.pace.wait(ctx); err != nil {
		return "", err
	}
	call := "PUT " + f.path("/merge_requests/%d/merge", number)
	mr, resp, err := f.c.MergeRequests.AcceptMergeRequest(f.project, int64(number), &gitlab.AcceptMergeRequestOptions{SHA: &headSHA}, gitlab.WithContext(ctx))
	if err != nil {
		// 405: not mergeable now (draft, pipeline, approvals, closed); 406: a
		// conflict; 409: the sha does not match the head; 422: refused.
		return "", f.err(call, resp, err, map[int]error{
			http.StatusMethodNotAllowed:    ErrNotMergeable,
			http.StatusNotAcceptable:       ErrNotMergeable,
			http.StatusConflict:            ErrNotMergeable,
			http.StatusUnprocessableEntity: ErrNotMergeable,
		})
	}
	if mr.State != "merged" {
		return "", &APIError{Call: call, Status: resp.StatusCode, Message: "merge request is " + mr.State + " after the merge", Err: ErrNotMergeable}
	}
	switch {
	case mr.MergeCommitSHA != "":
		return mr.MergeCommitSHA, nil
	case mr.SquashCommitSHA != "":
		return mr.SquashCommitSHA, nil
	}
	// A fast-forward merge makes no commit: the target is now the head.
	return mr.SHA, nil
}

func (f *gitlabForge) Comment(ctx context.Context, number int, body string) error {
	if err := hubCheck(gitLabLimits, "", body); err != nil {
		return err
	}
	if err := f.pace.wait(ctx); err != nil {
		return err
	}
	_, resp, err := f.c.Notes.CreateMergeRequestNote(f.project, int64(number), &gitlab.CreateMergeRequestNoteOptions{Body: &body}, gitlab.WithContext(ctx))
	if err != nil {
		return f.err("POST "+f.path("/merge_requests/%d/notes", number), resp, err, nil)
	}
	return nil
}

func (f *gitlabForge) EnsureHook(ctx context.Context, hookURL, secret string) error {
	// Without the Maintainer role the hooks API answers 403 (or 404).
	forbidden := map[int]error{http.StatusForbidden: ErrForbidden, http.StatusNotFound: ErrForbidden}
	var existing *gitlab.ProjectHook
	opts := &gitlab.ListProjectHooksOptions{ListOptions: gitlab.ListOptions{PerPage: 100}}
	for existing == nil {
		hooks, resp, err := f.c.Projects.ListProjectHooks(f.project, opts, gitlab.WithContext(ctx))
		if err != nil {
			return f.err("GET "+f.path("/hooks"), resp, err, forbidden)
		}
		for _, h := range hooks {
			if h.URL == hookURL {
				existing = h
				break
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if err := f.pace.wait(ctx); err != nil {
		return err
	}
	if existing != nil {
		_, resp, err := f.c.Projects.EditProjectHook(f.project, existing.ID, &gitlab.EditProjectHookOptions{
			URL: &hookURL, Token: &secret, MergeRequestsEvents: gitlab.Ptr(true), PushEvents: gitlab.Ptr(true),
			EnableSSLVerification: gitlab.Ptr(true),
		}, gitlab.WithContext(ctx))
		if err != nil {
			return f.err("PUT "+f.path("/hooks/%d", existing.ID), resp, err, forbidden)
		}
		return nil
	}
	_, resp, err := f.c.Projects.AddProjectHook(f.project, &gitlab.AddProjectHookOptions{
		URL: &hookURL, Token: &secret, MergeRequestsEvents: gitlab.Ptr(true), PushEvents: gitlab.Ptr(true),
		EnableSSLVerification: gitlab.Ptr(true),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return f.err("POST "+f.path("/hooks"), resp, err, forbidden)
	}
	return nil
}

// err turns client-go's error for call into a *RateLimitError (429, or 403
// with Retry-After), an *APIError with the sentinel of its status, or the
// transport's error.
func (f *gitlabForge) err(call string, resp *gitlab.Response, err error, byStatus map[int]error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if resp == nil || resp.Response == nil || resp.StatusCode < 400 {
		return fmt.Errorf("%s: %w", call, err) // the transport, or an answer that does not decode
	}
	status := resp.StatusCode
	msg := err.Error()
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		msg = er.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
	} else if errors.Is(err, gitlab.ErrNotFound) {
		msg = "404 Not Found"
	}
	if status == http.StatusTooManyRequests || (status == http.StatusForbidden && resp.Header.Get("Retry-After") != "") {
		wait, ok := RetryAfter(resp.Header, f.now())
		if !ok {
			wait = gitLabDefaultWait
		}
		return &RateLimitError{RetryAfter: wait, Message: msg}
	}
	return &APIError{Call: call, Status: status, Message: msg, Err: hubStatusErr(status, byStatus)}
}

// gitLabPR maps a GitLab merge request.
func gitLabPR(m *gitlab.BasicMergeRequest) PR {
	pr := PR{
		Number:  int(m.IID),
		URL:     m.WebURL,
		State:   Open, // opened, locked
		Head:    m.SourceBranch,
		Base:    m.TargetBranch,
		HeadSHA: m.SHA,
		Title:   m.Title,
		Body:    m.Description,
		Labels:  append([]string{}, m.Labels...),
	}
	switch m.State {
	case "merged":
		pr.State = Merged
		pr.MergeCommitSHA = m.MergeCommitSHA
		if pr.MergeCommitSHA == "" {
			pr.MergeCommitSHA = m.SquashCommitSHA
		}
		if pr.MergeCommitSHA == "" {
			pr.MergeCommitSHA = m.SHA // fast-forward
		}
		if m.MergeUser != nil { // merged_by is deprecated for merge_user
			pr.MergedBy = m.MergeUser.Username
		}
	case "closed":
		pr.State = Closed
		if m.ClosedBy != nil {
			pr.ClosedBy = m.ClosedBy.Username
		}
	default:
		pr.Mergeable = m.DetailedMergeStatus == "mergeable"
		pr.Conflicted = m.DetailedMergeStatus == "conflict" || m.HasConflicts
	}
	return pr
}
