package testpeers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// giteaClone clones the repository of cloneURL as owner with the
// administrator's token and returns the work tree.
func giteaClone(t *testing.T, g *GiteaServer, owner, cloneURL string) string {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	mustGit(t, "", "clone", "--quiet", withCreds(t, cloneURL, owner, g.Token()), wt)
	return wt
}

// commitFile writes file with content in the work tree wt and commits it on the
// current branch; it returns the new commit's id.
func commitFile(t *testing.T, wt, file, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(wt, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, wt, "add", file)
	mustGit(t, wt, "commit", "--quiet", "-m", "add "+file)
	return strings.TrimSpace(mustGit(t, wt, "rev-parse", "HEAD"))
}

// pushBranch commits file on a new branch made from origin/main and pushes
// it; it returns the branch's commit.
func pushBranch(t *testing.T, wt, branch, file, content string) string {
	t.Helper()
	mustGit(t, wt, "checkout", "--quiet", "-b", branch, "origin/main")
	head := commitFile(t, wt, file, content)
	mustGit(t, wt, "push", "--quiet", "origin", branch)
	return head
}

// openPull opens a pull request from head into main as the administrator.
func openPull(t *testing.T, g *GiteaServer, owner, name, head string) GiteaPull {
	t.Helper()
	var p GiteaPull
	g.MustCall(t, g.Token(), http.MethodPost, "/repos/"+owner+"/"+name+"/pulls", map[string]any{
		"head": head, "base": "main", "title": "Stateward: " + head, "body": "Written by a test.",
	}, http.StatusCreated, &p)
	return p
}

// mergePull merges pull request number as the administrator. Gitea answers
// "Please try again later" while it (re)checks the pull request — even after it
// said mergeable — so that answer is asked again (for at most a minute) and the
// one that counts is returned.
func mergePull(g *GiteaServer, owner, name string, number int64) error {
	var err error
	Poll(60*time.Second, 100*time.Millisecond, func() bool {
		err = g.Call(g.Token(), http.MethodPost, fmt.Sprintf("/repos/%s/%s/pulls/%d/merge", owner, name, number),
			map[string]any{"Do": "merge"}, http.StatusOK, nil)
		return err == nil || !strings.Contains(err.Error(), "try again later")
	})
	return err
}

func approvePull(t *testing.T, g *GiteaServer, token, owner, name string, number int64) {
	t.Helper()
	g.MustCall(t, token, http.MethodPost, fmt.Sprintf("/repos/%s/%s/pulls/%d/reviews", owner, name, number),
		map[string]any{"event": "APPROVED", "body": "Looks right."}, http.StatusOK, nil)
}

// wantRefused checks that err is Gitea's 405 with a message containing want.
func wantRefused(t *testing.T, err error, want string) {
	t.Helper()
	var apiErr *GiteaAPIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("merge error = %v, want a 405 answer saying %q", err, want)
	}
	if apiErr.Status != http.StatusMethodNotAllowed || !strings.Contains(apiErr.Message, want) {
		t.Fatalf("merge answered %d %q, want 405 saying %q", apiErr.Status, apiErr.Message, want)
	}
}

func TestGiteaProtectedMainTakesReviewedPullRequests(t *testing.T) {
	g := Gitea(t)
	t.Logf("Gitea %s at %s started in %s", GiteaVersion, g.URL(), g.StartTime().Round(time.Millisecond))
	if !strings.HasPrefix(g.URL(), "http://127.0.0.1:") || g.APIURL() != g.URL()+"/api/v1" {
		t.Fatalf("URL() = %q, APIURL() = %q; want http://127.0.0.1:PORT and it + /api/v1", g.URL(), g.APIURL())
	}
	owner, name, cloneURL := g.NewRepo(t, true)
	reviewer, reviewerToken := g.NewUser(t)
	g.AddCollaborator(t, owner, name, reviewer, "write")
	hooks := NewWebhookRecorder(t)
	secret := randomName(24)
	g.AddWebhook(t, owner, name, hooks.URL(), secret, "pull_request")

	// The repository starts with one commit on main.
	wt := giteaClone(t, g, owner, cloneURL)
	base := g.BranchCommit(t, owner, name, "main")
	if got := strings.TrimSpace(mustGit(t, wt, "rev-parse", "origin/main")); got != base {
		t.Fatalf("clone's origin/main = %s, want Gitea's main %s", got, base)
	}
	if got := strings.TrimSpace(mustGit(t, wt, "rev-list", "--count", "origin/main")); got != "1" {
		t.Fatalf("main has %s commits, want 1", got)
	}

	// Nobody pushes to the protected main, not even its administrator owner.
	commitFile(t, wt, "direct.txt", "pushed straight to main\n")
	out, err := gitCLI(t, wt, "push", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out, "protected branch") {
		t.Fatalf("push to protected main: err = %v, output:\n%s\nwant a refusal naming the protected branch", err, out)
	}
	if got := g.BranchCommit(t, owner, name, "main"); got != base {
		t.Fatalf("main = %s after a refused push, want %s", got, base)
	}

	// A branch and a pull request.
	head := pushBranch(t, wt, "stateward/gitops", "works.yaml", "kind: Work\n")
	pull := openPull(t, g, owner, name, "stateward/gitops")
	if pull.Number == 0 || pull.State != "open" || pull.Head.SHA != head {
		t.Fatalf("opened pull request = %+v, want an open one at %s", pull, head)
	}
	g.WaitMergeable(t, owner, name, pull.Number, 60*time.Second)

	// Without an approval the merge is refused.
	wantRefused(t, mergePull(g, owner, name, pull.Number), "Does not have enough approvals")
	if p := g.Pull(t, owner, name, pull.Number); p.Merged || p.State != "open" {
		t.Fatalf("pull request after a refused merge = %+v, want open and not merged", p)
	}

	// The second person approves; now the merge goes through.
	approvePull(t, g, reviewerToken, owner, name, pull.Number)
	if err := mergePull(g, owner, name, pull.Number); err != nil {
		t.Fatalf("merge after approval: %v", err)
	}
	merged := time.Now()
	p := g.Pull(t, owner, name, pull.Number)
	if !p.Merged || p.State != "closed" || p.MergeCommitSHA == "" {
		t.Fatalf("pull request after the merge = %+v, want merged and closed with a merge commit", p)
	}
	if got := g.BranchCommit(t, owner, name, "main"); got != p.MergeCommitSHA {
		t.Fatalf("main = %s, want the merge commit %s", got, p.MergeCommitSHA)
	}
	mustGit(t, wt, "fetch", "--quiet", "origin")
	parents := strings.Fields(mustGit(t, wt, "rev-list", "--parents", "-n", "1", "origin/main"))
	if want := []string{p.MergeCommitSHA, base, head}; strings.Join(parents, " ") != strings.Join(want, " ") {
		t.Fatalf("origin/main and its parents = %v, want the merge commit of main %s and the branch %s: %v", parents, base, head, want)
	}
	if got := mustGit(t, wt, "show", "origin/main:works.yaml"); got != "kind: Work\n" {
		t.Fatalf("works.yaml on main = %q, want the branch's content", got)
	}

	// The merge reaches the webhook, signed with the secret.
	d := hooks.Wait(t, 30*time.Second, func(d WebhookDelivery) bool {
		var ev struct {
			Action      string `json:"action"`
			PullRequest struct {
				Merged bool `json:"merged"`
			} `json:"pull_request"`
		}
		return d.Header.Get("X-Gitea-Event") == "pull_request" &&
			json.Unmarshal(d.Body, &ev) == nil && ev.Action == "closed" && ev.PullRequest.Merged
	})
	t.Logf("merge webhook delivered %s after the merge answered", d.Received.Sub(merged).Round(time.Millisecond))
	var ev struct {
		Number      int64 `json:"number"`
		PullRequest struct {
			MergeCommitSHA string `json:"merge_commit_sha"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Number != pull.Number || ev.PullRequest.MergeCommitSHA != p.MergeCommitSHA {
		t.Fatalf("webhook names pull request %d merged as %s, want %d merged as %s",
			ev.Number, ev.PullRequest.MergeCommitSHA, pull.Number, p.MergeCommitSHA)
	}
	for i, d := range hooks.Deliveries() {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(d.Body)
		want := hex.EncodeToString(mac.Sum(nil))
		if got := d.Header.Get("X-Gitea-Signature"); got != want {
			t.Errorf("delivery %d (%s): X-Gitea-Signature = %q, want HMAC-SHA256 of the body %q",
				i, d.Header.Get("X-Gitea-Event"), got, want)
		}
	}
}

func TestGiteaHeadBranchBehindMainIsNotMerged(t *testing.T) {
	g := Gitea(t)
	owner, name, cloneURL := g.NewRepo(t, true)
	reviewer, reviewerToken := g.NewUser(t)
	g.AddCollaborator(t, owner, name, reviewer, "write")
	wt := giteaClone(t, g, owner, cloneURL)

	// Two branches from the same main; once the first is merged, the second
	// is behind main. Its pull request is opened only then, so that Gitea's
	// check of it (WaitMergeable) has seen main move.
	pushBranch(t, wt, "first", "first.txt", "first\n")
	pushBranch(t, wt, "second", "second.txt", "second\n")
	first := openPull(t, g, owner, name, "first")
	approvePull(t, g, reviewerToken, owner, name, first.Number)
	g.WaitMergeable(t, owner, name, first.Number, 60*time.Second)
	if err := mergePull(g, owner, name, first.Number); err != nil {
		t.Fatalf("merge the first pull request: %v", err)
	}
	second := openPull(t, g, owner, name, "second")
	approvePull(t, g, reviewerToken, owner, name, second.Number)
	g.WaitMergeable(t, owner, name, second.Number, 60*time.Second)
	wantRefused(t, mergePull(g, owner, name, second.Number), "behind")
	if p := g.Pull(t, owner, name, second.Number); p.Merged {
		t.Fatalf("second pull request merged although behind main: %+v", p)
	}
}

func TestGiteaUnprotectedMainTakesPushes(t *testing.T) {
	g := Gitea(t)
	owner, name, cloneURL := g.NewRepo(t, false)
	wt := giteaClone(t, g, owner, cloneURL)
	head := commitFile(t, wt, "direct.txt", "pushed straight to main\n")
	mustGit(t, wt, "push", "--quiet", "origin", "HEAD:main")
	if got := g.BranchCommit(t, owner, name, "main"); got != head {
		t.Fatalf("main = %s after the push, want %s", got, head)
	}
}
