package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkGit10kInto100k: 10,000 resource Works sent through the API by 32
// clients into a Git remote (smart HTTP, basic auth) that already holds 100,000
// files, end to end until every placement is written; in the same run, the
// scripted raw-git session a user would write for the same 10,000 files
// (shallow, sparse, blobless clone; write the files; one commit; push). The
// issue's goal: Stateward in at most half the raw session's time. peak-rss-MB is
// this test process's high-water mark during the Stateward phase (server,
// writers and the 32 clients together; reset before the phase).
//
//	go test ./web -run '^$' -bench BenchmarkGit10kInto100k -benchtime 1x -count 3 -timeout 30m
func BenchmarkGit10kInto100k(b *testing.B) {
	const existing, works = 100_000, 10_000
	for range b.N {
		b.StopTimer()
		h := newHarness(b, nil)
		_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
		b.Cleanup(h.StopWriters)
		git := testpeers.GitHTTP(b, testpeers.GitOptions{Username: "bot", Password: "pw", Empty: true})
		seedRepo(b, git.Dir(), existing)
		yaml := git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: prod, labels: {environment: prod}}
spec: {path: prod, stateStoreRef: {kind: GitStateStore, name: repo}}
`
		if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
			b.Fatalf("apply: %d %s", code, body)
		}
		ten, _ := h.DB.TenantBySlug(b.Context(), "team-a")
		waitOutstanding(b, h, ten.ID, time.Minute) // the canary files land first
		raw := rawGitSession(b, git.URL(), works)
		b.ReportMetric(raw.Seconds(), "raw-git-s")

		resetPeakRSS()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		b.StartTimer()
		start := time.Now()
		for range 32 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < works; i = next.Add(1) - 1 {
					body := fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":"w-%05d"},
"destinationSelectors":{"environment":"prod"},"files":[{"path":"cm.yaml","content":"kind: ConfigMap\nmetadata: {name: w-%05d}\n"}]}`, i, i)
					req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", strings.NewReader(body))
					req.Header.Set("Authorization", tok)
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != http.StatusAccepted {
						failed.Add(1)
					}
					if resp != nil {
						drain(resp)
					}
				}
			})
		}
		wg.Wait()
		accepted := time.Since(start)
		waitOutstanding(b, h, ten.ID, 10*time.Minute)
		total := time.Since(start)
		b.StopTimer()
		if failed.Load() > 0 {
			b.Fatalf("%d of %d Works were not accepted", failed.Load(), works)
		}
		b.ReportMetric(accepted.Seconds(), "accept-s")
		b.ReportMetric(total.Seconds(), "stateward-s")
		b.ReportMetric(total.Seconds()/raw.Seconds(), "ratio")
		b.ReportMetric(peakRSSMB(), "peak-rss-MB")
		b.ReportMetric(float64(git.CommitCount(b, git.Branch())-2), "commits")
		h.StopWriters()
	}
}

// waitOutstanding waits until every placement and canary file is written.
func waitOutstanding(b *testing.B, h *harness, tenantID int64, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := h.DB.Outstanding(b.Context(), tenantID)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d placements not written within %v (%v)", n, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedRepo commits n files under gitops/prod/existing/ to the bare repository
// dir with git fast-import.
func seedRepo(b *testing.B, dir string, n int) {
	b.Helper()
	var stream bytes.Buffer
	w := bufio.NewWriter(&stream)
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter Seed <seed@example.com> %d +0000\ndata 4\nseed\n", time.Now().Unix())
	for i := range n {
		content := fmt.Sprintf("kind: ConfigMap\nmetadata: {name: existing-%06d}\n", i)
		fmt.Fprintf(w, "M 100644 inline gitops/prod/existing/%03d/f%06d.yaml\ndata %d\n%s\n", i/1000, i, len(content), content)
	}
	w.Flush()
	// A blobless clone needs the server to allow filters, as GitHub and GitLab do.
	if out, err := exec.Command("git", "-C", dir, "config", "uploadpack.allowFilter", "true").CombinedOutput(); err != nil {
		b.Fatalf("git config: %v: %s", err, out)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("seed the repository: %v: %s", err, out)
	}
}

// rawGitSession is what a user would script with git for the same change: a
// shallow, blobless, sparse clone, 10,000 new files, one commit, one push.
func rawGitSession(b *testing.B, remote string, n int) time.Duration {
	b.Helper()
	u, err := url.Parse(remote)
	if err != nil {
		b.Fatal(err)
	}
	u.User = url.UserPassword("bot", "pw")
	dir := b.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=raw", "GIT_AUTHOR_EMAIL=raw@example.com", "GIT_COMMITTER_NAME=raw", "GIT_COMMITTER_EMAIL=raw@example.com")
	run := func(wd string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = wd, env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	start := time.Now()
	run(dir, "clone", "--quiet", "--depth", "1", "--filter=blob:none", "--sparse", u.String(), "wt")
	wt := filepath.Join(dir, "wt")
	run(wt, "sparse-checkout", "set", "gitops/prod/raw")
	for i := range n {
		p := filepath.Join(wt, "gitops", "prod", "raw", "default", "redis", "w-"+strconv.Itoa(i), "5058f")
		if err := os.MkdirAll(p, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "cm.yaml"), fmt.Appendf(nil, "kind: ConfigMap\nmetadata: {name: w-%05d}\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run(wt, "add", "--sparse", "gitops/prod/raw")
	run(wt, "commit", "--quiet", "-m", "raw session: 10,000 files")
	run(wt, "-c", "http.postBuffer=524288000", "push", "--quiet", "origin", "HEAD:main") // no chunked body: the test server is CGI
	return time.Since(start)
}

// resetPeakRSS resets this process's high-water mark of resident memory.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB is this process's high-water mark of resident memory, in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
