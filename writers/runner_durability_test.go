package writers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

func burst(e *engine, t testing.TB, n int, version string) []int64 {
	ids := make([]int64, n)
	for i := range n {
		res := e.submit(t, work(fmt.Sprintf("req-%03d", i), nil, "cm.yaml", fmt.Sprintf("n: %d\nv: %s\n", i, version)))
		ids[i] = res.Work
	}
	return ids
}

func putCount(t testing.TB, e *engine, kind string) float64 {
	var m dto.Metric
	if err := e.metrics.objects.WithLabelValues(kind, "put").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestRunnerIdempotentRewrite: submitting the same Works again makes no commit and
// no PUT; a burst is written in far fewer commits than Works.
func TestRunnerIdempotentRewrite(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEngine(t)
			s := be.make(t, e)
			e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
			e.start(t, nil)
			burst(e, t, 50, "1")
			e.drain(t, 60*time.Second)
			if got := len(s.files(t)); got != 50 {
				t.Fatalf("store holds %d files, want 50", got)
			}
			commits, written := 0, putCount(t, e, s.kind)
			if s.commits != nil {
				commits = s.commits(t)
				if commits >= 25 {
					t.Errorf("50 Works took %d commits, want them batched", commits)
				}
			}
			burst(e, t, 50, "1")
			e.drain(t, 60*time.Second)
			if s.commits != nil && s.commits(t) != commits {
				t.Errorf("re-submit made commits: %d → %d", commits, s.commits(t))
			}
			if got := putCount(t, e, s.kind); got != written {
				t.Errorf("re-submit wrote %v objects, want 0", got-written)
			}
		})
	}
}

// TestRunnerBurstWithOutsidePushes: someone else pushes to the branch while a
// burst is written; every Work lands and so do the outside commits.
func TestRunnerBurstWithOutsidePushes(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	srv.PushOutside(t, "outside/seed.txt", "theirs") // the branch exists
	e.start(t, func(r *Runner) { r.Workers = 3 })
	var wg sync.WaitGroup
	outside := make(chan error, 1)
	wg.Go(func() {
		for i := range 5 {
			if err := pushOutside(t.TempDir(), srv.Dir(), srv.Branch(), fmt.Sprintf("outside/%d.txt", i)); err != nil {
				outside <- err
				return
			}
		}
	})
	for i := range 100 {
		e.submit(t, work(fmt.Sprintf("req-%03d", i), nil, "cm.yaml", fmt.Sprint(i)))
	}
	wg.Wait()
	select {
	case err := <-outside:
		t.Fatalf("outside push: %v", err)
	default:
	}
	e.drain(t, 60*time.Second)
	files := s.files(t)
	for i := range 100 {
		key := fmt.Sprintf("%sreq-%03d/5058f/cm.yaml", "st/d/resources/default/redis/", i)
		if files[key] != fmt.Sprint(i) {
			t.Errorf("%s = %q, want %q", key, files[key], fmt.Sprint(i))
		}
	}
	for i := range 5 {
		if files[fmt.Sprintf("outside/%d.txt", i)] != "theirs" {
			t.Errorf("outside commit %d lost", i)
		}
	}
}

// TestRunnerRemoteDownThenBack: while the remote answers 503 the placement shows
// retrying with the remote's message and the job is retried with backoff; once the
// remote is back, the write lands.
func TestRunnerRemoteDownThenBack(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	srv.SetDown(true)
	e.start(t, nil)
	res := e.submit(t, work("a", nil, "a.yaml", "A"))
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		p := e.placement(t, res.Work)
		return p.State == tenants.StateRetrying && p.Attempts >= 2, fmt.Sprintf("placement %s after %d attempts", p.State, p.Attempts)
	})
	if p := e.placement(t, res.Work); !strings.Contains(p.Error, "503") {
		t.Errorf("error = %q, want the remote's 503", p.Error)
	}
	srv.SetDown(false)
	e.drain(t, 30*time.Second)
	wantStore(t, s, "remote back", map[string]string{nestedA + "a.yaml": "A"})
}

// pushOutside commits path (content "theirs") to branch of the bare repository
// dir as someone else would: clone, commit, push, and on a rejected push pull
// --rebase and push again.
func pushOutside(tmp, dir, branch, path string) error {
	wt := filepath.Join(tmp, "wt")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	git := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", wt}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=Outside", "GIT_AUTHOR_EMAIL=o@example.com", "GIT_COMMITTER_NAME=Outside", "GIT_COMMITTER_EMAIL=o@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v: %s", args, err, out)
		}
		return nil
	}
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", "--branch", branch, dir, wt).CombinedOutput(); err != nil {
		return fmt.Errorf("clone: %v: %s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(wt, path)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(wt, path), []byte("theirs"), 0o644); err != nil {
		return err
	}
	if err := errors.Join(git("add", "--all"), git("commit", "--quiet", "-m", "outside "+path)); err != nil {
		return err
	}
	var err error
	for range 20 {
		if err = git("push", "--quiet", "origin", "HEAD:refs/heads/"+branch); err == nil {
			return nil
		}
		if err := git("pull", "--quiet", "--rebase", "origin", branch); err != nil {
			return err
		}
	}
	return err
}

// TestRunnerReassertRepairsDrift: the periodic re-assert rewrites a file someone
// changed behind Stateward's back.
func TestRunnerReassertRepairsDrift(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	e.start(t, func(r *Runner) { r.ReassertInterval = 100 * time.Millisecond })
	e.submit(t, work("a", nil, "a.yaml", "A"))
	e.drain(t, 30*time.Second)
	srv.PushOutside(t, nestedA+"a.yaml", "tampered")
	testpeers.WaitFor(t, 30*time.Second, func() (bool, string) {
		got := s.files(t)[nestedA+"a.yaml"]
		return got == "A", "file holds " + got
	})
}

// TestRunnerStorePathMove: changing a store's path rewrites its placements at the
// new path and removes them from the old one.
func TestRunnerStorePathMove(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	e.start(t, nil)
	e.submit(t, work("a", nil, "a.yaml", "A"))
	e.drain(t, 30*time.Second)
	e.gitStore(t, srv, "store", "moved")
	e.runner.Wake()
	e.drain(t, 30*time.Second)
	wantStore(t, s, "store path moved", map[string]string{strings.Replace(nestedA, "st/", "moved/", 1) + "a.yaml": "A"})
}
