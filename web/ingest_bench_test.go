package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkIngest is the accept path as a user runs it: 32 webhook callers in a
// closed loop over real HTTP on loopback, each call a distinct resource Work
// answered 202 only once durable, while the writers run. "idle": the Works match
// no Destination, so the writers have nothing to do; "minio": every Work is
// placed on a Destination of a real MinIO bucket, and the writers drain the queue
// to it meanwhile (the benchmark waits until all are written and reports it).
//
//	go test ./web -run '^$' -bench BenchmarkIngest -benchtime 10000x -count 3
func BenchmarkIngest(b *testing.B) {
	for _, target := range []string{"idle", "minio"} {
		b.Run(target, func(b *testing.B) {
			h := newHarness(b, nil)
			ten, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
			s3 := testpeers.MinIO(b)
			bucket := s3.NewBucket(b)
			b.Cleanup(h.StopWriters)
			yaml := s3.StoreYAML(bucket) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`
			if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
				b.Fatalf("apply: %d %s", code, body)
			}
			env := map[string]string{"idle": "nowhere", "minio": "dev"}[target]
			trig := h.trigger(tok, "team-a", `{"name": "bench", "requireSignature": false}`)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
			run := fmt.Sprintf("%d", time.Now().UnixNano())
			send := func(i int) bool {
				body := workBody(env, fmt.Sprintf("req-%s-%d", run, i), "kind: ConfigMap\n")
				resp, err := client.Post(trig.URL, "application/json", strings.NewReader(body))
				if err != nil {
					return false
				}
				drain(resp)
				return resp.StatusCode == http.StatusAccepted
			}
			lat := make([]time.Duration, b.N)
			var next, failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 32 {
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
						t0 := time.Now()
						if !send(i) {
							failed.Add(1)
						}
						lat[i] = time.Since(t0)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			report(b, lat, elapsed, failed.Load())
			if target == "minio" {
				deadline := time.Now().Add(5 * time.Minute)
				for {
					n, err := h.DB.Outstanding(b.Context(), ten.ID)
					if err == nil && n == 0 {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d placements not written after 5 minutes (%v)", n, err)
					}
					time.Sleep(20 * time.Millisecond)
				}
				b.ReportMetric(time.Since(start).Seconds(), "all-written-s")
			}
		})
	}
}
