package db_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// prDB is worksDB with store "repo" sending its writes through pull requests.
func prDB(t *testing.T, tg target) (*db.DB, int64) {
	t.Helper()
	d, tid, _ := worksDB(t, tg)
	ctx := context.Background()
	g, err := d.GitStore(ctx, tid, "repo")
	if err != nil {
		t.Fatal(err)
	}
	g.PullRequest = &tenants.PullRequestSpec{Provider: tenants.ProviderGitea}
	g.Credentials.Password, g.Credentials.WebhookSecret = "token", "hook-secret"
	g.PushInterval = "0s" // these tests run on a frozen clock; TestPullRequestHeadPushesArePaced paces them
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	return d, tid
}

// propose claims the store's job and finishes it as a write to the head branch
// at head: every placement and canary file proposed.
func propose(t *testing.T, d *db.DB, head string, restarted bool) *tenants.Job {
	t.Helper()
	ctx := context.Background()
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if job.PullRequest == nil {
		t.Fatal("the job of a pull-request store does not say so")
	}
	res := tenants.JobResult{Version: "base", Head: head, HeadRestarted: restarted, Changed: true}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete,
			Keys: w.Plan.Keys(), Proposed: true})
	}
	for _, c := range job.Canaries {
		res.Canaries = append(res.Canaries, tenants.CanaryOutcome{ID: c.ID, Generation: c.Generation, Proposed: true})
	}
	if err := d.FinishJob(ctx, job, res); err != nil {
		t.Fatal(err)
	}
	return job
}

func placementOf(t *testing.T, d *db.DB, tid, workID int64) tenants.PlacementView {
	t.Helper()
	w, err := d.Work(context.Background(), tid, workID)
	if err != nil || len(w.Placements) != 1 {
		t.Fatalf("work %d: %v %+v", workID, err, w.Placements)
	}
	return w.Placements[0]
}

// TestPullRequestMergedAndClosed: a merge settles written exactly the
// placements its head carried (those proposed after it took its head are
// proposed again); a close rejects what it carried, naming who closed it,
// until the Work is submitted again, and the next write starts the head anew.
func TestPullRequestMergedAndClosed(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid := prDB(t, tg)
		ctx := context.Background()
		ref := tenants.StoreRef{TenantID: tid, Kind: tenants.KindGit, Name: "repo"}
		first := submit(t, d, tid, resourceWork("one", "dev", "a.yaml", "1"), false).Work
		propose(t, d, "h1", true)
		if err := d.RecordPR(ctx, ref, 7, "https://git.example.com/r/pulls/7", "hash"); err != nil {
			t.Fatal(err)
		}
		second := submit(t, d, tid, resourceWork("two", "dev", "b.yaml", "1"), false).Work
		propose(t, d, "h2", false)
		if p := placementOf(t, d, tid, second); p.State != tenants.StateProposed || p.Version != "h2" ||
			p.PullRequest == nil || p.PullRequest.Number != 7 {
			t.Fatalf("second proposed as %+v", p)
		}
		g, _ := d.GitStore(ctx, tid, "repo")
		if g.PR.Number != 7 || g.PR.Base != "base" {
			t.Fatalf("store pull request %+v", g.PR)
		}
		// A stale number changes nothing.
		if err := d.PRMerged(ctx, ref, 99, "h2", "m0", "x"); err != nil {
			t.Fatal(err)
		}
		if p := placementOf(t, d, tid, first); p.State != tenants.StateProposed {
			t.Fatalf("a merge of another pull request settled %+v", p)
		}
		// The merge took h1: the second Work was pushed after it.
		if err := d.PRMerged(ctx, ref, 7, "h1", "m1", "rita"); err != nil {
			t.Fatal(err)
		}
		if p := placementOf(t, d, tid, first); p.State != tenants.StateWritten || p.Version != "m1" || p.WrittenAt == nil ||
			p.PullRequest == nil || p.PullRequest.Number != 7 {
			t.Errorf("first after the merge: %+v", p)
		}
		if w, err := d.Work(ctx, tid, first); err != nil || !slices.ContainsFunc(w.Versions, func(v tenants.WorkVersion) bool {
			return v.Version == "m1" && !v.Proposed
		}) {
			t.Errorf("the first Work's commits do not list the merge commit: %+v %v", w.Versions, err)
		}
		if p := placementOf(t, d, tid, second); p.State != tenants.StatePending || p.PullRequest != nil {
			t.Errorf("second after the merge: %+v, want pending for the next pull request", p)
		}
		if g, _ := d.GitStore(ctx, tid, "repo"); g.PR.Number != 0 || g.PR.URL != "" {
			t.Errorf("store still shows %+v", g.PR)
		}
		// The next pull request is closed unmerged.
		propose(t, d, "h3", true)
		if err := d.RecordPR(ctx, ref, 8, "https://git.example.com/r/pulls/8", "hash"); err != nil {
			t.Fatal(err)
		}
		if err := d.PRClosed(ctx, ref, 8, "h3", "rita"); err != nil {
			t.Fatal(err)
		}
		p := placementOf(t, d, tid, second)
		if p.State != tenants.StateRejected || !strings.Contains(p.Error, "#8") || !strings.Contains(p.Error, "rita") {
			t.Errorf("second after the close: %+v", p)
		}
		if n, err := d.Outstanding(ctx, tid); err != nil || n == 0 {
			t.Errorf("outstanding %d %v: a rejected placement is not written", n, err)
		}
		// The next write starts the head anew, without the rejected placement
		// (the canary files go to the next pull request)...
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok || !job.PullRequest.ResetHead || len(job.Writes) != 0 || len(job.Canaries) == 0 {
			t.Fatalf("claim after the close: %v %v %+v", ok, err, job)
		}
		if err := d.FinishJob(ctx, job, tenants.JobResult{Version: "base", Head: "h4", HeadRestarted: true, Changed: true}); err != nil {
			t.Fatal(err)
		}
		// ... and it is written again only when its Work is submitted again.
		submit(t, d, tid, resourceWork("two", "dev", "b.yaml", "1"), false)
		job, ok, err = d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok || job.PullRequest.ResetHead || len(job.Writes) != 1 || job.Writes[0].Stuck {
			t.Fatalf("claim after the resubmit: %v %v %+v", ok, err, job)
		}
	})
}

// TestPullRequestStoreLookups: the webhook URL finds its store (and only by
// its random id); one replica at a time looks at a store's pull request.
func TestPullRequestStoreLookups(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid := prDB(t, tg)
		ctx := context.Background()
		g, err := d.GitStore(ctx, tid, "repo")
		if err != nil || len(g.HookID) < 20 {
			t.Fatalf("hook id %q: %v", g.HookID, err)
		}
		found, err := d.GitStoreByHook(ctx, g.HookID)
		if err != nil || found.Name != "repo" || found.TenantID != tid || found.Credentials.WebhookSecret != "hook-secret" {
			t.Fatalf("by hook: %+v %v", found, err)
		}
		for _, id := range []string{"", "nope", strings.ToLower(g.HookID) + "x"} {
			if _, err := d.GitStoreByHook(ctx, id); err == nil {
				t.Errorf("hook id %q found a store", id)
			}
		}
		// Nothing proposed, no pull request: nothing to look at.
		if due, err := d.DuePRChecks(ctx, time.Minute); err != nil || len(due) != 0 {
			t.Fatalf("due with nothing proposed: %v %v", due, err)
		}
		submit(t, d, tid, resourceWork("one", "dev", "a.yaml", "1"), false)
		propose(t, d, "h1", true)
		due, err := d.DuePRChecks(ctx, time.Minute)
		if err != nil || len(due) != 1 || due[0].Name != "repo" {
			t.Fatalf("due: %v %v", due, err)
		}
		if again, _ := d.DuePRChecks(ctx, time.Minute); len(again) != 0 {
			t.Fatalf("a second replica got the same store at once: %v", again)
		}
	})
}

// TestPullRequestMergedBeforeStatewardHeard: a write that finds the old head
// merged into the base (its pull request merged, the webhook not yet in)
// settles what the old head proposed as written and forgets that pull
// request; the Work proposed by this write stays proposed for the next one,
// and a merge reported afterwards for the old number changes nothing. (Before,
// the write relabelled every proposed placement with its new head, and the
// late merge report then marked the new Work written though it was not.)
func TestPullRequestMergedBeforeStatewardHeard(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid := prDB(t, tg)
		ctx := context.Background()
		ref := tenants.StoreRef{TenantID: tid, Kind: tenants.KindGit, Name: "repo"}
		first := submit(t, d, tid, resourceWork("one", "dev", "a.yaml", "1"), false).Work
		propose(t, d, "h1", true)
		if err := d.RecordPR(ctx, ref, 7, "https://git.example.com/r/pulls/7", "hash"); err != nil {
			t.Fatal(err)
		}
		late := submit(t, d, tid, resourceWork("late", "dev", "b.yaml", "1"), false).Work
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		res := tenants.JobResult{Version: "merged-base", Head: "h2", HeadRestarted: true, HeadMerged: true, Changed: true}
		for _, w := range job.Writes {
			res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation,
				Keys: w.Plan.Keys(), Proposed: true})
		}
		if err := d.FinishJob(ctx, job, res); err != nil {
			t.Fatal(err)
		}
		if p := placementOf(t, d, tid, first); p.State != tenants.StateWritten || p.Version != "merged-base" {
			t.Errorf("the merged head's Work: %+v, want written at the base tip", p)
		}
		if p := placementOf(t, d, tid, late); p.State != tenants.StateProposed || p.Version != "h2" {
			t.Errorf("the new head's Work: %+v, want proposed at h2", p)
		}
		if g, _ := d.GitStore(ctx, tid, "repo"); g.PR.Number != 0 {
			t.Errorf("the store still shows the merged pull request #%d", g.PR.Number)
		}
		if err := d.PRMerged(ctx, ref, 7, "person-commit", "m1", "rita"); err != nil {
			t.Fatal(err)
		}
		if p := placementOf(t, d, tid, late); p.State != tenants.StateProposed {
			t.Errorf("a late report of the old merge settled the new Work: %+v", p)
		}
	})
}
