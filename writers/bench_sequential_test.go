package writers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// sequentialRun is what 200 sequential submits to one Git store did.
type sequentialRun struct {
	commits  int
	p50, p99 time.Duration
	// submitting is how long the n submits took, first to last.
	submitting time.Duration
}

// sequentialSubmits submits n Works one after another (a CI job's loop: each
// submit once the last one was answered, think time gap between them) to one
// Git store over smart HTTP with push interval interval ("" = the default), waits
// until all are written, and reports the commits made and the latency from
// submit to written.
func sequentialSubmits(t testing.TB, n int, interval string, gap time.Duration) sequentialRun {
	e := newEngine(t)
	srv := gitPeer(t, true)
	s := tenants.GitStateStore{TenantID: e.tenant, Name: "store", URL: srv.URL(), Branch: srv.Branch(), Path: "st",
		Insecure: true, PushInterval: interval, Credentials: tenants.GitCredentials{Username: testGitUser, Password: testGitPassword}}
	s.Normalize()
	if _, err := e.db.SaveGitStore(context.Background(), s, false); err != nil {
		t.Fatal(err)
	}
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: tenants.KindGit, StoreName: "store"})
	e.start(t, nil)
	submitted := make(map[int64]time.Time, n)
	start := time.Now()
	for i := range n {
		if i > 0 && gap > 0 {
			<-time.After(gap) // the client's think time (workload model, not synchronisation)
		}
		at := time.Now()
		res := e.submit(t, work(fmt.Sprintf("ci-%03d", i), nil, "cm.yaml", fmt.Sprintf("n: %d\n", i)))
		submitted[res.Work] = at
	}
	submitting := time.Since(start)
	e.drain(t, 5*time.Minute)
	var lat []time.Duration
	for id, at := range submitted {
		p := e.placement(t, id)
		if p.WrittenAt == nil {
			t.Fatalf("Work %d written without a time", id)
		}
		lat = append(lat, p.WrittenAt.Sub(at))
	}
	slices.Sort(lat)
	return sequentialRun{commits: srv.CommitCount(t, srv.Branch()), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], submitting: submitting}
}

// BenchmarkSequentialSubmitsGit: 200 Works submitted one after another to one
// Git store, at the default push interval (1 s) and at 0, with no think time,
// 20 ms and 100 ms between them (a shell loop of curl calls). It reports the commits on the
// branch (the initial commit included) and the p50/p99 latency from submit to
// written.
//
//	go test ./writers -run '^$' -bench BenchmarkSequentialSubmitsGit -benchtime 1x -count 3
func BenchmarkSequentialSubmitsGit(b *testing.B) {
	for _, interval := range []string{"", "0s"} {
		for _, gap := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond} {
			name := "interval=default"
			if interval != "" {
				name = "interval=" + interval
			}
			b.Run(fmt.Sprintf("%s/gap=%s", name, gap), func(b *testing.B) {
				var r sequentialRun
				for b.Loop() {
					r = sequentialSubmits(b, 200, interval, gap)
				}
				b.ReportMetric(float64(r.commits), "commits")
				b.ReportMetric(float64(r.p50.Milliseconds()), "p50-ms")
				b.ReportMetric(float64(r.p99.Milliseconds()), "p99-ms")
				b.ReportMetric(r.submitting.Seconds(), "submitting-s")
			})
		}
	}
}

// TestSequentialSubmitsArePaced: 200 Works submitted one after another, 10 ms
// apart, to a store at the default push interval make at most one commit per
// two Works — at most one per second they took to submit, and one more —, and
// none waits much longer than the interval.
func TestSequentialSubmitsArePaced(t *testing.T) {
	r := sequentialSubmits(t, 200, "", 10*time.Millisecond)
	if limit := min(100, int(r.submitting/time.Second)+2); r.commits > limit {
		t.Errorf("%d commits for 200 Works submitted over %s, want at most %d", r.commits, r.submitting, limit)
	}
	if r.p99 > 5*time.Second {
		t.Errorf("p99 submit to written %s, want well under 5 s at a 1 s interval", r.p99)
	}
	t.Logf("%d commits, p50 %s, p99 %s, submitting %s", r.commits, r.p50, r.p99, r.submitting)
}
