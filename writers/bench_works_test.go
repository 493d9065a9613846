package writers

import (
	"fmt"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// BenchmarkWorks1000Git submits 1,000 resource Works for one Git store over smart
// HTTP on loopback (db.SubmitWork, one transaction each) while a Runner drains
// them, and measures until every placement is written. Each iteration changes
// every Work. It reports commits per iteration (batched: far fewer than 1,000),
// and checks that re-submitting the same 1,000 Works makes no commit.
func BenchmarkWorks1000Git(b *testing.B) {
	benchWorks1000(b, func(t testing.TB, e *engine) storeUnderTest { s, _ := gitUnderTest(t, e); return s })
}

// BenchmarkWorks1000Bucket is BenchmarkWorks1000Git against MinIO; it reports PUTs
// per iteration and checks that a re-submit PUTs nothing.
func BenchmarkWorks1000Bucket(b *testing.B) {
	benchWorks1000(b, bucketUnderTest)
}

func benchWorks1000(b *testing.B, mk func(testing.TB, *engine) storeUnderTest) {
	e := newEngine(b)
	s := mk(b, e)
	e.destination(b, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})
	e.start(b, nil)
	iter, commits := 0, 0
	var submitting time.Duration
	for b.Loop() {
		iter++
		start := time.Now()
		burst(e, b, 1000, fmt.Sprint(iter))
		submitting += time.Since(start)
		e.drain(b, 5*time.Minute)
	}
	b.StopTimer()
	b.ReportMetric(submitting.Seconds()/float64(iter), "submit-s/op")
	if s.commits != nil {
		commits = s.commits(b)
		b.ReportMetric(float64(commits)/float64(iter), "commits/op")
	}
	written := putCount(b, e, s.kind)
	b.ReportMetric(written/float64(iter), "puts/op")

	start := time.Now()
	burst(e, b, 1000, fmt.Sprint(iter))
	e.drain(b, 5*time.Minute)
	b.ReportMetric(time.Since(start).Seconds(), "resubmit-s")
	if s.commits != nil && s.commits(b) != commits {
		b.Errorf("re-submit of the same 1,000 Works made %d commits, want 0", s.commits(b)-commits)
	}
	if got := putCount(b, e, s.kind); got != written {
		b.Errorf("re-submit of the same 1,000 Works wrote %v objects, want 0", got-written)
	}
	if got := len(s.files(b)); got != 1000 {
		b.Errorf("store holds %d files, want 1000", got)
	}
}
