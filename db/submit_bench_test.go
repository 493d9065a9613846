package db_test

import (
	"context"
	"fmt"
	"testing"
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
