package web_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkDashboardAt100kPlacements: the pages a team opens every day answer
// fast with 100,000 placements in the database (all on one Destination, the
// worst case for its page): the Works list (first page, a filter, a search),
// the Destination's page and the Overview. Each iteration fetches every page once
// over real HTTP with a signed-in session; p99 is over all fetches of a page.
//
//	go test ./web -run '^$' -bench BenchmarkDashboardAt100kPlacements -benchtime 100x
func BenchmarkDashboardAt100kPlacements(b *testing.B) {
	const n = 100_000
	h := newHarness(b, nil)
	br := h.signedInTeam()
	s3 := testpeers.MinIO(b)
	bucket := s3.NewBucket(b)
	b.Cleanup(h.StopWriters)
	yaml := s3.StoreYAML(bucket) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`
	if resp, body := br.post(b, h.URL+"/t/team-a/import", url.Values{"yaml": {yaml}}); resp.StatusCode != 200 {
		b.Fatalf("import: %d %s", resp.StatusCode, snippet(body))
	}
	h.StopWriters() // the placements stay pending: nothing drains them meanwhile
	ten, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: fmt.Sprintf("r-%06d", i)},
					DestinationSelectors: map[string]string{"environment": "dev"},
					Files:                []tenants.WorkFile{{Path: "cm.yaml", Content: "kind: ConfigMap\n"}}}
				w, err := req.Work()
				if err == nil {
					_, err = h.DB.SubmitWork(context.Background(), ten.ID, w, false)
				}
				if err != nil {
					b.Errorf("submit %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.Logf("%d Works submitted in %v", n, time.Since(start))
	pages := map[string]string{
		"works":             "/t/team-a/works",
		"works-pending":     "/t/team-a/works?state=pending",
		"works-search":      "/t/team-a/works?q=r-09999",
		"destination":       "/t/team-a/destinations/dev",
		"overview":          "/t/team-a/",
		"works-destination": "/t/team-a/works?destination=dev",
	}
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for range b.N {
		for name, path := range pages {
			t0 := time.Now()
			resp, body := br.get(b, h.URL+path)
			lat[name] = append(lat[name], time.Since(t0))
			if resp.StatusCode != 200 {
				b.Fatalf("%s: %d %s", path, resp.StatusCode, snippet(body))
			}
		}
	}
	b.StopTimer()
	for _, name := range slices.Sorted(maps.Keys(lat)) {
		l := lat[name]
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
}
