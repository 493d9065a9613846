package db_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stateward/stateward/tenants"
)

// hostile is a remote's message as a hostile or broken remote words it: terminal
// escapes, NUL, a bidi override, invalid UTF-8 and 100 KB of it.
var hostile = "\x1b[2J\x1b[31mBad credentials\x00 \u202Eevil\xff" + strings.Repeat("A", 100_000)

// wantRemoteText fails unless s is hostile as kept: bounded, printable, valid.
func wantRemoteText(t *testing.T, what, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "[2J[31mBad credentials evil\uFFFDAAA") || len(s) > tenants.MaxRemoteText || !utf8.ValidString(s) {
		t.Errorf("%s = %.60q… (%d bytes), want the remote's text bounded to %d bytes, valid UTF-8", what, s, len(s), tenants.MaxRemoteText)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Errorf("%s keeps %U", what, r)
			return
		}
	}
}

// TestRemoteTextsAreKeptSanitized: a readiness message and a write's errors —
// the job's, the store's write failure, a placement's — are stored bounded, without control or bidi
// characters and as valid UTF-8, whatever the remote sent (the GitHub API's text
// was shown word for word).
func TestRemoteTextsAreKeptSanitized(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, c := worksDB(t, tg)
		ctx := context.Background()
		res := submit(t, d, tid, resourceWork("r", "prod", "a.yaml", "1"), false)
		var out tenants.JobResult
		for i := 0; len(out.Placements) == 0; i++ { // the Destinations' canaries may come in a job of their own
			if i == 3 {
				t.Fatal("no job wrote the Work's placement")
			}
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			out = tenants.JobResult{Err: hostile, StoreErr: hostile}
			for _, w := range job.Writes {
				out.Placements = append(out.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Error: hostile})
			}
			for _, w := range job.Canaries {
				out.Canaries = append(out.Canaries, tenants.CanaryOutcome{ID: w.ID, Generation: w.Generation, Error: hostile})
			}
			if err := d.FinishJob(ctx, job, out); err != nil {
				t.Fatal(err)
			}
			c.add(time.Hour) // past the backoff
		}
		if out.Placements[0].Error != hostile {
			t.Error("FinishJob changed its caller's result")
		}
		v, err := d.Work(ctx, tid, res.Work)
		if err != nil || len(v.Placements) != 1 {
			t.Fatalf("Work: %+v %v", v, err)
		}
		wantRemoteText(t, "placement error", v.Placements[0].Error)
		jobs, err := d.Jobs(ctx, tid, 10)
		if err != nil || len(jobs) == 0 {
			t.Fatalf("Jobs: %v %v", jobs, err)
		}
		wantRemoteText(t, "job lastError", jobs[0].LastError)
		g, err := d.GitStore(ctx, tid, "repo")
		if err != nil {
			t.Fatal(err)
		}
		wantRemoteText(t, "store write error", g.Status.WriteError)

		if err := d.SetStoreStatus(ctx, tid, tenants.KindGit, "repo", false, hostile, c.now()); err != nil {
			t.Fatal(err)
		}
		if g, err = d.GitStore(ctx, tid, "repo"); err != nil {
			t.Fatal(err)
		}
		wantRemoteText(t, "store status", g.Status.Message)
	})
}
