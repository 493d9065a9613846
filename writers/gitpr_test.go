package writers

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stateward/stateward/testpeers"
)

// prGit is a pull-request store on srv: writes go to head "stateward/prs".
func prGit(t *testing.T, srv *testpeers.GitServer) *Git {
	return newTestGit(t, srv, func(c *GitConfig) { c.HeadBranch = "stateward/prs" })
}

func keys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

func TestHeadBranchWrites(t *testing.T) {
	srv := gitPeer(t, false)
	base := srv.Head(t, srv.Branch())
	baseFiles := srv.Files(t, srv.Branch())
	g := prGit(t, srv)

	// The first write opens the head branch on the base; the base is untouched.
	res := apply(t, g, puts("one", "a.yaml", "a"))
	if res.Version != base || res.Head == "" || !res.HeadRestarted || !slices.Equal(keys(res.Proposed), []string{"a.yaml"}) {
		t.Fatalf("first write: %+v", res)
	}
	if srv.Head(t, srv.Branch()) != base {
		t.Fatal("the base branch moved")
	}
	if got := srv.Head(t, "stateward/prs"); got != res.Head {
		t.Fatalf("head branch at %s, want %s", got, res.Head)
	}
	// The next one is one more commit on the head (a fast-forward).
	first := res.Head
	res = apply(t, g, puts("two", "b.yaml", "b"))
	if res.HeadRestarted || !slices.Equal(keys(res.Proposed), []string{"a.yaml", "b.yaml"}) {
		t.Fatalf("second write: %+v", res)
	}
	if n := srv.CommitCount(t, "stateward/prs") - srv.CommitCount(t, srv.Branch()); n != 2 {
		t.Fatalf("head is %d commits ahead, want 2", n)
	}
	if !srv.IsAncestor(t, first, res.Head) {
		t.Fatal("the second write did not build on the first")
	}
	// No drift: nothing changes, nothing is pushed.
	again := apply(t, g, puts("two", "b.yaml", "b"))
	if again.Changed || again.Head != res.Head {
		t.Fatalf("re-assert changed the head: %+v", again)
	}
	// What the base holds already is not proposed.
	for k, v := range baseFiles {
		same := apply(t, g, puts("same", k, v))
		if same.Proposed[k] {
			t.Fatalf("%s is proposed with the base's content", k)
		}
		break
	}
}

func TestHeadBranchNothingToPropose(t *testing.T) {
	srv := gitPeer(t, false)
	g := prGit(t, srv)
	var k, v string
	for k, v = range srv.Files(t, srv.Branch()) {
		break
	}
	res := apply(t, g, puts("same", k, v))
	if res.Proposed != nil || res.Head != "" || res.Changed {
		t.Fatalf("%+v", res)
	}
	if srv.Head(t, "stateward/prs") != "" {
		t.Fatal("a head branch was pushed with nothing to propose")
	}
}

func TestHeadBranchRebuiltWhenBaseMoves(t *testing.T) {
	srv := gitPeer(t, false)
	g := prGit(t, srv)
	apply(t, g, puts("one", "a.yaml", "a", "gone.yaml", "x"))
	apply(t, g, Batch{Message: "two", Deletes: []string{"gone.yaml"}, Puts: []File{{Key: "b.yaml", Content: []byte("b")}}})
	srv.PushOutside(t, "human.yaml", "kept")
	res := apply(t, g, puts("three", "c.yaml", "c"))
	if !res.HeadRestarted || !res.HeadCarried || res.HeadMerged {
		t.Fatalf("not rebuilt (carrying the old proposals): %+v", res)
	}
	if msg := srv.LastCommit(t, "stateward/prs").Message; !strings.HasPrefix(msg, "Rebuild stateward/prs on "+srv.Branch()) || !strings.Contains(msg, "three") {
		t.Errorf("rebuild commit message %q", msg)
	}
	tip := srv.Head(t, srv.Branch())
	if res.Version != tip || !srv.IsAncestor(t, tip, res.Head) {
		t.Fatal("the head was not rebuilt on the new base tip")
	}
	files := srv.Files(t, "stateward/prs")
	for k, want := range map[string]string{"human.yaml": "kept", "a.yaml": "a", "b.yaml": "b", "c.yaml": "c"} {
		if files[k] != want {
			t.Errorf("head %s = %q, want %q", k, files[k], want)
		}
	}
	if _, ok := files["gone.yaml"]; ok {
		t.Error("a file the head removed came back")
	}
	if srv.Files(t, srv.Branch())["human.yaml"] != "kept" {
		t.Error("the human commit on the base is gone")
	}
}

func TestHeadBranchAfterMerge(t *testing.T) {
	for _, squash := range []bool{false, true} {
		srv := gitPeer(t, false)
		g := prGit(t, srv)
		apply(t, g, puts("one", "a.yaml", "a"))
		merged := srv.MergeOutside(t, "stateward/prs", srv.Branch(), squash)
		res := apply(t, g, puts("two", "b.yaml", "b"))
		// A merge commit leaves the old head on the base (merged); a squash
		// does not, and the head is rebuilt, carrying what is on the base now.
		if res.Version != merged || !slices.Equal(keys(res.Proposed), []string{"b.yaml"}) || !srv.IsAncestor(t, merged, res.Head) ||
			res.HeadMerged == squash || res.HeadCarried != squash {
			t.Fatalf("squash %v: after the merge %+v", squash, res)
		}
		// Re-asserting the merged content proposes nothing.
		if res := apply(t, g, puts("a", "a.yaml", "a")); res.Proposed["a.yaml"] {
			t.Fatalf("squash %v: merged content proposed again", squash)
		}
	}
}

func TestHeadBranchForeignCommitStops(t *testing.T) {
	srv := gitPeer(t, false)
	g := prGit(t, srv)
	apply(t, g, puts("one", "a.yaml", "a"))
	srv.CommitOutside(t, "stateward/prs", "review-fix.yaml", "by a person")
	before := srv.Head(t, "stateward/prs")
	for _, reset := range []bool{false, true} {
		b := puts("two", "b.yaml", "b")
		b.ResetHead = reset
		_, err := g.Apply(context.Background(), b)
		var foreign *ForeignCommitError
		if !errors.As(err, &foreign) || foreign.Who != testpeers.OutsideAuthorName+" <"+testpeers.OutsideAuthorEmail+">" {
			t.Fatalf("reset %v: %v, want a ForeignCommitError naming the person", reset, err)
		}
	}
	if srv.Head(t, "stateward/prs") != before {
		t.Fatal("the person's commit was discarded")
	}
}

func TestHeadBranchReset(t *testing.T) {
	srv := gitPeer(t, false)
	g := prGit(t, srv)
	apply(t, g, puts("one", "a.yaml", "a"))
	b := puts("two", "b.yaml", "b")
	b.ResetHead = true
	res := apply(t, g, b)
	if !res.HeadRestarted || !slices.Equal(keys(res.Proposed), []string{"b.yaml"}) {
		t.Fatalf("%+v", res)
	}
	if _, ok := srv.Files(t, "stateward/prs")["a.yaml"]; ok {
		t.Fatal("the closed pull request's change is proposed again")
	}
	// Nothing left to propose after a close: the head branch goes.
	var k, v string
	for k, v = range srv.Files(t, srv.Branch()) {
		break
	}
	b = puts("same", k, v)
	b.ResetHead = true
	if res := apply(t, g, b); res.Head != "" {
		t.Fatalf("%+v", res)
	}
	if srv.Head(t, "stateward/prs") != "" {
		t.Fatal("the head branch of the closed pull request is still there")
	}
}
