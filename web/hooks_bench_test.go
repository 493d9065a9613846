package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// benchHook prepares a tenant with a Destination and a trigger, and returns a
// function that sends delivery i and reports whether it was accepted.
func benchHook(b *testing.B) func(i int) bool {
	h := newHarness(b, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	yaml := `apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata: {name: s3}
spec: {endpoint: "s3.example.com", bucketName: kratix, authMethod: IAM}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: s3}, initWorkloads: {enabled: false}}
`
	if code, _, body := h.apply(tok, "team-a", yaml); code != 200 {
		b.Fatalf("apply: %d %s", code, body)
	}
	trig := h.trigger(tok, "team-a", `{"name": "bench", "requireSignature": false}`)
	// A bounded connection pool, as a real sender (or a proxy in front) has.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	return func(i int) bool {
		body := workBody("dev", fmt.Sprintf("req-%d", i), "kind: ConfigMap\n")
		resp, err := client.Post(trig.URL, "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		drain(resp)
		return resp.StatusCode == http.StatusAccepted
	}
}

func report(b *testing.B, lat []time.Duration, elapsed time.Duration, failed int64) {
	if failed > 0 {
		b.Fatalf("%d of %d deliveries were not accepted", failed, len(lat))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "accepted/s")
	b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkWebhookAt1000PerSecond sends deliveries open-loop at 1,000 per second
// over real HTTP on loopback (each on its own schedule, whether or not earlier
// ones have been answered) and reports the latency of each accept: authenticated,
// recorded in the delivery log, and durably enqueued (Work, placement and job
// rows committed to SQLite) before its 202. Latency runs from the moment a
// delivery is sent, including any wait for one of the sender's 64 connections;
// accepted/s shows whether the schedule was kept. Writers are not running: this is the accept path. Each delivery is a
// distinct resource Work placed on a Destination.
//
//	go test -run '^$' -bench BenchmarkWebhookAt1000PerSecond -benchtime 10000x ./web
func BenchmarkWebhookAt1000PerSecond(b *testing.B) {
	send := benchHook(b)
	lat := make([]time.Duration, b.N)
	var failed atomic.Int64
	var wg sync.WaitGroup
	const interval = time.Millisecond
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now() // waiting for a free connection counts
			if !send(i) {
				failed.Add(1)
			}
			lat[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, lat, elapsed, failed.Load())
}

// BenchmarkWebhookMaxThroughput is the same accept path with 16 senders as fast
// as answers come (closed loop): the ceiling on this machine.
//
//	go test -run '^$' -bench BenchmarkWebhookMaxThroughput -benchtime 10000x ./web
func BenchmarkWebhookMaxThroughput(b *testing.B) {
	send := benchHook(b)
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if !send(i) {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, lat, elapsed, failed.Load())
}
