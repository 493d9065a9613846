// Package forge speaks the pull-request APIs of the Git hosts a pull-request store
// can live on: GitHub (and GitHub Enterprise Server), GitLab (merge requests) and
// Gitea (Forgejo speaks the same API). The writers use it to open and update the
// one pull request of a store, notice when it is merged or closed, merge it when
// asked to, comment on it, and register the store's webhook; package web uses it
// to verify and read the webhooks the hosts deliver.
//
// A Forge knows nothing about Works or placements: it is a thin, honest client of
// one repository, through the *http.Client it is given (the egress guard, the
// store's CA bundle). Every error says which call failed and what the host
// answered; rate limits come back as *RateLimitError with the host's own wait.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Providers.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea"
)

// Providers lists the provider names a store may name, in the order the docs give.
var Providers = []string{GitHub, GitLab, Gitea}

// Pull-request states as Stateward sees them (a GitLab merge request's
// "opened"/"locked" are Open; "closed" is Closed; "merged" is Merged).
const (
	Open   = "open"
	Closed = "closed" // closed without merging
	Merged = "merged"
)

// Config is one repository on one host.
type Config struct {
	// Provider is GitHub, GitLab or Gitea.
	Provider string
	// RepoURL is the store's Git URL (https, ssh:// or scp-like); the repository's
	// owner/name (GitLab: the full project path, groups included) comes from its
	// path, without a trailing ".git".
	RepoURL string
	// APIURL is the REST API's base URL. Empty: derived from RepoURL's host —
	// https://api.github.com for github.com, https://HOST/api/v3 for another
	// GitHub (Enterprise Server), https://HOST/api/v4 for GitLab,
	// https://HOST/api/v1 for Gitea. (An http:// repository URL gives an http://
	// API URL.)
	APIURL string
	// Token returns the credential for the next call: a personal or project access
	// token, a Gitea token, or a GitHub App installation token (which changes
	// over time, hence a function).
	Token func(ctx context.Context) (string, error)
	// HTTPClient makes every call (egress guard, CA bundle, timeouts).
	HTTPClient *http.Client
	// ContentInterval is the least time between two content-creating calls
	// (opening a pull request, editing it, commenting, merging, creating a
	// webhook), which wait for it. Zero: the provider's default (GitHub: its
	// secondary rate limits ask for a few such calls per minute; see
	// DefaultContentInterval).
	ContentInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Proposal is what the pull request of a store should say.
type Proposal struct {
	// Head is the branch Stateward pushes; Base is the protected branch the
	// clusters read.
	Head, Base string
	Title      string
	// Body is Markdown, at most Forge.Limits().Body characters (the caller
	// summarises; a Forge never truncates silently but refuses a longer body).
	Body   string
	Labels []string
}

// PR is a pull request (GitLab: merge request) as the host reports it.
type PR struct {
	// Number is the PR's number in the repository (GitLab: the iid).
	Number int
	// URL is its web page.
	URL string
	// State is Open, Closed or Merged.
	State string
	Head  string
	Base  string
	// HeadSHA is the head commit the host last saw (at the merge, for a merged PR).
	HeadSHA string
	// MergeCommitSHA is the commit on Base that the merge made (a merge commit,
	// a squash or the rebased tip); set when State is Merged.
	MergeCommitSHA string
	// MergedBy and ClosedBy name the person (login / username) who merged or
	// closed it, when the host says.
	MergedBy, ClosedBy string
	// Mergeable reports that the host would merge it now: no conflict, and (as
	// far as the host tells) its required checks and reviews have passed. GitHub:
	// mergeable_state "clean"; GitLab: detailed_merge_status "mergeable"; Gitea:
	// mergeable (its merge endpoint refuses with 405 while approvals are missing).
	Mergeable bool
	// Conflicted reports that the host found a conflict with Base.
	Conflicted  bool
	Title, Body string
	Labels      []string
}

// Limits are what the host accepts.
type Limits struct {
	// Title and Body are the longest title and body (in characters) the host
	// accepts.
	Title, Body int
}

// Forge is the API of one repository on one host. Its methods are safe to call
// from several goroutines.
type Forge interface {
	// Provider is GitHub, GitLab or Gitea.
	Provider() string
	// Limits says how long a title and a body may be.
	Limits() Limits
	// Find returns the open pull request from head to base, or ErrNotFound.
	Find(ctx context.Context, head, base string) (PR, error)
	// Open opens a pull request for p and adds its labels (creating a missing
	// label on the hosts that need labels to exist, GitLab creating them itself).
	Open(ctx context.Context, p Proposal) (PR, error)
	// Update sets the title, body and labels of pull request number to p's when
	// they differ (a call that would change nothing is not made).
	Update(ctx context.Context, number int, p Proposal) (PR, error)
	// Get reads pull request number.
	Get(ctx context.Context, number int) (PR, error)
	// Merge merges pull request number if its head is still headSHA (the
	// hosts' sha / head_commit_id guard) and returns the merge commit's SHA.
	// ErrNotMergeable: the host refused for now (checks or reviews missing,
	// conflict, head moved) — not a failure of the store.
	Merge(ctx context.Context, number int, headSHA string) (string, error)
	// Comment adds a comment to pull request number.
	Comment(ctx context.Context, number int, body string) error
	// EnsureHook registers a webhook delivering pull-request (and push) events
	// to url, signed with secret, unless one for url exists (then its secret
	// and events are set again). ErrForbidden: the credentials may not manage
	// the repository's hooks.
	EnsureHook(ctx context.Context, url, secret string) error
}

// DefaultContentInterval is the least time between two content-creating calls when
// Config.ContentInterval is zero. GitHub's secondary rate limits allow about 80
// content-creating requests a minute and 500 an hour per account and advise
// waiting at least a second between them; its repository guidance asks for no
// more than a few per minute. A store makes few (one pull request, its edits as
// Works arrive, a merge): on GitHub at most six a minute (an edit waiting for
// its turn is coalesced with the next), elsewhere one a second.
func DefaultContentInterval(provider string) time.Duration {
	if provider == GitHub {
		return 10 * time.Second
	}
	return time.Second
}

// Errors.
var (
	// ErrNotFound: no such pull request (or no open one from head to base).
	ErrNotFound = errors.New("not found")
	// ErrNotMergeable: the host declined to merge now.
	ErrNotMergeable = errors.New("not mergeable now")
	// ErrForbidden: the credentials may not do this (e.g. manage hooks).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the host refused the credentials.
	ErrUnauthorized = errors.New("unauthorized")
)

// RateLimitError is a call the host refused for rate limiting (HTTP 429, or 403
// with Retry-After or GitHub's "secondary rate limit" / exhausted
// X-RateLimit-Remaining). RetryAfter is the host's wait (Retry-After, or until
// X-RateLimit-Reset), at least a second.
type RateLimitError struct {
	RetryAfter time.Duration
	// Message is the host's own words.
	Message string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited by the host (retry after %s): %s", e.RetryAfter.Round(time.Second), e.Message)
}

// APIError is any other refusal: the call, the HTTP status and the host's message.
type APIError struct {
	Call    string // e.g. "POST /repos/acme/gitops/pulls"
	Status  int
	Message string
	// Err is one of the sentinel errors above when the status means one
	// (404 ErrNotFound, 401 ErrUnauthorized, 403 ErrForbidden, 405/409/422 on a
	// merge ErrNotMergeable), else nil.
	Err error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Call, e.Status, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// Event is what one delivered webhook says. It is a hint, never trusted for
// state: on any pull-request or push event the writer reads the pull request
// again through the API.
type Event struct {
	// Kind is "pull_request" (GitLab: merge_request), "push", "ping" (a hook's
	// test delivery) or "other".
	Kind string
	// Number is the pull request's number (GitLab: iid) for Kind pull_request.
	Number int
	// Action is the provider's own action ("closed", "opened", "merge", …).
	Action string
	// State is Open, Closed or Merged as the payload says, for pull_request.
	State string
	// Sender is the login of the person (or bot) whose action it was.
	Sender string
	// Ref is the pushed ref (refs/heads/…) for Kind push.
	Ref string
	// Repo is the repository's full name (GitLab: path_with_namespace).
	Repo string
}

// ErrBadSignature: a webhook's signature (or GitLab token) is missing or wrong.
var ErrBadSignature = errors.New("webhook signature does not verify")
