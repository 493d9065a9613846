package views

import (
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

func prStore() tenants.GitStateStore {
	return tenants.GitStateStore{Name: "gitops", URL: "https://gitea.example.com/acme/gitops.git", Branch: "main",
		AuthMethod: tenants.AuthBasic, HookID: "HOOK1",
		PullRequest: &tenants.PullRequestSpec{Provider: tenants.ProviderGitea, Merge: tenants.MergeAuto, Labels: []string{"gitops", "stateward"},
			APIURL: "https://gitea.example.com/api/v1"},
		PR:          tenants.StorePullRequest{Number: 7, URL: "https://gitea.example.com/acme/gitops/pulls/7"},
		Credentials: tenants.GitCredentials{Password: "tok-SECRET", WebhookSecret: "hook-SECRET"}}
}

func TestGitStoreFormPullRequestSection(t *testing.T) {
	for _, edit := range []bool{false, true} {
		p := GitStoreFormProps{Store: prStore(), Edit: edit, ValidateURL: "/v", Errors: tenants.ValidationErrors{
			{Field: "spec.pullRequest.labels[1]", Message: `"a,b": a label is at most 50 characters, without commas or line breaks`},
			{Field: "spec.pullRequest.headBranch", Message: "must differ from spec.branch"}}}
		html := render(t, GitStoreFormPage(shell(tenants.RoleEditor, "stores"), p))
		lacks(t, html, "SECRET")
		provider := fieldHTML(t, html, "spec.pullRequest.provider")
		contains(t, provider, `<option value="none">`, `<option value="gitea" selected>`, `hx-post="/v"`)
		contains(t, fieldHTML(t, html, "spec.pullRequest.apiURL"), `value="https://gitea.example.com/api/v1"`,
			`placeholder="https://gitea.example.com/api/v1"`)
		contains(t, fieldHTML(t, html, "spec.pullRequest.headBranch"), `placeholder="stateward/gitops"`, "must differ from spec.branch")
		contains(t, fieldHTML(t, html, "spec.pullRequest.merge"), `<option value="auto" selected>`)
		labels := fieldHTML(t, html, "spec.pullRequest.labels")
		contains(t, labels, `value="gitops, stateward"`, "without commas or line breaks")
		secret := fieldHTML(t, html, "webhookSecret")
		contains(t, secret, `type="password"`, `autocomplete="new-password"`)
		contains(t, secret, `value=""`)
		contains(t, html, `class="group pr-on"`, `href="#f-spec-pullRequest-labels"`)
		if edit != strings.Contains(secret, "Leave blank to keep the current secret") {
			t.Errorf("edit=%v: webhook secret help = %s", edit, secret)
		}
	}
	blank := render(t, GitStoreFormPage(shell(tenants.RoleEditor, "stores"), GitStoreFormProps{}))
	contains(t, fieldHTML(t, blank, "spec.pullRequest.provider"), `<option value="none" selected>`)
	contains(t, fieldHTML(t, blank, "spec.pullRequest.headBranch"), `placeholder="stateward/&lt;store name&gt;"`)
}

func TestPRAPIPlaceholder(t *testing.T) {
	for _, tc := range []struct{ provider, url, want string }{
		{tenants.ProviderGitHub, "https://github.com/acme/gitops.git", "https://api.github.com"},
		{tenants.ProviderGitHub, "git@ghe.acme.internal:acme/gitops.git", "https://ghe.acme.internal/api/v3"},
		{tenants.ProviderGitLab, "https://gitlab.acme.internal/platform/gitops.git", "https://gitlab.acme.internal/api/v4"},
		{tenants.ProviderGitea, "http://127.0.0.1:3000/acme/gitops.git", "http://127.0.0.1:3000/api/v1"},
		{tenants.ProviderGitea, "", "https://HOST/api/v1"},
		{PRProviderNone, "https://github.com/acme/gitops.git", "derived from the repository URL"},
	} {
		if got := PRAPIPlaceholder(tc.provider, tc.url); got != tc.want {
			t.Errorf("PRAPIPlaceholder(%s, %s) = %q, want %q", tc.provider, tc.url, got, tc.want)
		}
	}
}

func TestStorePagePullRequestPanel(t *testing.T) {
	g := prStore()
	p := StoreProps{Git: &g, PR: &StorePRProps{View: tenants.PRStoreView{Store: "gitops", Number: 7, Proposed: 200, Rejected: 3},
		WebhookURL: "https://stateward.example.com/hooks/git/HOOK1"}}
	html := render(t, StorePage(shell(tenants.RoleEditor, "stores"), p))
	lacks(t, html, "SECRET")
	contains(t, html, `data-testid="store-pr"`, `<a href="https://gitea.example.com/acme/gitops/pulls/7" data-testid="pr-link">#7</a>`,
		`<span class="mono">stateward/gitops</span> → <span class="mono">main</span>`, "200 proposed", "3 rejected",
		`href="/t/platform/works?state=rejected"`, `data-copy="https://stateward.example.com/hooks/git/HOOK1"`,
		"not registered yet", "By hand on Gitea", ManualHookSteps(tenants.ProviderGitea), `data-testid="pr-settings"`, "merge auto",
		"labels: gitops, stateward")
	lacks(t, html, `data-testid="pr-warning"`, `data-testid="pr-error"`)

	g.PR = tenants.StorePullRequest{Hook: tenants.HookRegistered, Warning: "someone else's commit abc123 is on stateward/gitops",
		Error: "HTTP 502: <bad gateway>"}
	html = render(t, StorePage(shell(tenants.RoleEditor, "stores"), p))
	contains(t, html, "no open pull request", `<span class="badge st-ok">registered</span>`, `data-testid="pr-warning"`,
		"someone else&#39;s commit abc123 is on stateward/gitops", `data-testid="pr-error"`, "HTTP 502: &lt;bad gateway&gt;")
	lacks(t, html, `data-testid="pr-hook-steps"`, `data-testid="pr-link"`)

	g.PR.Hook = "not registered: the store's token may not manage this repository's webhooks"
	g.PullRequest.Provider = tenants.ProviderGitLab
	html = render(t, StorePage(shell(tenants.RoleEditor, "stores"), p))
	contains(t, html, `<p class="message" data-testid="pr-hook-status">not registered: the store&#39;s token may not manage this repository&#39;s webhooks</p>`,
		"By hand on GitLab", "Settings → Webhooks, secret token = webhookSecret, triggers: Merge request events, Push events",
		"no open merge request")

	push := sampleStores().Git[0]
	html = render(t, StorePage(shell(tenants.RoleEditor, "stores"), StoreProps{Git: &push}))
	lacks(t, html, `data-testid="store-pr"`)
	contains(t, html, "none: writes are pushed to the branch")
}

func TestManualHookSteps(t *testing.T) {
	want := map[string]string{
		tenants.ProviderGitHub: "Settings → Webhooks → Add webhook, content type application/json, secret = webhookSecret, events: Pull requests, Pushes",
		tenants.ProviderGitLab: "Settings → Webhooks, secret token = webhookSecret, triggers: Merge request events, Push events",
		tenants.ProviderGitea:  "Settings → Webhooks → Add webhook → Gitea, content type application/json, secret = webhookSecret, trigger on: Pull request + Push",
	}
	for provider, w := range want {
		if got := ManualHookSteps(provider); got != w {
			t.Errorf("ManualHookSteps(%s) = %q, want %q", provider, got, w)
		}
	}
}

func TestWorkPagePullRequestPlacements(t *testing.T) {
	p := sampleWork(false)
	p.Placements = []PlacementRow{
		{Destination: "stage", State: tenants.StateProposed, Paths: []string{"s/a.yaml"}, Version: "abc",
			PullRequest: &tenants.PlacementPR{Number: 7, URL: "https://gitea.example.com/acme/gitops/pulls/7"}},
		{Destination: "prod", State: tenants.StateRejected, Paths: []string{"p/a.yaml"},
			PullRequest: &tenants.PlacementPR{Number: 6, URL: "https://gitea.example.com/acme/gitops/pulls/6"},
			Error:       "pull request #6 was closed without merging by ada"},
	}
	html := render(t, WorkPlacements(p))
	contains(t, html, `<span class="badge st-info" data-testid="state" title="awaiting review`, "◷</span> proposed",
		`<span class="badge st-bad" data-testid="state" title="its pull request was closed without merging`, "✗</span> rejected",
		`<a class="small pr-link" href="https://gitea.example.com/acme/gitops/pulls/7" data-testid="placement-pr">PR #7</a>`,
		`href="https://gitea.example.com/acme/gitops/pulls/6" data-testid="placement-pr">PR #6</a>`,
		`<pre class="message mono" data-testid="placement-error">pull request #6 was closed without merging by ada</pre>`,
		"Awaiting review of the pull request", `hx-trigger="every 2s"`)

	p.Placements[0].PullRequest = nil
	lacks(t, render(t, WorkPlacements(p)), "PR #7")
}

func TestWorksRowCountsProposedAndRejected(t *testing.T) {
	row := WorkRow{Work: tenants.Work{ID: 1, Promise: "redis"}, Proposed: 4, Rejected: 2}
	html := render(t, WorksPage(shell(tenants.RoleEditor, "works"), WorksProps{Works: []WorkRow{row}, Total: 1,
		States: tenants.WorkStates}))
	contains(t, html, `data-testid="work-proposed">◷ 4</span>`, `data-testid="work-rejected">✗ 2 rejected</span>`, "row-bad",
		`<option value="proposed">proposed (pull-request stores)</option>`, `<option value="rejected">rejected (pull-request stores)</option>`)
}

func TestOverviewPullRequests(t *testing.T) {
	p := OverviewProps{StoresReady: 1, Destinations: 2, Rejected: 3, PullRequests: []tenants.PRStoreView{
		{Store: "gitops", Number: 7, URL: "https://gitea.example.com/acme/gitops/pulls/7", Proposed: 200},
		{Store: "infra", Warning: "someone else's commit is on stateward/infra"},
	}}
	html := render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), p))
	contains(t, html, `data-testid="attention-pr"`, `href="/t/platform/stores/git/gitops"`, ">gitops</a>:",
		`<a href="https://gitea.example.com/acme/gitops/pulls/7" data-testid="attention-pr-link">pull request #7</a>`,
		"awaits review — 200 placements proposed", `data-testid="attention-pr-warning"`, `href="/t/platform/stores/git/infra"`,
		"someone else&#39;s commit is on stateward/infra", `data-testid="attention-rejected"`,
		`<a href="/t/platform/works?state=rejected">3 placements rejected</a>`)
	if n := strings.Count(html, `data-testid="attention-pr"`); n != 1 {
		t.Errorf("%d open pull requests listed, want 1 (infra has none open)", n)
	}
	lacks(t, render(t, OverviewPage(shell(tenants.RoleEditor, "overview"), OverviewProps{StoresReady: 1})), "attention-pr", "attention-rejected")
}
