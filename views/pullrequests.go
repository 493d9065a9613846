package views

import (
	"strings"

	"github.com/stateward/stateward/tenants"
)

// StorePRProps is what a pull-request store's page shows of its pull request
// besides the store itself.
type StorePRProps struct {
	View       tenants.PRStoreView // the open pull request and the placements counted
	WebhookURL string              // where the host delivers ("" when the server has no public URL)
}

// ManualHookSteps says, per provider, what to register on the host by hand
// when Stateward may not (or has not yet) registered the webhook itself.
func ManualHookSteps(provider string) string {
	switch provider {
	case tenants.ProviderGitHub:
		return "Settings → Webhooks → Add webhook, content type application/json, secret = webhookSecret, events: Pull requests, Pushes"
	case tenants.ProviderGitLab:
		return "Settings → Webhooks, secret token = webhookSecret, triggers: Merge request events, Push events"
	case tenants.ProviderGitea:
		return "Settings → Webhooks → Add webhook → Gitea, content type application/json, secret = webhookSecret, trigger on: Pull request + Push"
	}
	return ""
}

// providerName is a provider as its users spell it.
func providerName(provider string) string {
	switch provider {
	case tenants.ProviderGitHub:
		return "GitHub"
	case tenants.ProviderGitLab:
		return "GitLab"
	case tenants.ProviderGitea:
		return "Gitea"
	}
	return provider
}

// prNoun is what the provider calls a pull request.
func prNoun(provider string) string {
	if provider == tenants.ProviderGitLab {
		return "merge request"
	}
	return "pull request"
}

// hookRegistered reports whether Stateward registered the store's webhook.
func hookRegistered(g tenants.GitStateStore) bool { return g.PR.Hook == tenants.HookRegistered }

// prLabels shows a pull request's labels, or "none".
func prLabels(p *tenants.PullRequestSpec) string {
	if len(p.Labels) == 0 {
		return "none"
	}
	return strings.Join(p.Labels, ", ")
}

// prNumber is "#7".
func prNumber(n int) string { return "#" + itoa(n) }

// placementPRText is a placement's pull-request link text, "PR #7".
func placementPRText(pr *tenants.PlacementPR) string { return "PR " + prNumber(pr.Number) }

// prAwaitsText ends an Overview line about an open pull request: "awaits
// review — 200 placements proposed".
func prAwaitsText(v tenants.PRStoreView) string {
	return "awaits review — " + plural(v.Proposed, "placement", "placements") + " proposed"
}
