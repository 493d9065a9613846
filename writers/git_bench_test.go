package writers

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// placements1000 is a Batch like 1,000 placements: one file in each of 1,000
// directories, every directory owned by its placement.
func placements1000(version string) Batch {
	b := Batch{Message: "Update from: 1000 placements"}
	for i := range 1000 {
		dir := fmt.Sprintf("clusters/dest-%d/resources/default/promise/req-%04d/main/5058f/", i%10, i)
		b.Puts = append(b.Puts, File{
			Key:     dir + "configmap.yaml",
			Content: fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: req-%04d\ndata:\n  version: %q\n", i, version),
		})
		b.DeletePrefixes = append(b.DeletePrefixes, dir)
	}
	return b
}

// TestGitApply1000Placements measures the first write of 1,000 placements in one
// commit and push over smart HTTP on loopback, and the re-apply of the same content.
func TestGitApply1000Placements(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	b := placements1000("v1")

	start := time.Now()
	res := apply(t, g, b)
	first := time.Since(start)
	if !res.Changed || res.Puts != 1000 {
		t.Fatalf("first write = %+v, want 1000 puts", res)
	}

	start = time.Now()
	again := apply(t, g, b)
	reapply := time.Since(start)
	if again.Changed {
		t.Errorf("re-apply = %+v, want unchanged", again)
	}

	start = time.Now()
	update := apply(t, g, placements1000("v2"))
	second := time.Since(start)
	if update.Puts != 1000 {
		t.Errorf("update = %+v, want 1000 puts", update)
	}

	if n := srv.CommitCount(t, srv.Branch()); n != 3 {
		t.Errorf("commit count = %d, want 3 (initial and two writes)", n)
	}
	if got := len(srv.Files(t, srv.Branch())); got != 1001 {
		t.Errorf("files on branch = %d, want 1001", got)
	}
	t.Logf("1,000 placements: first write %v, idempotent re-apply %v, update of all %v", first, reapply, second)
	if first > 15*time.Second {
		t.Errorf("first write took %v, want well under 15s", first)
	}
}

// BenchmarkGitApply1000 writes 1,000 files in 1,000 directories in one Apply (one
// commit, one push) over smart HTTP on loopback; every iteration changes all files.
func BenchmarkGitApply1000(b *testing.B) {
	srv := gitPeer(b, false)
	g := newTestGit(b, srv, nil)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		res, err := g.Apply(ctx, placements1000(fmt.Sprint(i)))
		if err != nil || res.Puts != 1000 {
			b.Fatalf("Apply = %+v, %v; want 1000 puts", res, err)
		}
	}
}

// BenchmarkGitReapply1000 re-applies 1,000 unchanged files: no commit, no push.
func BenchmarkGitReapply1000(b *testing.B) {
	srv := gitPeer(b, false)
	g := newTestGit(b, srv, nil)
	ctx := context.Background()
	batch := placements1000("same")
	if _, err := g.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err := g.Apply(ctx, batch); err != nil || res.Changed {
			b.Fatalf("Apply = %+v, %v; want unchanged", res, err)
		}
	}
}
