package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

// prTeam is a team on a Stateward instance with a pull-request store on a real
// Gitea whose main is protected (one approval, no pushes, outdated branches
// not mergeable), and a reviewer who may approve and merge.
type prTeam struct {
	in               *instance
	g                *testpeers.GiteaServer
	token            string // Stateward API token
	owner, repo      string
	reviewer, review string // Gitea login and token
}

func newPRTeam(t *testing.T, webhookSecret, merge string, env ...string) *prTeam {
	t.Helper()
	g := testpeers.Gitea(t)
	owner, repo, cloneURL := g.NewRepo(t, true)
	reviewer, review := g.NewUser(t)
	g.AddCollaborator(t, owner, repo, reviewer, "write")
	in, token := startTeam(t, env...)
	p := &prTeam{in: in, g: g, token: token, owner: owner, repo: repo, reviewer: reviewer, review: review}
	p.api(t, http.MethodPost, "/apply", prStoreYAML(g.Admin(), g.Token(), webhookSecret, cloneURL,
		"{provider: gitea, labels: [gitops, stateward], merge: "+merge+"}"), http.StatusOK, nil)
	return p
}

// startTeam starts an instance that may reach loopback stores, with team
// gitops and an editor's API token.
func startTeam(t *testing.T, env ...string) (*instance, string) {
	t.Helper()
	in := start(t, append([]string{"STATEWARD_ALLOW_PRIVATE_ENDPOINTS", "true"}, env...)...)
	if _, err := in.cli(t, "tenant", "create", "gitops", "--owner", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	tok, err := in.cli(t, "token", "create", "--tenant", "gitops", "--role", "editor")
	if err != nil {
		t.Fatal(err)
	}
	return in, strings.TrimSpace(tok)
}

// prStoreYAML is a pull-request store gitops at url (its Secret: user,
// password and, unless empty, webhookSecret; pullRequest its spec) with two
// Destinations, dev and prod.
func prStoreYAML(user, password, webhookSecret, url, pullRequest string) string {
	secret := ""
	if webhookSecret != "" {
		secret = ", webhookSecret: " + webhookSecret
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: host}
stringData: {username: %s, password: %s%s}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: gitops}
spec:
  url: %s
  branch: main
  insecure: true
  secretRef: {name: host}
  pullRequest: %s
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {env: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: gitops}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {env: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: gitops}}
`, user, password, secret, url, pullRequest)
}

// api calls Stateward's API for the team; body is JSON or YAML text.
func (p *prTeam) api(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.in.URL+"/api/v1/tenants/gitops"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// submit submits n Works named prefix-i, alternating between the
// Destinations, 8 at a time.
func (p *prTeam) submit(t *testing.T, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		env := []string{"dev", "prod"}[i%2]
		body := fmt.Sprintf(`{"promise":"app","resource":{"namespace":"default","name":"%s-%d"},
			"destinationSelectors":{"env":"%s"},"files":[{"path":"app.yaml","content":"kind: ConfigMap\nname: %s-%d\n"}]}`,
			prefix, i, env, prefix, i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.api(t, http.MethodPost, "/works", body, http.StatusAccepted, nil)
		})
	}
	wg.Wait()
}

// count is how many Works are in state (the API's ?state filter).
func (p *prTeam) count(t *testing.T, state string) int {
	t.Helper()
	var page struct {
		Total int `json:"total"`
	}
	p.api(t, http.MethodGet, "/works?state="+state+"&limit=1", "", http.StatusOK, &page)
	return page.Total
}

type storeStatus struct {
	PullRequest *struct {
		Number     int    `json:"number"`
		URL        string `json:"url"`
		HeadBranch string `json:"headBranch"`
	} `json:"pullRequest"`
	WebhookURL string `json:"webhookURL"`
	Webhook    string `json:"webhook"`
	Warning    string `json:"pullRequestWarning"`
}

func (p *prTeam) store(t *testing.T) storeStatus {
	t.Helper()
	var obj struct {
		Status storeStatus `json:"status"`
	}
	p.api(t, http.MethodGet, "/gitstatestores/gitops", "", http.StatusOK, &obj)
	return obj.Status
}

// waitFor polls ok until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	if !testpeers.Poll(within, 50*time.Millisecond, ok) {
		t.Fatalf("%s: not within %s", what, within)
	}
}

type giteaPR struct {
	Number int64  `json:"number"`
	State  string `json:"state"`
	Merged bool   `json:"merged"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Head   struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

func (p *prTeam) pulls(t *testing.T) []giteaPR {
	t.Helper()
	var prs []giteaPR
	p.g.MustCall(t, p.g.Token(), http.MethodGet, "/repos/"+p.owner+"/"+p.repo+"/pulls?state=all&limit=50", nil, http.StatusOK, &prs)
	return prs
}

// mergeAsReviewer approves pull request number and merges it as the reviewer
// as soon as Gitea lets them (it refuses while it checks the branch, and while
// the branch is behind main); it returns when the merge was answered.
func (p *prTeam) mergeAsReviewer(t *testing.T, number int64) time.Time {
	t.Helper()
	repo := fmt.Sprintf("/repos/%s/%s/pulls/%d", p.owner, p.repo, number)
	p.g.MustCall(t, p.review, http.MethodPost, repo+"/reviews", map[string]any{"event": "APPROVED", "body": "Looks right."}, http.StatusOK, nil)
	var lastErr error
	var at time.Time
	waitFor(t, 90*time.Second, "the reviewer's merge", func() bool {
		lastErr = p.g.Call(p.review, http.MethodPost, repo+"/merge", map[string]any{"Do": "merge"}, http.StatusOK, nil)
		at = time.Now()
		return lastErr == nil
	})
	return at
}

// humanChange is a person's change merged to main through their own reviewed
// pull request while Stateward's is open: main moves under it.
func (p *prTeam) humanChange(t *testing.T, file string) {
	t.Helper()
	repo := "/repos/" + p.owner + "/" + p.repo
	p.g.MustCall(t, p.g.Token(), http.MethodPost, repo+"/contents/"+file, map[string]any{
		"branch": "main", "new_branch": "human", "message": "A person's change",
		"content": base64.StdEncoding.EncodeToString([]byte("written by a person\n")),
	}, http.StatusCreated, nil)
	var pr giteaPR
	p.g.MustCall(t, p.g.Token(), http.MethodPost, repo+"/pulls", map[string]any{"head": "human", "base": "main", "title": "A person's change"},
		http.StatusCreated, &pr)
	p.mergeAsReviewer(t, pr.Number)
}

// TestPullRequestStoreThroughReview is issue 24's check against a real Gitea
// with a protected main: 200 Works on two Destinations make one pull request
// (not 200); they stay proposed until a reviewer merges it, a person's change
// merged to main meanwhile is kept (the head is rebuilt on it), and the merge
// webhook turns every Work written within 2 s; a pull request closed unmerged
// turns its Works rejected, naming who closed it.
func TestPullRequestStoreThroughReview(t *testing.T) {
	p := newPRTeam(t, "hook-s3cret", "manual")
	mainBefore := p.g.BranchCommit(t, p.owner, p.repo, "main")
	p.submit(t, "app", 200)
	waitFor(t, 90*time.Second, "200 Works proposed with a pull request", func() bool {
		return p.count(t, "proposed") == 200 && p.store(t).PullRequest != nil
	})
	// The title and body follow the Works as they come (an edit waits for the host's pace).
	waitFor(t, 30*time.Second, "the pull request to count 200 Works", func() bool {
		prs := p.pulls(t)
		return len(prs) > 0 && strings.Contains(prs[0].Title, "200 Works")
	})
	st := p.store(t)
	prs := p.pulls(t)
	if len(prs) != 1 || prs[0].State != "open" || prs[0].Head.Ref != "stateward/gitops" || st.PullRequest.Number != int(prs[0].Number) {
		t.Fatalf("pull requests on Gitea: %+v (store says %+v), want one open from stateward/gitops", prs, st.PullRequest)
	}
	if st.Webhook != "registered" || !strings.Contains(st.WebhookURL, "/hooks/git/") {
		t.Errorf("webhook %q at %q, want registered under /hooks/git/", st.Webhook, st.WebhookURL)
	}
	pr := prs[0]
	for _, want := range []string{"200 Works", "`dev` | 100 | 100 | 0 | 0", "`prod` | 100 | 100 | 0 | 0", "requested by token"} {
		if !strings.Contains(pr.Title+"\n"+pr.Body, want) {
			t.Errorf("pull request title/body lacks %q:\n%s\n%s", want, pr.Title, pr.Body)
		}
	}
	if len(pr.Labels) != 2 {
		t.Errorf("labels %+v, want gitops and stateward", pr.Labels)
	}
	if got := p.g.BranchCommit(t, p.owner, p.repo, "main"); got != mainBefore {
		t.Fatal("main moved before anyone merged")
	}
	if n := p.count(t, "written"); n != 0 {
		t.Fatalf("%d Works written before the merge", n)
	}

	p.humanChange(t, "HUMAN.md")
	// A second receiver of the same webhooks tells when Gitea delivered the merge.
	rec := testpeers.NewWebhookRecorder(t)
	p.g.AddWebhook(t, p.owner, p.repo, rec.URL(), "other", "pull_request")
	merged := p.mergeAsReviewer(t, pr.Number)
	waitFor(t, 60*time.Second, "200 Works written after the merge", func() bool { return p.count(t, "written") == 200 })
	written := time.Now()
	delivery := rec.Wait(t, 10*time.Second, func(d testpeers.WebhookDelivery) bool {
		var ev struct {
			PullRequest struct {
				Merged bool `json:"merged"`
			} `json:"pull_request"`
		}
		return json.Unmarshal(d.Body, &ev) == nil && ev.PullRequest.Merged
	})
	took := written.Sub(delivery.Received)
	t.Logf("200 Works written %s after the merge, %s after Gitea delivered its webhook", written.Sub(merged).Round(time.Millisecond),
		took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("merge noticed %s after its webhook, want < 2s", took)
	}
	if len(p.pulls(t)) != 2 { // ours and the person's
		t.Errorf("pull requests: %+v, want Stateward's one and the person's", p.pulls(t))
	}
	mainTip := p.g.BranchCommit(t, p.owner, p.repo, "main")
	var work struct {
		Placements []struct {
			State       string `json:"state"`
			Version     string `json:"version"`
			PullRequest *struct {
				Number int    `json:"number"`
				URL    string `json:"url"`
			} `json:"pullRequest"`
		} `json:"placements"`
	}
	var list struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	p.api(t, http.MethodGet, "/works?limit=1", "", http.StatusOK, &list)
	p.api(t, http.MethodGet, fmt.Sprintf("/works/%d", list.Items[0].ID), "", http.StatusOK, &work)
	if pl := work.Placements[0]; pl.State != "written" || pl.Version != mainTip || pl.PullRequest == nil || pl.PullRequest.Number != int(pr.Number) {
		t.Errorf("placement %+v, want written at the merge commit %s by #%d", pl, mainTip, pr.Number)
	}
	files := p.repoFiles(t)
	if !files["HUMAN.md"] || len(files) < 200 {
		t.Errorf("main lacks the person's file or the Works: %d files", len(files))
	}

	// A pull request closed unmerged: its Works are rejected, naming who.
	p.submit(t, "late", 4)
	waitFor(t, 60*time.Second, "4 more Works proposed in a new pull request", func() bool {
		st := p.store(t)
		return p.count(t, "proposed") == 4 && st.PullRequest != nil && st.PullRequest.Number != int(pr.Number)
	})
	second := p.store(t).PullRequest.Number
	p.g.MustCall(t, p.review, http.MethodPatch, fmt.Sprintf("/repos/%s/%s/pulls/%d", p.owner, p.repo, second),
		map[string]any{"state": "closed"}, http.StatusCreated, nil)
	waitFor(t, 40*time.Second, "4 Works rejected", func() bool { return p.count(t, "rejected") == 4 })
	var rejected struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	p.api(t, http.MethodGet, "/works?state=rejected&limit=1", "", http.StatusOK, &rejected)
	var rw struct {
		Placements []struct {
			State, Error string
		} `json:"placements"`
	}
	p.api(t, http.MethodGet, fmt.Sprintf("/works/%d", rejected.Items[0].ID), "", http.StatusOK, &rw)
	if pl := rw.Placements[0]; pl.State != "rejected" || !strings.Contains(pl.Error, p.reviewer) {
		t.Errorf("rejected placement %+v, want its error to name %s", pl, p.reviewer)
	}
	if st := p.store(t); st.PullRequest != nil {
		t.Errorf("the store still shows pull request %+v", st.PullRequest)
	}
}

// repoFiles lists the files on main of the team's repository.
func (p *prTeam) repoFiles(t *testing.T) map[string]bool {
	t.Helper()
	var tree struct {
		Tree []struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"tree"`
	}
	p.g.MustCall(t, p.g.Token(), http.MethodGet, "/repos/"+p.owner+"/"+p.repo+"/git/trees/main?recursive=true&per_page=10000", nil, http.StatusOK, &tree)
	out := map[string]bool{}
	for _, e := range tree.Tree {
		if e.Type == "blob" {
			out[e.Path] = true
		}
	}
	return out
}

// TestPullRequestMergeNoticedByPolling: without a webhook (the store's Secret
// has no webhookSecret, so Stateward registers none and says so), a merge is
// noticed by looking at the pull request at most every 30 s.
func TestPullRequestMergeNoticedByPolling(t *testing.T) {
	p := newPRTeam(t, "", "manual")
	p.submit(t, "app", 2)
	waitFor(t, 60*time.Second, "2 Works proposed with a pull request", func() bool {
		return p.count(t, "proposed") == 2 && p.store(t).PullRequest != nil
	})
	st := p.store(t)
	if !strings.Contains(st.Webhook, "not registered") || !strings.Contains(st.Webhook, "webhookSecret") {
		t.Errorf("webhook status %q, want it to say that no webhookSecret means no webhook", st.Webhook)
	}
	if hooks := p.hooks(t); len(hooks) != 0 {
		t.Errorf("webhooks registered without a secret: %v", hooks)
	}
	merged := p.mergeAsReviewer(t, int64(st.PullRequest.Number))
	waitFor(t, 40*time.Second, "2 Works written after the merge", func() bool { return p.count(t, "written") == 2 })
	took := time.Since(merged)
	t.Logf("merge to 2 Works written: %s (polling)", took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("merge noticed after %s, want at most 30s without a webhook", took)
	}
}

// TestPullRequestAutoMergeAndAPersonsCommit: with merge: auto Stateward merges
// once the host allows it (here: after the required approval), never before;
// a commit by a person on the head branch stops Stateward from updating the
// pull request (a comment says why, the store shows a warning, the person's
// commit is kept) until a person merges it, after which the Work that waited
// is proposed again.
func TestPullRequestAutoMergeAndAPersonsCommit(t *testing.T) {
	p := newPRTeam(t, "hook-s3cret", "auto")
	p.submit(t, "app", 2)
	waitFor(t, 60*time.Second, "2 Works proposed with a pull request", func() bool {
		return p.count(t, "proposed") == 2 && p.store(t).PullRequest != nil
	})
	number := p.store(t).PullRequest.Number
	repo := fmt.Sprintf("/repos/%s/%s", p.owner, p.repo)
	// A person commits to the head branch (a review fix), then another Work arrives.
	p.g.MustCall(t, p.g.Token(), http.MethodPost, repo+"/contents/REVIEW-FIX.md", map[string]any{
		"branch": "stateward/gitops", "message": "Review fix", "author": map[string]string{"name": "Rita Reviewer", "email": "rita@example.com"},
		"committer": map[string]string{"name": "Rita Reviewer", "email": "rita@example.com"},
		"content":   base64.StdEncoding.EncodeToString([]byte("fixed by a person\n")),
	}, http.StatusCreated, nil)
	personsHead := p.g.BranchCommit(t, p.owner, p.repo, "stateward/gitops")
	p.submit(t, "late", 1)
	waitFor(t, 60*time.Second, "the store's warning", func() bool { return p.store(t).Warning != "" })
	if w := p.store(t).Warning; !strings.Contains(w, "Rita Reviewer") {
		t.Errorf("warning %q does not name the person", w)
	}
	waitFor(t, 60*time.Second, "Stateward's comment on the pull request", func() bool {
		var comments []struct{ Body string }
		p.g.MustCall(t, p.g.Token(), http.MethodGet, fmt.Sprintf("%s/issues/%d/comments", repo, number), nil, http.StatusOK, &comments)
		return len(comments) == 1 && strings.Contains(comments[0].Body, "Rita Reviewer")
	})
	if got := p.g.BranchCommit(t, p.owner, p.repo, "stateward/gitops"); got != personsHead {
		t.Fatalf("the head branch moved from the person's commit %s to %s", personsHead, got)
	}
	if p.count(t, "written") != 0 {
		t.Fatal("auto merge before the required approval")
	}
	// The approval makes it mergeable: Stateward merges it itself.
	p.g.MustCall(t, p.review, http.MethodPost, fmt.Sprintf("%s/pulls/%d/reviews", repo, number),
		map[string]any{"event": "APPROVED", "body": "Looks right."}, http.StatusOK, nil)
	// Stateward does not merge a pull request carrying someone else's commit:
	// a person does; then the Work that waited goes out in a new pull request.
	p.mergeAsReviewer(t, int64(number))
	waitFor(t, 60*time.Second, "2 Works written", func() bool { return p.count(t, "written") == 2 })
	waitFor(t, 60*time.Second, "the waiting Work proposed again", func() bool {
		st := p.store(t)
		return st.Warning == "" && p.count(t, "proposed") == 1 && st.PullRequest != nil && st.PullRequest.Number != number
	})
	second := p.store(t).PullRequest.Number
	files := p.repoFiles(t)
	if !files["REVIEW-FIX.md"] {
		t.Error("the person's commit is not on main")
	}
	p.g.MustCall(t, p.review, http.MethodPost, fmt.Sprintf("%s/pulls/%d/reviews", repo, second),
		map[string]any{"event": "APPROVED", "body": "Looks right."}, http.StatusOK, nil)
	approved := time.Now()
	waitFor(t, 60*time.Second, "auto merge of the second pull request", func() bool { return p.count(t, "written") == 3 })
	t.Logf("approval to written with merge: auto: %s", time.Since(approved).Round(time.Millisecond))
	var pr giteaPR
	p.g.MustCall(t, p.g.Token(), http.MethodGet, fmt.Sprintf("%s/pulls/%d", repo, second), nil, http.StatusOK, &pr)
	if !pr.Merged {
		t.Errorf("pull request #%d not merged on Gitea", second)
	}
}

// hooks lists the webhooks of the team's repository.
func (p *prTeam) hooks(t *testing.T) []string {
	t.Helper()
	var hooks []struct {
		Config map[string]string `json:"config"`
	}
	p.g.MustCall(t, p.g.Token(), http.MethodGet, "/repos/"+p.owner+"/"+p.repo+"/hooks", nil, http.StatusOK, &hooks)
	var out []string
	for _, h := range hooks {
		out = append(out, h.Config["url"])
	}
	return out
}
