package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

// fakeHost is one of testpeers' local GitHub or GitLab servers, as this test
// drives it.
type fakeHost interface {
	RepoURL() string
	Token() string
	Protect(branch string)
	PR(number int) (testpeers.ForgePR, bool)
	Hooks() []testpeers.ForgeHook
	MergeAs(t testing.TB, number int, login string) string
	Close(t testing.TB, number int, login string)
}

// TestPullRequestStoreOnGitHubAndGitLab runs a pull-request store through
// Stateward against local servers that speak GitHub's and GitLab's REST APIs
// in front of a real Git remote with a protected main (they fail the test on
// any request their API documentation does not allow): Works make one pull
// request, the webhook is registered and its merge delivery turns them
// written at once; a close turns the next ones rejected, naming who closed it.
func TestPullRequestStoreOnGitHubAndGitLab(t *testing.T) {
	for _, provider := range []string{"github", "gitlab"} {
		t.Run(provider, func(t *testing.T) {
			const user, token = "x-access-token", "tok-0123456789"
			git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: user, Password: token})
			var host fakeHost
			if provider == "github" {
				host = testpeers.GitHubRepo(t, git, testpeers.GitHubAPIOptions{Token: token})
			} else {
				host = testpeers.GitLabRepo(t, git, testpeers.GitLabAPIOptions{Token: token})
			}
			host.Protect("main")
			in, tok := startTeam(t)
			p := &prTeam{in: in, token: tok}
			p.api(t, http.MethodPost, "/apply", prStoreYAML(user, token, "hook-s3cret", host.RepoURL(),
				"{provider: "+provider+", labels: [gitops]}"), http.StatusOK, nil)
			mainBefore := git.Head(t, "main")
			p.submit(t, "app", 20)
			waitFor(t, 60*time.Second, "20 Works proposed with a pull request", func() bool {
				return p.count(t, "proposed") == 20 && p.store(t).PullRequest != nil
			})
			st := p.store(t)
			if _, ok := host.PR(2); ok || st.PullRequest.Number != 1 {
				t.Fatalf("pull requests: store shows %+v, want exactly #1", st.PullRequest)
			}
			// The title follows the Works as they come (an edit waits for the host's pace).
			waitFor(t, 30*time.Second, "the title to count 20 Works", func() bool {
				pr, _ := host.PR(1)
				return strings.Contains(pr.Title, "20 Works")
			})
			pr, _ := host.PR(1)
			if pr.Head != "stateward/gitops" || pr.Base != "main" || len(pr.Labels) != 1 || pr.Labels[0] != "gitops" {
				t.Errorf("pull request %+v", pr)
			}
			if hooks := host.Hooks(); len(hooks) != 1 || st.Webhook != "registered" || !strings.Contains(hooks[0].URL, "/hooks/git/") {
				t.Errorf("webhooks %+v, status %q: want Stateward's registered", hooks, st.Webhook)
			}
			if git.Head(t, "main") != mainBefore {
				t.Fatal("main moved before the merge")
			}
			merged := time.Now()
			mergeCommit := host.MergeAs(t, 1, "rita")
			waitFor(t, 40*time.Second, "20 Works written", func() bool { return p.count(t, "written") == 20 })
			t.Logf("%s: merge to 20 Works written: %s", provider, time.Since(merged).Round(time.Millisecond))
			if took := time.Since(merged); took > 2*time.Second {
				t.Errorf("merge noticed after %s, want < 2s with the webhook", took)
			}
			if git.Head(t, "main") != mergeCommit {
				t.Errorf("main at %s, want the merge commit %s", git.Head(t, "main"), mergeCommit)
			}
			p.submit(t, "late", 2)
			waitFor(t, 60*time.Second, "2 Works proposed in pull request #2", func() bool {
				st := p.store(t)
				return p.count(t, "proposed") == 2 && st.PullRequest != nil && st.PullRequest.Number == 2
			})
			host.Close(t, 2, "rita")
			waitFor(t, 40*time.Second, "2 Works rejected", func() bool { return p.count(t, "rejected") == 2 })
			var list struct {
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
			}
			p.api(t, http.MethodGet, "/works?state=rejected&limit=1", "", http.StatusOK, &list)
			var w struct {
				Placements []struct{ State, Error string } `json:"placements"`
			}
			p.api(t, http.MethodGet, fmt.Sprintf("/works/%d", list.Items[0].ID), "", http.StatusOK, &w)
			if !strings.Contains(w.Placements[0].Error, "rita") {
				t.Errorf("rejected placement %+v, want its error to name rita", w.Placements[0])
			}
		})
	}
}
