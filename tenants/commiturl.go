package tenants

import (
	"strings"
)

// CommitURL is the page of commit sha of the Git repository at repoURL, when its
// host's commit pages are known: github.com (or provider github), provider
// gitlab (/-/commit/SHA) and provider gitea (/commit/SHA, Forgejo too).
// provider is the store's spec.pullRequest.provider, "" when it has none. Any
// other store gets "": its commits are shown as plain text.
func CommitURL(repoURL, provider, sha string) string {
	u, err := ParseGitURL(repoURL)
	if err != nil || u.Host == "" || !isHexSHA(sha) {
		return ""
	}
	if provider == "" && strings.EqualFold(u.Host, "github.com") {
		provider = ProviderGitHub
	}
	repo := strings.TrimSuffix(strings.Trim(u.Endpoint.Path, "/"), ".git")
	if repo == "" || strings.ContainsAny(repo, "?#\\ ") {
		return ""
	}
	base := "https://" + u.Host + "/" + repo
	switch provider {
	case ProviderGitHub:
		return base + "/commit/" + sha
	case ProviderGitLab:
		return base + "/-/commit/" + sha
	case ProviderGitea:
		return base + "/commit/" + sha
	}
	return ""
}

// isHexSHA reports whether s is a full SHA-1 or SHA-256 commit id.
func isHexSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
