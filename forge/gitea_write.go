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
	"unicode/utf8"

	"code.gitea.io/sdk/gitea"
)

// The calls of the Gitea provider that change the repository: pull requests,
// labels, merges, comments and hooks.

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
		return g.complete(ctx, cur)
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
	return g.complete(ctx, edited)
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
	body, err := json.Marshal(opt)
	if err != nil {
		return fmt.Errorf("forge: gitea POST %s: %w", path, err)
	}
	_, err = g.raw(ctx, http.MethodPost, path, body, true)
	return err
}

// getJSON reads path (below /api/v1) into out with a request of its own (see
// raw).
func (g *giteaForge) getJSON(ctx context.Context, path string, out any) error {
	answer, err := g.raw(ctx, http.MethodGet, path, nil, false)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("forge: gitea GET %s: %w", path, err)
	}
	return nil
}

// raw makes one API call without the SDK and answers the body of a 2xx; a
// refusal keeps the host's own message (merge: see fail).
func (g *giteaForge) raw(ctx context.Context, method, path string, body []byte, merge bool) ([]byte, error) {
	call := method + " " + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.root+"/api/v1"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "stateward")
	if g.cfg.Token != nil {
		token, err := g.cfg.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("forge: gitea token: %w", err)
		}
		if token != "" {
			req.Header.Set("Authorization", "token "+token)
		}
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("forge: gitea %s: %w", call, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("forge: gitea %s: read answer: %w", call, err)
	}
	if resp.StatusCode/100 == 2 {
		return answer, nil
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
	return nil, g.fail(call, &gitea.Response{Response: resp}, errors.New(msg), merge)
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
