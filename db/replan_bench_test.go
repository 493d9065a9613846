package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
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
	replanTeam10000(b, d, tid)
}

// BenchmarkReplanTeam10000Postgres is BenchmarkReplanTeam10000 on PostgreSQL,
// on loopback and 1 ms away (a TCP proxy adding 1 ms each way; the team is
// built before the latency is set).
//
//	go test ./db -run '^$' -bench BenchmarkReplanTeam10000Postgres -benchtime 5x
func BenchmarkReplanTeam10000Postgres(b *testing.B) {
	for _, latency := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("%dms", latency.Milliseconds()), func(b *testing.B) {
			tg, proxy := proxiedPostgres(b)
			d, tid, _ := worksDB(b, tg)
			replanTeam10000(b, d, tid, func() { proxy.SetLatency(latency) })
		})
	}
}

// replanTeam10000 submits 10,000 Works to team tid, runs ready (if any), and
// then times the Destination's edits.
func replanTeam10000(b *testing.B, d *db.DB, tid int64, ready ...func()) {
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
	for _, f := range ready {
		f()
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

// BenchmarkApply20DestinationsTeam10000 applies 20 Destinations (created by
// the first apply, relabelled by each after it) to a team of 10,000 Works, as
// `kubectl apply -f destinations/` would, on SQLite and on PostgreSQL
// (loopback): the apply's time is how long the team's submits wait.
//
//	go test ./db -run '^$' -bench BenchmarkApply20DestinationsTeam10000 -benchtime 3x
func BenchmarkApply20DestinationsTeam10000(b *testing.B) {
	for _, name := range dialects {
		b.Run(name, func(b *testing.B) {
			d, tid, _ := worksDB(b, newTarget(b, name))
			ctx := context.Background()
			for i := range 10000 {
				w := resourceWork(fmt.Sprintf("w%05d", i), []string{"dev", "prod"}[i%2], fmt.Sprintf("w%05d.yaml", i), "1")
				if _, err := d.SubmitWork(ctx, tid, w, false); err != nil {
					b.Fatal(err)
				}
			}
			var total time.Duration
			n := 0
			for b.Loop() {
				n++
				var y strings.Builder
				for j := range 20 {
					fmt.Fprintf(&y, "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: extra-%d, labels: {env: x%d, n: \"%d\"}}\n"+
						"spec: {path: extra-%d, stateStoreRef: {name: repo, kind: GitStateStore}}\n", j, j, n, j)
				}
				docs, errs := tenants.ParseKratixYAML([]byte(y.String()), tenants.ParseOptions{})
				if len(errs) > 0 {
					b.Fatal(errs)
				}
				start := time.Now()
				if _, err := d.Apply(ctx, tid, docs, tenants.ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "apply-ms")
		})
	}
}
