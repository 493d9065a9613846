package writers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// inFlight is an http.RoundTripper that records the most PUT requests it ever
// had in flight at once, across every client sharing it.
type inFlight struct {
	base      http.RoundTripper
	now, most atomic.Int64
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut {
		return f.base.RoundTrip(req)
	}
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	return f.base.RoundTrip(req)
}

// TestBucketWritesYieldToBusyAcceptPath: while the accept path is busy, the PUTs
// of two bucket stores sharing one Yielding go one at a time (a real MinIO,
// 2 × 40 objects, 8 allowed in flight per store); when it is not, they run in
// parallel again. Every object is written either way.
func TestBucketWritesYieldToBusyAcceptPath(t *testing.T) {
	for _, busy := range []bool{true, false} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			f := newBucketFixture(t)
			counter := &inFlight{base: http.DefaultTransport.(*http.Transport).Clone()}
			y := &Yielding{Busy: func() bool { return busy }}
			var wg sync.WaitGroup
			for i := range 2 {
				b := f.writer(t, func(c *BucketConfig) { c.Transport, c.Yield, c.Parallelism = counter, y, 8 })
				var puts []File
				for j := range 40 {
					puts = append(puts, File{Key: fmt.Sprintf("store/s%d/%02d.yaml", i, j), Content: []byte(fmt.Sprint(i, j))})
				}
				wg.Go(func() {
					res, err := b.Apply(context.Background(), Batch{Puts: puts})
					if err != nil || res.Puts != 40 {
						t.Errorf("store %d: %d PUTs, %v; want 40", i, res.Puts, err)
					}
				})
			}
			wg.Wait()
			most := counter.most.Load()
			if busy && most != 1 {
				t.Errorf("accept path busy: %d PUTs in flight at once, want 1", most)
			}
			if !busy && most < 2 {
				t.Errorf("accept path idle: at most %d PUT in flight, want them in parallel", most)
			}
		})
	}
}
