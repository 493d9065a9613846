package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

func TestMain(m *testing.M) { testpeers.RunMain(m) }

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := l.pct(c.p); got != c.want {
			t.Errorf("pct(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (latencies{}).pct(0.99); got != 0 {
		t.Errorf("pct of nothing = %v, want 0", got)
	}
}

// TestGitServerCountsRequests: the counts that say how often a re-assert read
// or pushed to a store tell the four kinds of smart-HTTP request apart, per
// repository.
func TestGitServerCountsRequests(t *testing.T) {
	g := &gitServer{counts: map[string]*repoCounts{}}
	for _, target := range []string{
		"/a.git/info/refs?service=git-upload-pack",
		"/a.git/info/refs?service=git-receive-pack",
		"/a.git/info/refs?service=git-receive-pack",
		"/a.git/git-receive-pack",
		"/b.git/info/refs?service=git-upload-pack",
		"/b.git/git-upload-pack",
	} {
		method := "GET"
		if !strings.Contains(target, "info/refs") {
			method = "POST"
		}
		g.count(httptest.NewRequest(method, target, nil))
	}
	got := g.snapshot()
	if want := (repoCounts{UploadAdverts: 1, ReceiveAdverts: 2, ReceivePacks: 1}); got["a.git"] != want {
		t.Errorf("a.git: %+v, want %+v", got["a.git"], want)
	}
	if want := (repoCounts{UploadAdverts: 1, UploadPacks: 1}); got["b.git"] != want {
		t.Errorf("b.git: %+v, want %+v", got["b.git"], want)
	}
}

// TestWorkDependsOnItsIndexAlone: a fixture grows by submitting Works past the
// last one; Work i must be the same Work whatever the fixture's size, on the
// team and Destination its index says.
func TestWorkDependsOnItsIndexAlone(t *testing.T) {
	f := &fixture{Teams: 100, Destinations: 1000, Stores: 200, Kind: "git"}
	slug, body := f.work(12345)
	if slug != "team-045" {
		t.Errorf("team of Work 12345 = %s, want team-045", slug)
	}
	for _, want := range []string{`"name":"r-0000123"`, `"cluster":"c3"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("Work 12345 = %s, want it to hold %s", body, want)
		}
	}
	if _, again := f.work(12345); string(again) != string(body) {
		t.Errorf("Work 12345 changed between two calls")
	}
	git, err := startGitServer(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer git.close()
	if y := f.storesYAML(0, git); !strings.Contains(y, git.url("t000-s1.git")) ||
		strings.Count(y, "\nkind: Destination\n") != 10 || strings.Count(y, "\nkind: GitStateStore\n") != 2 {
		t.Errorf("team 0's YAML holds %d Destinations and %d stores, want 10 and 2 on its repositories:\n%s",
			strings.Count(y, "\nkind: Destination\n"), strings.Count(y, "\nkind: GitStateStore\n"), y)
	}
}

// TestParseRefusesAnUnknownScannerSpeed: a -minio-scanner value MinIO does not
// know is refused before anything starts, naming the flag.
func TestParseRefusesAnUnknownScannerSpeed(t *testing.T) {
	if _, err := parse([]string{"measure", "-minio-scanner", "off"}); err == nil || !strings.Contains(err.Error(), "-minio-scanner") {
		t.Errorf("parse -minio-scanner off: %v; want an error naming -minio-scanner", err)
	}
	for _, speed := range []string{"default", "slowest"} {
		if o, err := parse([]string{"measure", "-minio-scanner", speed}); err != nil || o.minioScanner != speed {
			t.Errorf("parse -minio-scanner %s: %q, %v", speed, o.minioScanner, err)
		}
	}
}

// TestPlacementsChangedSinceOnBothDatabases: the count of the placement rows a
// re-assert changed runs on the schema of each database swbench measures. On
// PostgreSQL it failed with a syntax error (a ? placeholder), so every
// measure of -db postgres stopped after the stream alone.
func TestPlacementsChangedSinceOnBothDatabases(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 7
	sealer, err := db.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts db.Options
	}{
		{"sqlite", db.Options{Path: filepath.Join(t.TempDir(), "stateward.db"), Sealer: sealer}},
		{"postgres", db.Options{URL: testpeers.Postgres(t).NewDatabase(t), Sealer: sealer}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Two Works an hour apart on the database's clock, each one
			// placement: the count must tell them apart by the time as the
			// database stores it, not only run.
			t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			now := t0
			c.opts.Now = func() time.Time { return now }
			d, err := db.Open(ctx, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			tid := oneDestinationTeam(t, d)
			submitOnePlacement(t, d, tid, 1)
			now = t0.Add(time.Hour)
			submitOnePlacement(t, d, tid, 2)
			d.Close()
			jobs, err := openJobCounter(ctx, filepath.Dir(c.opts.Path), c.opts.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer jobs.Close()
			for _, w := range []struct {
				since time.Time
				want  int
			}{{t0, 2}, {t0.Add(time.Minute), 1}, {t0.Add(time.Hour), 1}, {t0.Add(time.Hour + time.Second), 0}} {
				// In the zone of a machine east of UTC, as swbench passes time.Now().
				since := w.since.In(time.FixedZone("UTC+2", 2*60*60))
				if n, err := placementsChangedSince(ctx, jobs, since); err != nil || n != w.want {
					t.Errorf("placementsChangedSince(%s) = %d, %v; want %d", w.since.Format(time.TimeOnly), n, err, w.want)
				}
			}
		})
	}
}

// oneDestinationTeam creates team-a with a Git store and its one Destination,
// and returns the team's id.
func oneDestinationTeam(t *testing.T, d *db.DB) int64 {
	t.Helper()
	ctx := context.Background()
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	g := tenants.GitStateStore{TenantID: ten.ID, Name: "repo", URL: "https://git.example.com/r.git", AuthMethod: tenants.AuthNone}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev",
		StoreKind: tenants.KindGit, StoreName: "repo"}
	dest.Normalize()
	if _, err := d.SaveDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// submitOnePlacement submits Work r-N to the team of oneDestinationTeam: one
// placement row.
func submitOnePlacement(t *testing.T, d *db.DB, tenantID int64, n int) {
	t.Helper()
	req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: fmt.Sprintf("r-%d", n)},
		DestinationSelectors: map[string]string{"env": "dev"}, Files: []tenants.WorkFile{{Path: "a.yaml", Content: "a: 1\n"}}}
	w, err := req.Work()
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.SubmitWork(context.Background(), tenantID, w, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Placements) != 1 {
		t.Fatalf("Work r-%d has %d placements, want 1", n, len(res.Placements))
	}
}
