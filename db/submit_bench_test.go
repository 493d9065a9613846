package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSubmitWork is the accept path's database cost of one Work, alone: one
// goroutine submits distinct resource Works, each placed on one Destination of a
// Git store (a Work, its placement, its key claims and the store's job), one
// SubmitWork call — one durable transaction — each. Nothing else runs.
//
//	go test ./db -run '^$' -bench BenchmarkSubmitWork -benchtime 5000x -count 3
func BenchmarkSubmitWork(b *testing.B) {
	for _, name := range dialects {
		b.Run(name, func(b *testing.B) {
			d, tenantID, _ := worksDB(b, newTarget(b, name))
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				w := resourceWork(fmt.Sprintf("r%d", i), "dev", "a.yaml", "kind: ConfigMap\n")
				if _, err := d.SubmitWork(ctx, tenantID, w, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSubmitWorkPostgres1ms is BenchmarkSubmitWork on PostgreSQL 1 ms away
// (a TCP proxy adding 1 ms each way, as a managed database in another zone of
// the region), reporting the round trips one submit makes (requests the proxy
// forwarded to PostgreSQL, per submit).
//
//	go test ./db -run '^$' -bench BenchmarkSubmitWorkPostgres1ms -benchtime 300x
func BenchmarkSubmitWorkPostgres1ms(b *testing.B) {
	tg, proxy := proxiedPostgres(b)
	d, tenantID, _ := worksDB(b, tg)
	proxy.SetLatency(time.Millisecond)
	ctx := context.Background()
	i := 0
	before := proxy.Sent()
	for b.Loop() {
		i++
		w := resourceWork(fmt.Sprintf("r%d", i), "dev", "a.yaml", "kind: ConfigMap\n")
		if _, err := d.SubmitWork(ctx, tenantID, w, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(proxy.Sent()-before)/float64(i), "round-trips/submit")
}
