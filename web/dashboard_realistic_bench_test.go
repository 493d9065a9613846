package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// BenchmarkDashboardRealistic: the dashboard's pages and the Works list's filters
// on a database shaped like a company's: team-a holds STATEWARD_BENCH_WORKS
// Works (default 10,000) over 10 Destinations of one Git store, written by the
// real writers, of which 0.1 % failed for good; STATEWARD_BENCH_TEAMS teams in
// all (default 10) hold as many Works each, so that every query's tenant scope
// matters. Each iteration fetches every page once over real HTTP (a signed-in
// session; the API with a token, 50 Works a page, but for the answers that are
// small: none pending, the failed ones, a rare word); first with nothing pending (the idle answer a
// poll gets), then again after 1 % of team-a's Works were submitted anew and
// wait in the queue. p50 and p99 per page, in ms.
//
//	go test ./web -run '^$' -bench BenchmarkDashboardRealistic -benchtime 200x -timeout 60m
//	STATEWARD_BENCH_TEAMS=100 go test ./web -run '^$' -bench BenchmarkDashboardRealistic -benchtime 200x -timeout 60m
//
// team-a's rows are all written by the real code: Works submitted with
// SubmitWork, written to Git by the writers, failed by FinishJob with a refusal,
// pending by a new submit. The other teams' rows are copies of team-a's made by
// SQL (copyTeam), each team with its own store and Destinations applied through
// the API, so that 100 teams build in a minute instead of an hour.
func BenchmarkDashboardRealistic(b *testing.B) {
	n, teams := benchEnv(b, "STATEWARD_BENCH_WORKS", 10_000), benchEnv(b, "STATEWARD_BENCH_TEAMS", 10)
	ctx := context.Background()
	h := newHarness(b, nil)
	br := h.signedInTeam()
	tok := h.token("team-a", tenants.RoleEditor)
	git := testpeers.GitHTTP(b, testpeers.GitOptions{Username: "bot", Password: "pw", Empty: true})
	if code, _, body := h.apply(tok, "team-a", git.StoreYAML("bot", "pw")+realisticDestinations("")); code != 200 {
		b.Fatalf("apply: %d %s", code, body)
	}
	ten, err := h.DB.TenantBySlug(ctx, "team-a")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	submitRealistic(b, h.DB, ten.ID, n, 0, "v1")
	waitOutstanding(b, h, ten.ID, 30*time.Minute)
	b.Logf("%d Works submitted and written to Git in %v", n, time.Since(start))
	h.StopWriters() // from here on nothing is written: the states stay as set below
	failRealistic(b, h.DB, ten.ID, n)

	start = time.Now()
	raw := rawDB(b, h)
	for k := 2; k <= teams; k++ {
		slug := "team-" + strconv.Itoa(k)
		_, tokK := h.tenantWithToken(slug, tenants.RoleEditor)
		if code, _, body := h.apply(tokK, slug, git.StoreYAML("bot", "pw")+realisticDestinations(slug+"/")); code != 200 {
			b.Fatalf("apply %s: %d %s", slug, code, body)
		}
		copyTeam(b, raw, h, ten.ID, slug)
	}
	if err := h.DB.Optimize(ctx, true); err != nil { // as a server does at start on the data it finds
		b.Fatal(err)
	}
	b.Logf("%d other teams copied in %v", teams-1, time.Since(start))

	idle := map[string]string{
		"overview":                  "/t/team-a/",
		"works":                     "/t/team-a/works",
		"works-pending-none":        "/t/team-a/works?state=pending",
		"works-written":             "/t/team-a/works?state=written",
		"works-failed":              "/t/team-a/works?state=failed",
		"works-dest":                "/t/team-a/works?destination=d3",
		"works-dest-written":        "/t/team-a/works?destination=d3&state=written",
		"works-dest-failed":         "/t/team-a/works?destination=d0&state=failed",
		"works-search-rare":         "/t/team-a/works?q=r-004321",
		"works-search-common":       "/t/team-a/works?q=redis",
		"works-search-written":      "/t/team-a/works?q=r-00&state=written",
		"destination":               "/t/team-a/destinations/d3",
		"api-works":                 "/api/v1/tenants/team-a/works?limit=50",
		"api-pending-none":          "/api/v1/tenants/team-a/works?state=pending",
		"api-written":               "/api/v1/tenants/team-a/works?state=written&limit=50",
		"api-failed":                "/api/v1/tenants/team-a/works?state=failed",
		"api-dest":                  "/api/v1/tenants/team-a/works?destination=d3&limit=50",
		"api-dest-written":          "/api/v1/tenants/team-a/works?destination=d3&state=written&limit=50",
		"api-search-rare":           "/api/v1/tenants/team-a/works?q=r-004321",
		"api-search-common":         "/api/v1/tenants/team-a/works?q=redis&limit=50",
		"api-written-second-page":   "",
		"works-written-second-page": "",
	}
	busy := map[string]string{
		"busy-overview":           "/t/team-a/",
		"busy-works-pending":      "/t/team-a/works?state=pending",
		"busy-works-written":      "/t/team-a/works?state=written",
		"busy-works-dest-pending": "/t/team-a/works?destination=d3&state=pending",
		"busy-api-pending":        "/api/v1/tenants/team-a/works?state=pending",
	}
	client := &http.Client{}
	fetch := func(name, path string, lat map[string][]time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, h.URL+path, nil)
		c := br.Client
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", tok)
			c = client
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		drain(resp)
		lat[name] = append(lat[name], time.Since(t0))
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	second := secondPage(b, h, tok, n)
	idle["api-written-second-page"] = "/api/v1/tenants/team-a/works?state=written&limit=50&before=" + second
	idle["works-written-second-page"] = "/t/team-a/works?state=written&before=" + second
	lat := map[string][]time.Duration{}
	for _, pages := range []map[string]string{idle, busy} {
		if pages["busy-overview"] != "" {
			b.StopTimer()
			submitRealistic(b, h.DB, ten.ID, n/100, 7, "v2") // 1 % of the Works changed, not yet written
			b.StartTimer()
		}
		for name, path := range pages { // warm-up
			fetch(name, path, map[string][]time.Duration{})
		}
		b.ResetTimer()
		for range b.N {
			for _, name := range slices.Sorted(maps.Keys(pages)) {
				fetch(name, pages[name], lat)
			}
		}
	}
	b.StopTimer()
	for _, name := range slices.Sorted(maps.Keys(lat)) {
		l := lat[name]
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
}

// benchEnv reads a positive size from the environment, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// realisticDestinations are Destinations d0 … d9 of the store "repo", each
// chosen by its own label slot=dN, under prefix in the repository.
func realisticDestinations(prefix string) string {
	var s strings.Builder
	for i := range 10 {
		fmt.Fprintf(&s, `---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: d%d, labels: {slot: d%d}}
spec: {path: %sd%d, stateStoreRef: {kind: GitStateStore, name: repo}}
`, i, i, prefix, i)
	}
	return s.String()
}

// submitRealistic submits Works r-000000 … (every step-th from 0 when step > 0,
// count of them), Work i on Destination d(i % 10), with content version v.
func submitRealistic(b *testing.B, d *db.DB, tenantID int64, count, step int, v string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for k := next.Add(1) - 1; k < int64(count); k = next.Add(1) - 1 {
				i := int(k)
				if step > 0 {
					i = int(k) * step
				}
				req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: fmt.Sprintf("r-%06d", i)},
					DestinationSelectors: map[string]string{"slot": fmt.Sprintf("d%d", i%10)},
					Files:                []tenants.WorkFile{{Path: "cm.yaml", Content: fmt.Sprintf("kind: ConfigMap\nmetadata: {name: r-%06d}\ndata: {v: %s}\n", i, v)}}}
				w, err := req.Work()
				if err == nil {
					_, err = d.SubmitWork(context.Background(), tenantID, w, false)
				}
				if err != nil {
					b.Errorf("submit %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// failRealistic submits every 1000th Work anew and records its write as refused
// for its content (failed for good), as a writer's FinishJob does.
func failRealistic(b *testing.B, d *db.DB, tenantID int64, n int) {
	submitRealistic(b, d, tenantID, (n+999)/1000, 1000, "refused")
	var job *tenants.Job
	testpeers.WaitFor(b, time.Minute, func() (bool, string) { // the store's pushes are paced: its job is due later
		j, ok, err := d.ClaimJob(context.Background(), "bench", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		job = j
		return ok, "the store's job is not due"
	})
	res := tenants.JobResult{}
	for _, p := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: p.ID, Generation: p.Generation,
			Error: "pre-receive hook declined", Stuck: true})
	}
	if err := d.FinishJob(context.Background(), job, res); err != nil {
		b.Fatal(err)
	}
	if got, err := d.Outstanding(context.Background(), tenantID); err != nil || got != (n+999)/1000 {
		b.Fatalf("outstanding after the refusals: %d %v, want %d", got, err, (n+999)/1000)
	}
}

// secondPage is the cursor of the second page of team-a's written Works.
func secondPage(b *testing.B, h *harness, tok string, n int) string {
	code, body := api(b, http.MethodGet, h.URL+"/api/v1/tenants/team-a/works?state=written&limit=50", tok, nil)
	var page db.WorkPage
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 || page.Next == "" {
		b.Fatalf("written Works: %d %s", code, snippet(body))
	}
	if want := min(n-(n+999)/1000, db.MaxCount); page.Total != want {
		b.Fatalf("written Works: a total of %d, want %d", page.Total, want)
	}
	return page.Next
}

// rawDB is a second connection to h's database, for copyTeam's bulk SQL.
func rawDB(b *testing.B, h *harness) *sql.DB {
	driver, dsn := "sqlite3", "file:"+h.dbOptions.Path+"?_busy_timeout=10000&_txlock=immediate"
	if h.dbOptions.URL != "" {
		driver, dsn = "pgx", h.dbOptions.URL
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	b.Cleanup(func() { raw.Close() })
	return raw
}

// copyTeam copies the Works, placements and claims of tenant from to the team
// slug (which has Destinations of the same names): every column as the real code
// wrote it, but for the tenant, the Work, the Destination and the placement they
// refer to, which are the copy's own. A copied placement names no job (the jobs
// are not copied).
func copyTeam(b *testing.B, raw *sql.DB, h *harness, from int64, slug string) {
	to := h.tenantID(slug)
	f, t := strconv.FormatInt(from, 10), strconv.FormatInt(to, 10)
	cols := func(table string, replace map[string]string) (string, string) {
		rows, err := raw.Query(`SELECT * FROM ` + table + ` WHERE 1 = 0`)
		if err != nil {
			b.Fatal(err)
		}
		names, err := rows.Columns()
		rows.Close()
		if err != nil {
			b.Fatal(err)
		}
		var into, sel []string
		for _, c := range names {
			if c == "id" {
				continue
			}
			into = append(into, c)
			if e, ok := replace[c]; ok {
				sel = append(sel, e)
			} else {
				sel = append(sel, "o."+c)
			}
		}
		return strings.Join(into, ", "), strings.Join(sel, ", ")
	}
	exec := func(table, source string, replace map[string]string) {
		into, sel := cols(table, replace)
		if _, err := raw.Exec(`INSERT INTO ` + table + ` (` + into + `) SELECT ` + sel + ` FROM ` + source); err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	exec("works", `works o WHERE o.tenant_id = `+f+` ORDER BY o.id`, map[string]string{"tenant_id": t})
	sameWork := `nw.tenant_id = ` + t + ` AND nw.promise = ow.promise AND nw.res_namespace = ow.res_namespace
		AND nw.res_name = ow.res_name AND nw.pipeline = ow.pipeline`
	exec("placements", `placements o JOIN works ow ON ow.id = o.work_id JOIN works nw ON `+sameWork+`
		JOIN destinations nd ON nd.tenant_id = `+t+` AND nd.name = o.destination_name
		WHERE o.tenant_id = `+f+` ORDER BY o.id`,
		map[string]string{"tenant_id": t, "work_id": "nw.id", "destination_id": "nd.id", "job_id": "NULL"})
	exec("claims", `claims o JOIN placements op ON op.id = o.placement_id JOIN works ow ON ow.id = op.work_id
		JOIN works nw ON `+sameWork+` JOIN placements np ON np.work_id = nw.id AND np.group_index = op.group_index
		AND np.destination_name = op.destination_name WHERE o.tenant_id = `+f+` ORDER BY o.id`,
		map[string]string{"tenant_id": t, "placement_id": "np.id"})
	sameLists(b, h.DB, from, to)
}

// sameLists checks that the copy to lists as from does: the same Works (by
// name) with the same placement states, through every filter of the list.
func sameLists(b *testing.B, d *db.DB, from, to int64) {
	for _, q := range []db.WorkQuery{{}, {State: "written"}, {State: "failed"}, {State: "pending"}, {Destination: "d3"},
		{Destination: "d3", State: "written"}, {Search: "r-0043"}, {Limit: 10_000}} {
		want, err := d.WorksPage(context.Background(), from, q)
		if err != nil {
			b.Fatal(err)
		}
		got, err := d.WorksPage(context.Background(), to, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Items) != len(want.Items) || got.Total != want.Total {
			b.Fatalf("copy %+v: %d of %d Works, want %d of %d", q, len(got.Items), got.Total, len(want.Items), want.Total)
		}
		for i := range got.Items {
			g, w := got.Items[i], want.Items[i]
			if g.Name != w.Name || !maps.Equal(g.States, w.States) || g.Unscheduled != w.Unscheduled {
				b.Fatalf("copy %+v: Work %d is %s %v, want %s %v", q, i, g.Name, g.States, w.Name, w.States)
			}
		}
	}
}
