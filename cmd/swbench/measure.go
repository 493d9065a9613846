package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/db"
)

// latencies summarises request times.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// page is one dashboard page or API call that is timed.
type page struct {
	name, path string
	api        bool
}

// pages are what is timed: the dashboard of the first team (10,000 Works at the
// million) and the API's Works list, with the filters and searches issue 26
// measured.
func pages(slug, kind, store string) []page {
	t, a := "/t/"+slug, "/api/v1/tenants/"+slug
	return []page{
		{"Overview", t + "/", false},
		{"Works list", t + "/works", false},
		{"Works ?destination=d3&state=written", t + "/works?destination=d3&state=written", false},
		{"Works ?state=pending (nothing pending)", t + "/works?state=pending", false},
		{"Works ?destination=d3", t + "/works?destination=d3", false},
		{"Works ?q=r-00001 (search, 100 matches at 10,000 Works a team)", t + "/works?q=r-00001", false},
		{"Works ?q=r-0000123 (search, 1 match)", t + "/works?q=r-0000123", false},
		{"Destinations", t + "/destinations", false},
		{"Destination d3", t + "/destinations/d3", false},
		{"Stores", t + "/stores", false},
		{"Store " + store, t + "/stores/" + kind + "/" + store, false},
		{"API works ?destination=d3&state=written", a + "/works?destination=d3&state=written", true},
		{"API works ?state=pending", a + "/works?state=pending", true},
		{"API works ?q=r-00001", a + "/works?q=r-00001", true},
	}
}

// timePages fetches every page warm times, then n times in a row each, and
// prints p50, p99 and max.
func timePages(ctx context.Context, s *server, web *http.Client, slug, token, kind, store string, warm, n int, out io.Writer) (worst time.Duration, err error) {
	get := func(p page) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+p.path, nil)
		if err != nil {
			return 0, err
		}
		c := web
		if p.api {
			req.Header.Set("Authorization", "Bearer "+token)
			c = apiClient
		}
		began := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", p.path, resp.Status)
		}
		return took, err
	}
	fmt.Fprintf(out, "\n%-62s %9s %9s %9s\n", fmt.Sprintf("page (%d sequential requests after %d warm-up)", n, warm), "p50", "p99", "max")
	for _, p := range pages(slug, kind, store) {
		var l latencies
		for i := range warm + n {
			d, err := get(p)
			if err != nil {
				return 0, err
			}
			if i >= warm {
				l = append(l, d)
			}
		}
		fmt.Fprintf(out, "%-62s %9s %9s %9s\n", p.name, ms(l.pct(0.5)), ms(l.pct(0.99)), ms(l.pct(1)))
		worst = max(worst, l.pct(0.99))
	}
	return worst, nil
}

// acceptStream submits unscheduled Works (no Destination matches them: no job,
// no store touched) with clients callers until stop is closed, and returns each
// answer's latency. It measures the accept path while something else runs. The
// Works go to a team of their own, so that the measured teams keep their shape.
// With names > 0 the stream submits again, with new contents, the Works of
// names names (a pipeline's every run), so the database does not grow with
// the stream; with 0 every submit is a new Work.
func (f *fixture) acceptStream(ctx context.Context, base string, clients, names int, stop <-chan struct{}) (latencies, error) {
	slug := probeTeam
	var mu sync.Mutex
	var all latencies
	var firstErr error
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				mu.Lock()
				f.Probes++
				n := f.Probes
				mu.Unlock()
				name := n
				if names > 0 {
					name = n % names
				}
				body := fmt.Appendf(nil, `{"promise":"probe","resource":{"namespace":"probe","name":"p-%08d"},`+
					`"destinationSelectors":{"cluster":"nowhere"},"files":[{"path":"p.yaml","content":"n: %d\n"}]}`, name, n)
				began := time.Now()
				err := submitOne(ctx, base, slug, f.Tokens[slug], body)
				took := time.Since(began)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				all = append(all, took)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return all, firstErr
}

// openFixtureDB opens the fixture's database from this process, as the CLI
// does while the server runs: the re-assert queues its jobs with
// db.RequeueAll, what the periodic re-assert (STATEWARD_REASSERT_INTERVAL)
// calls, and the server's writers find them at their next poll.
func openFixtureDB(ctx context.Context, dataDir, databaseURL, secretKey string) (*db.DB, error) {
	var key []byte
	var err error
	if secretKey != "" {
		key, err = db.ParseKey(secretKey)
	} else {
		key, err = db.LoadOrCreateKeyFile(filepath.Join(dataDir, "secret.key"))
	}
	if err != nil {
		return nil, err
	}
	sealer, err := db.NewSealer(key)
	if err != nil {
		return nil, err
	}
	o := db.Options{Path: filepath.Join(dataDir, "stateward.db"), Sealer: sealer}
	if databaseURL != "" {
		o = db.Options{URL: databaseURL, Sealer: sealer}
	}
	return db.Open(ctx, o)
}

// queueReassert queues a full re-assert of every store (res.stores of them) as
// the periodic one does, and returns when it began. The database is closed
// before it returns: a db.DB of SQLite runs checkpoints of its own, whose
// RESTARTs held the write lock for 20 - 80 ms beside the server's submits
// (counted against the accept path beside the re-assert).
func (b *bench) queueReassert(ctx context.Context, res *reassertResult) (time.Time, error) {
	d, err := openFixtureDB(ctx, b.data, b.dbURL, b.f.SecretKey)
	if err != nil {
		return time.Time{}, err
	}
	began := time.Now()
	if res.stores, err = d.RequeueAll(ctx); err != nil {
		err = fmt.Errorf("re-assert: %w", err)
	}
	return began, errors.Join(err, d.Close())
}

// openJobCounter opens the fixture's database for waitJobs and
// placementsChangedSince: one connection, read-only on SQLite, nothing running
// in the background. Its Rebind gives a query the driver's placeholders.
func openJobCounter(ctx context.Context, dataDir, databaseURL string) (*sqlx.DB, error) {
	driver, dsn := "sqlite3", (&url.URL{Scheme: "file", Opaque: filepath.ToSlash(filepath.Join(dataDir, "stateward.db")),
		RawQuery: "mode=ro&_busy_timeout=10000"}).String()
	if databaseURL != "" {
		driver, dsn = "pgx", databaseURL
	}
	c, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	return c, c.PingContext(ctx)
}

// placementsChangedSince counts the placement rows updated at or after since,
// on the job counter c. The database's clock is UTC: on SQLite a text in one
// format, compared as such.
func placementsChangedSince(ctx context.Context, c *sqlx.DB, since time.Time) (int, error) {
	var n int
	err := c.QueryRowContext(ctx, c.Rebind(`SELECT COUNT(*) FROM placements WHERE updated_at >= ?`), since.UTC()).Scan(&n)
	return n, err
}

// reassertResult is what one full re-assert did.
type reassertResult struct {
	stores     int
	wall       time.Duration
	cpu        time.Duration
	peerCPU    time.Duration // MinIO's, -kind bucket
	jobsFailed float64
	commits    int // new commits, all repositories
	// Git: the most requests of each kind one repository got
	maxUploadAdverts, maxUploadPacks, maxReceiveAdverts, maxReceivePacks int
	reposContacted                                                       int
	// buckets: PUTs and DELETEs in all, the most listings one bucket got
	puts, deletes, maxLists, bucketsContacted int
	// rowsChanged: placement rows updated since the re-assert began (by it,
	// or by a stream beside it writing to the fixture's stores: none does)
	rowsChanged int
}

// reassert triggers a full re-assert and waits until every job it queued has
// finished, counting commits, PUTs, store reads and the server's CPU time.
func (f *fixture) reassert(ctx context.Context, s *server, b *bench, out io.Writer) (reassertResult, error) {
	var res reassertResult
	commitsBefore, err := commitCounts(b.git.root)
	if err != nil {
		return res, err
	}
	readsBefore := b.git.snapshot()
	var bucketsBefore map[string]bucketCounts
	if b.minio != nil {
		bucketsBefore = b.minio.snapshot()
	}
	failedBefore, err := s.metric("stateward_jobs_total", `outcome="failed"`)
	if err != nil {
		return res, err
	}
	jobs, err := openJobCounter(ctx, b.data, b.dbURL)
	if err != nil {
		return res, err
	}
	defer jobs.Close()
	cpuBefore, err := s.cpu()
	if err != nil {
		return res, err
	}
	peerBefore := b.minio.cpu()
	began, err := b.queueReassert(ctx, &res)
	if err != nil {
		return res, err
	}
	if err := waitJobs(ctx, jobs, res.stores, out); err != nil {
		return res, err
	}
	res.wall = time.Since(began)
	cpuAfter, err := s.cpu()
	if err != nil {
		return res, err
	}
	res.cpu = cpuAfter - cpuBefore
	res.peerCPU = b.minio.cpu() - peerBefore // 0 without MinIO
	if res.rowsChanged, err = placementsChangedSince(ctx, jobs, began); err != nil {
		return res, fmt.Errorf("count the placements the re-assert changed: %w", err)
	}
	failedAfter, _ := s.metric("stateward_jobs_total", `outcome="failed"`)
	res.jobsFailed = failedAfter - failedBefore
	commitsAfter, err := commitCounts(b.git.root)
	if err != nil {
		return res, err
	}
	for repo, n := range commitsAfter {
		res.commits += n - commitsBefore[repo]
	}
	for repo, c := range b.git.snapshot() {
		was := readsBefore[repo]
		d := repoCounts{c.UploadAdverts - was.UploadAdverts, c.UploadPacks - was.UploadPacks, c.ReceiveAdverts - was.ReceiveAdverts, c.ReceivePacks - was.ReceivePacks}
		if d != (repoCounts{}) {
			res.reposContacted++
		}
		res.maxUploadAdverts = max(res.maxUploadAdverts, d.UploadAdverts)
		res.maxUploadPacks = max(res.maxUploadPacks, d.UploadPacks)
		res.maxReceiveAdverts = max(res.maxReceiveAdverts, d.ReceiveAdverts)
		res.maxReceivePacks = max(res.maxReceivePacks, d.ReceivePacks)
	}
	if b.minio != nil {
		for bucket, c := range b.minio.snapshot() {
			was := bucketsBefore[bucket]
			d := bucketCounts{c.Lists - was.Lists, c.Gets - was.Gets, c.Puts - was.Puts, c.Deletes - was.Deletes, c.Other - was.Other}
			if d != (bucketCounts{}) {
				res.bucketsContacted++
			}
			res.puts += d.Puts
			res.deletes += d.Deletes
			res.maxLists = max(res.maxLists, d.Lists)
		}
	}
	return res, nil
}

// waitJobs waits until no job is queued or running: every job the re-assert
// queued (n) has finished. It reads the jobs table itself, not the server's
// /metrics, whose every scrape counts all placements by state (at a million
// placements, CPU of the server that the re-assert's figure would include).
func waitJobs(ctx context.Context, jobs *sqlx.DB, n int, out io.Writer) error {
	last := time.Now()
	for {
		var q, r int
		if err := jobs.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE state = 'queued'), COUNT(*) FILTER (WHERE state = 'running')
			FROM jobs WHERE state IN ('queued', 'running')`).Scan(&q, &r); err != nil {
			return err
		}
		if q == 0 && r == 0 {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(out, "  re-assert: %d store jobs queued, %d running (of %d)\n", q, r, n)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r reassertResult) print(out io.Writer, label string) {
	fmt.Fprintf(out, "%s: %d stores re-asserted in %.1f s wall, %.1f CPU-seconds of the server; %d jobs failed\n",
		label, r.stores, r.wall.Seconds(), r.cpu.Seconds(), int(r.jobsFailed))
	fmt.Fprintf(out, "  placement rows changed meanwhile: %d\n", r.rowsChanged)
	fmt.Fprintf(out, "  Git: %d new commits; %d repositories contacted, per repository at most %d upload-pack advertisements, "+
		"%d fetches, %d receive-pack advertisements, %d pushes\n",
		r.commits, r.reposContacted, r.maxUploadAdverts, r.maxUploadPacks, r.maxReceiveAdverts, r.maxReceivePacks)
	if r.maxReceiveAdverts > 1 {
		fmt.Fprintln(out, "  (the readiness check also reads every store, once in 5 minutes: one receive-pack advertisement each; see the log's \"write done\" lines for one job per store)")
	}
	if r.bucketsContacted > 0 || r.puts > 0 {
		fmt.Fprintf(out, "  buckets: %d PUTs, %d DELETEs; %d buckets contacted, per bucket at most %d listings; MinIO %.1f CPU-seconds meanwhile\n",
			r.puts, r.deletes, r.bucketsContacted, r.maxLists, r.peerCPU.Seconds())
	}
}
