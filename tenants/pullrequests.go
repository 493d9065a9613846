package tenants

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Pull-request providers (spec.pullRequest.provider).
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
	ProviderGitea  = "gitea"
)

// Merge policies (spec.pullRequest.merge).
const (
	MergeManual = "manual" // a person merges; Stateward waits
	MergeAuto   = "auto"   // Stateward merges once the host says it may
)

// Pull-request limits on what a store may ask for.
const (
	maxPRLabels   = 20
	maxLabelChars = 50
)

// PullRequestSpec is a GitStateStore's spec.pullRequest (a Stateward extension):
// everything Stateward writes to the store goes through one pull request from
// HeadBranch to the store's branch instead of being pushed to that branch.
type PullRequestSpec struct {
	Provider string   `json:"provider"`
	APIURL   string   `json:"apiURL,omitempty"`
	Head     string   `json:"headBranch,omitempty"`
	Merge    string   `json:"merge,omitempty"`
	Labels   []string `json:"labels,omitempty"`
}

// DefaultHeadBranch is the head branch of a store's pull request unless
// spec.pullRequest.headBranch names one.
func DefaultHeadBranch(store string) string { return "stateward/" + store }

// HeadBranch is the branch the store's pull request comes from.
func (s GitStateStore) HeadBranch() string {
	if s.PullRequest == nil {
		return ""
	}
	if s.PullRequest.Head != "" {
		return s.PullRequest.Head
	}
	return DefaultHeadBranch(s.Name)
}

// normalizePR trims the pull-request spec and fills its defaults.
func (s *GitStateStore) normalizePR() {
	p := s.PullRequest
	if p == nil {
		return
	}
	p.Provider = strings.TrimSpace(p.Provider)
	p.APIURL = strings.TrimRight(strings.TrimSpace(p.APIURL), "/")
	p.Head = strings.TrimSpace(p.Head)
	p.Merge = strings.TrimSpace(p.Merge)
	if p.Merge == "" {
		p.Merge = MergeManual
	}
	labels := p.Labels[:0:0]
	for _, l := range p.Labels {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	p.Labels = labels
	if len(p.Labels) == 0 {
		p.Labels = nil
	}
}

// validatePR checks spec.pullRequest.
func (s *GitStateStore) validatePR(es *ValidationErrors) {
	p := s.PullRequest
	if p == nil {
		return
	}
	switch p.Provider {
	case ProviderGitHub, ProviderGitLab, ProviderGitea:
	case "":
		_ = es.Add(Invalid("spec.pullRequest.provider", "is required: github, gitlab or gitea (Forgejo speaks Gitea's API)"))
	default:
		_ = es.Add(Invalid("spec.pullRequest.provider", "must be github, gitlab or gitea (Forgejo speaks Gitea's API), not %q", p.Provider))
	}
	if p.APIURL != "" {
		_ = es.Add(validateBaseURL("spec.pullRequest.apiURL", p.APIURL, s.Insecure,
			"GitHub Enterprise Server: https://HOST/api/v3; GitLab: https://HOST/api/v4; Gitea: https://HOST/api/v1"))
	}
	if head := s.HeadBranch(); head != "" {
		ref := plumbing.NewBranchReferenceName(head)
		switch {
		case ref.Validate() != nil || strings.ContainsAny(head, " ~^:?*[\\") || strings.Contains(head, ".."):
			_ = es.Add(Invalid("spec.pullRequest.headBranch", "%q is not a valid branch name", head))
		case head == s.Branch:
			_ = es.Add(Invalid("spec.pullRequest.headBranch", "must differ from spec.branch (%q): the pull request goes from the head branch into it", s.Branch))
		}
	}
	if p.Merge != MergeManual && p.Merge != MergeAuto {
		_ = es.Add(Invalid("spec.pullRequest.merge", "must be manual or auto, not %q", p.Merge))
	}
	if len(p.Labels) > maxPRLabels {
		_ = es.Add(Invalid("spec.pullRequest.labels", "at most %d labels", maxPRLabels))
	}
	for i, l := range p.Labels {
		if len([]rune(l)) > maxLabelChars || strings.ContainsAny(l, ",\n\r\t") {
			_ = es.Add(Invalid(fmt.Sprintf("spec.pullRequest.labels[%d]", i), "%q: a label is at most %d characters, without commas or line breaks", l, maxLabelChars))
		}
	}
	switch s.AuthMethod {
	case AuthBasic:
	case AuthGitHubApp:
		if p.Provider != ProviderGitHub && p.Provider != "" {
			_ = es.Add(Invalid("spec.pullRequest.provider", "authMethod githubApp works with provider github only"))
		}
	default:
		_ = es.Add(Invalid("spec.authMethod", "a pull-request store calls the host's API with a token: use basicAuth (the Secret's password is a personal, project or Gitea access token) or githubApp, not %s", s.AuthMethod))
	}
	if u, err := ParseGitURL(s.URL); err == nil && u.Form == FormFile {
		_ = es.Add(Invalid("spec.url", "a pull-request store needs the repository's URL on its host (https://… or ssh://…), not a file:// path"))
	}
}

// validateBaseURL checks an API base URL field.
func validateBaseURL(field, raw string, insecure bool, hint string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return Invalid(field, "%q is not a URL (%s)", raw, hint)
	case u.Scheme == "http" && !insecure:
		return Invalid(field, "http:// is only allowed with insecure: true; use https://")
	case u.Scheme != "https" && u.Scheme != "http":
		return Invalid(field, "scheme %q is not supported; use https://", u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return Invalid(field, "must be a plain base URL, without user, query or fragment")
	}
	return nil
}

// StorePullRequest is what a pull-request store shows of its pull request
// (status.pullRequest) and of its webhook.
type StorePullRequest struct {
	// Number and URL are the open pull request's; 0 and "" when none is open.
	Number int
	URL    string
	// Warning is set while Stateward stops updating the pull request (a commit
	// by someone else on the head branch): a person merges or closes it.
	Warning string
	// Error is the host's answer when the last call about the pull request
	// failed (it is retried).
	Error string
	// Hook says whether Stateward registered the store's webhook itself, or why
	// it could not ("" until it tried).
	Hook string
}

// PlacementPR is the pull request that carries (or carried) a placement.
type PlacementPR struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// Proposal is one placement a store's pull request carries, for its title and
// body.
type Proposal struct {
	WorkID      int64
	Work        string // the Work's name
	Destination string
	Delete      bool
	Files       int  // keys it writes (or removes)
	New         bool // never written before
	// RequestedBy is who last submitted the Work (the audit log), "" if unknown.
	RequestedBy string
}
