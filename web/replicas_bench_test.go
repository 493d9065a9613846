package web_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkReplicas2000Works sends 2,000 Works over 4 tenants × 2 Git stores
// (smart HTTP) from 32 API clients, round-robin to the replicas, and reports
// Works/s from the first submit until every Work is written, the p50/p99 of the
// accept (202) latency, and commits per 1,000 Works. 200 Works sent first are
// not counted: it measures replicas that have opened their connections and
// written their stores, not a cold start. Cases: SQLite (one process),
// PostgreSQL with one replica, PostgreSQL with three replicas — each with its
// own writers and Git cache, all in this one process, so they share its CPUs.
//
//	go test ./web -run '^$' -bench BenchmarkReplicas2000Works -benchtime 1x
func BenchmarkReplicas2000Works(b *testing.B) {
	for _, c := range []struct {
		name     string
		postgres bool
		replicas int
	}{{"sqlite-1", false, 1}, {"postgres-1", true, 1}, {"postgres-3", true, 3}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				benchReplicas(b, c.postgres, c.replicas)
			}
		})
	}
}

func benchReplicas(b *testing.B, postgres bool, replicas int) {
	b.StopTimer()
	const works, warmup, clients, tenantCount = 2000, 200, 32, 4
	o := testDBOptions(b)
	if postgres {
		o = db.Options{URL: testpeers.Postgres(b).NewDatabase(b), Sealer: o.Sealer}
	}
	first := newHarnessOn(b, nil, o)
	rs := []*harness{first}
	for len(rs) < replicas {
		rs = append(rs, first.replica())
	}
	ids, tokens, gits := benchTeams(b, first, tenantCount)
	for _, r := range rs {
		b.Cleanup(r.StopWriters) // before the Git servers go
	}
	allWritten := func() {
		deadline := time.Now().Add(5 * time.Minute)
		for _, id := range ids {
			for {
				n, err := first.DB.Outstanding(context.Background(), id)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("tenant %d: %d placements not written after 5 minutes", id, n)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	commits := func() int {
		n := 0
		for _, g := range gits {
			n += g.CommitCount(b, "main")
		}
		return n
	}
	allWritten() // the canary files

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	// send submits n Works named prefix0000… from the clients, round-robin to
	// the replicas, and records each accept latency in lat.
	send := func(n int, prefix string, lat []time.Duration) {
		next := make(chan int)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for i := range next {
					ti, env := i%tenantCount, []string{"a", "b"}[(i/tenantCount)%2]
					url := fmt.Sprintf("%s/api/v1/tenants/team-%d/works", rs[i%replicas].URL, ti)
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(workBody(env, fmt.Sprintf("%s%04d", prefix, i), fmt.Sprintf("n: %d\n", i))))
					req.Header.Set("Authorization", tokens[ti])
					t0 := time.Now()
					resp, err := client.Do(req)
					lat[i] = time.Since(t0)
					if err != nil {
						b.Errorf("work %d: %v", i, err)
						continue
					}
					drain(resp)
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("work %d: %d", i, resp.StatusCode)
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	// Steady state, not a cold start: every replica has opened its database
	// connections and written each store it will write before the clock starts.
	send(warmup, "warm", make([]time.Duration, warmup))
	allWritten()
	before := commits()
	lat := make([]time.Duration, works)
	b.StartTimer()
	start := time.Now()
	send(works, "w", lat)
	allWritten()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(works/elapsed.Seconds(), "works/s")
	b.ReportMetric(float64(lat[works*50/100].Microseconds())/1000, "accept-p50-ms")
	b.ReportMetric(float64(lat[works*99/100].Microseconds())/1000, "accept-p99-ms")
	b.ReportMetric(float64(commits()-before)*1000/works, "commits/1000")
}

// benchTeams makes n teams (team-0 …) with an editor token each and two Git
// stores over smart HTTP (repo-a, repo-b) with a Destination each (dest-a,
// dest-b: environment a and b), applied through the API of first.
func benchTeams(b *testing.B, first *harness, n int) (ids []int64, tokens []string, gits []*testpeers.GitServer) {
	b.Helper()
	ids, tokens = make([]int64, n), make([]string, n)
	for ti := range n {
		slug := fmt.Sprintf("team-%d", ti)
		ten, tok := first.tenantWithToken(slug, tenants.RoleEditor)
		ids[ti], tokens[ti] = ten.ID, tok
		var yaml strings.Builder
		for _, env := range []string{"a", "b"} {
			g := testpeers.GitHTTP(b, testpeers.GitOptions{Username: "bot", Password: "pw"})
			gits = append(gits, g)
			fmt.Fprintf(&yaml, `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo-%[1]s}
spec: {url: "%[2]s", insecure: true, secretRef: {name: git}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dest-%[1]s, labels: {environment: %[1]s}}
spec: {path: %[1]s, stateStoreRef: {kind: GitStateStore, name: repo-%[1]s}}
---
`, env, g.URL())
		}
		yaml.WriteString("apiVersion: v1\nkind: Secret\nmetadata: {name: git}\nstringData: {username: bot, password: pw}\n")
		if code, _, body := first.apply(tok, slug, yaml.String()); code != 200 {
			b.Fatalf("apply: %d %s", code, body)
		}
	}
	return ids, tokens, gits
}
