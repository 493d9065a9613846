package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkReplanTeam10000 is issue 26's "editing a store in a large team": a
// team of 10,000 Works over two Destinations; each iteration edits the dev
// Destination's labels (which re-plans every Work of the team in the edit's
// transaction) while another Work is submitted to the team, and reports how
// long the edit took and how long that submit waited behind it.
//
//	go test ./db -run '^$' -bench BenchmarkReplanTeam10000 -benchtime 5x
func BenchmarkReplanTeam10000(b *testing.B) {
	d, tid, _ := worksDB(b, target{dialect: "sqlite", path: b.TempDir() + "/bench.db"})
	ctx := context.Background()
	for i := range 10000 {
		w := resourceWork(fmt.Sprintf("w%05d", i), []string{"dev", "prod"}[i%2], fmt.Sprintf("w%05d.yaml", i), "1")
		if _, err := d.SubmitWork(ctx, tid, w, false); err != nil {
			b.Fatal(err)
		}
	}
	dest, err := d.Destination(ctx, tid, "dev")
	if err != nil {
		b.Fatal(err)
	}
	var edit, wait time.Duration
	n := 0
	for b.Loop() {
		n++
		dest.Labels["edited"] = fmt.Sprint(n)
		done := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			if _, err := d.SaveDestination(ctx, dest); err != nil {
				b.Error(err)
			}
			done <- time.Since(start)
		}()
		time.Sleep(50 * time.Millisecond) // the submit arrives while the edit runs (a benchmark's pacing, not a synchronisation)
		s := time.Now()
		if _, err := d.SubmitWork(ctx, tid, resourceWork(fmt.Sprintf("extra%d", n), "dev", fmt.Sprintf("extra%d.yaml", n), "1"), false); err != nil {
			b.Fatal(err)
		}
		wait += time.Since(s)
		edit += <-done
	}
	b.ReportMetric(float64(edit.Milliseconds())/float64(n), "edit-ms")
	b.ReportMetric(float64(wait.Milliseconds())/float64(n), "submit-wait-ms")
}
