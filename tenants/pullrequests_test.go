package tenants

import (
	"fmt"
	"strings"
	"testing"
)

func prStore(p *PullRequestSpec) GitStateStore {
	s := GitStateStore{Name: "prs", URL: "https://github.com/acme/gitops.git", PullRequest: p,
		Credentials: GitCredentials{Password: "token"}}
	s.Normalize()
	return s
}

func TestPullRequestSpecDefaults(t *testing.T) {
	s := prStore(&PullRequestSpec{Provider: "github", Labels: []string{" a ", "a", "", "b"}})
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.HeadBranch() != "stateward/prs" || s.PullRequest.Merge != MergeManual || strings.Join(s.PullRequest.Labels, ",") != "a,b" {
		t.Errorf("defaults: head %q merge %q labels %q", s.HeadBranch(), s.PullRequest.Merge, s.PullRequest.Labels)
	}
	if (GitStateStore{Name: "x"}).HeadBranch() != "" {
		t.Error("a push store has a head branch")
	}
}

func TestPullRequestSpecInvalid(t *testing.T) {
	for _, c := range []struct {
		name  string
		mod   func(*GitStateStore)
		field string
	}{
		{"no provider", func(s *GitStateStore) { s.PullRequest.Provider = "" }, "spec.pullRequest.provider"},
		{"unknown provider", func(s *GitStateStore) { s.PullRequest.Provider = "bitbucket" }, "spec.pullRequest.provider"},
		{"bad api url", func(s *GitStateStore) { s.PullRequest.APIURL = "ghe.acme/api/v3" }, "spec.pullRequest.apiURL"},
		{"http api url", func(s *GitStateStore) { s.PullRequest.APIURL = "http://ghe.acme/api/v3" }, "spec.pullRequest.apiURL"},
		{"head is base", func(s *GitStateStore) { s.PullRequest.Head = "main" }, "spec.pullRequest.headBranch"},
		{"bad head", func(s *GitStateStore) { s.PullRequest.Head = "a..b" }, "spec.pullRequest.headBranch"},
		{"merge", func(s *GitStateStore) { s.PullRequest.Merge = "squash" }, "spec.pullRequest.merge"},
		{"label", func(s *GitStateStore) { s.PullRequest.Labels = []string{"a,b"} }, "spec.pullRequest.labels[0]"},
		{"ssh", func(s *GitStateStore) {
			s.AuthMethod = AuthSSH
			s.Credentials = GitCredentials{SSHPrivateKey: "k", KnownHosts: "h"}
		}, "spec.authMethod"},
		{"app on gitlab", func(s *GitStateStore) {
			s.AuthMethod, s.PullRequest.Provider = AuthGitHubApp, "gitlab"
		}, "spec.pullRequest.provider"},
	} {
		s := prStore(&PullRequestSpec{Provider: "github", Merge: MergeAuto})
		c.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

func TestPullRequestSpecFromYAML(t *testing.T) {
	docs := mustParse(t, `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: reviewed}
spec:
  url: https://github.com/acme/gitops.git
  branch: main
  secretRef: {name: gh}
  pullRequest:
    provider: github
    merge: auto
    labels: [gitops]
---
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {password: tok, webhookSecret: " s3cret\n"}
`)
	if errs := ResolveSecrets(docs, nil); len(errs) > 0 {
		t.Fatalf("resolve: %v", errs)
	}
	g := docs[0].Git
	if g.PullRequest == nil || g.PullRequest.Merge != MergeAuto || g.HeadBranch() != "stateward/reviewed" {
		t.Fatalf("pullRequest came back as %+v", g.PullRequest)
	}
	if g.Credentials.WebhookSecret != "s3cret" {
		t.Errorf("webhookSecret %q", g.Credentials.WebhookSecret)
	}
	_, errs := ParseKratixYAML([]byte(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: reviewed}
spec: {url: "https://github.com/acme/gitops.git", pullRequest: {provider: github, mergeStrategy: squash}}
`), ParseOptions{Strict: true})
	if !strings.Contains(fmt.Sprint(errs), "spec.pullRequest.mergeStrategy") {
		t.Errorf("unknown field not named: %s", errs)
	}
}
