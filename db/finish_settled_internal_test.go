package db

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// TestReassertThatChangedNothingWritesNoPlacement: the finish of a full
// rewrite (a re-assert) that found the store as the database says runs no
// statement on the placements it read or their versions — it used to hold SQLite's
// write lock for 90 - 130 ms per 5,000 placements to change nothing — while
// every placement the job did not read settled still gets what it lacks: one
// retrying after a failed attempt is written again, one whose version was
// never recorded gets it, one submitted again meanwhile stays pending; a
// re-assert that changed nothing at another tip (the store moved on) leaves
// the rows at the version that wrote them, and one that changed the store
// records its version for every placement.
func TestReassertThatChangedNothingWritesNoPlacement(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := countingDB(t, func() time.Time { return now })
	ten := gitDevTeam(t, d)
	work := func(i int, content string) *tenants.Work { return devWork(t, i, content) }
	const n = 1200 // three of markWritten's chunks
	for i := range n {
		if _, err := d.SubmitWork(ctx, ten.ID, work(i, "x: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(wantFull bool) *tenants.Job {
		t.Helper()
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok || job.Full != wantFull {
			t.Fatalf("claim: %v %v, full %v; want a job, full %v", ok, err, job != nil && job.Full, wantFull)
		}
		return job
	}
	// finishAt writes every placement of job at version, as a writer that
	// found each as planned does (changed: and changed the store for another),
	// and returns the statements it ran.
	finishAt := func(job *tenants.Job, version string, changed bool) []string {
		t.Helper()
		res := tenants.JobResult{Version: version, Changed: changed}
		for _, w := range job.Writes {
			res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
		}
		var err error
		ran := statementsOf(func() { err = d.FinishJob(ctx, job, res) })
		if err != nil {
			t.Fatal(err)
		}
		return ran
	}
	finish := func(job *tenants.Job, version string) []string { return finishAt(job, version, false) }
	touching := func(ran []string) (n int) {
		for _, q := range ran {
			if strings.Contains(q, "written_keys = v.keys") || strings.Contains(q, "work_versions") { // markWritten, recordVersions
				n++
			}
		}
		return n
	}
	reassert := func() *tenants.Job {
		t.Helper()
		if _, err := d.RequeueAll(ctx); err != nil {
			t.Fatal(err)
		}
		return claim(true)
	}
	type row struct {
		State    string `db:"state"`
		Version  string `db:"version"`
		Attempts int    `db:"attempts"`
		Updated  string `db:"updated_at"`
		Versions int    `db:"versions"`
	}
	rowOf := func(name string) row {
		t.Helper()
		var r row
		if err := d.r.GetContext(ctx, &r, `SELECT p.state, p.version, p.attempts, CAST(p.updated_at AS TEXT) AS updated_at,
			(SELECT COUNT(*) FROM work_versions v WHERE v.placement_id = p.id) AS versions
			FROM placements p JOIN works w ON w.id = p.work_id WHERE w.res_name = ?`, name); err != nil {
			t.Fatal(err)
		}
		return r
	}

	if ran := finish(claim(false), "v1"); touching(ran) == 0 {
		t.Fatalf("the first write touched no placement: %q", ran)
	}
	now = now.Add(time.Minute)
	job := reassert()
	settled := 0
	for _, w := range job.Writes {
		if w.Settled && w.Version == "v1" {
			settled++
		}
	}
	if settled != n {
		t.Fatalf("the re-assert read %d of %d placements settled at v1", settled, n)
	}
	before := rowOf("r-0000")
	if ran := finish(job, "v1"); touching(ran) != 0 {
		t.Errorf("a re-assert that changed nothing ran %d statements on placements or versions, want 0:\n%s", touching(ran), strings.Join(ran, "\n"))
	}
	if after := rowOf("r-0000"); after != before {
		t.Errorf("a re-assert that changed nothing changed a placement: %+v, was %+v", after, before)
	}

	// Placements the next re-assert does not read settled: r-0001 retrying
	// after a failed attempt, r-0002 without its version recorded (written
	// before versions were), r-0003 submitted again while the job ran.
	if _, err := d.w.ExecContext(ctx, `UPDATE placements SET attempts = 2, error = 'push refused'
		WHERE work_id = (SELECT id FROM works WHERE res_name = 'r-0001')`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.ExecContext(ctx, `DELETE FROM work_versions
		WHERE work_id = (SELECT id FROM works WHERE res_name = 'r-0002')`); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	job = reassert()
	if _, err := d.SubmitWork(ctx, ten.ID, work(3, "x: 2\n"), false); err != nil {
		t.Fatal(err)
	}
	ran := finish(job, "v1")
	if got := touching(ran); got == 0 || got > 6 {
		t.Errorf("a re-assert that settles 2 placements ran %d statements on placements or versions, want a few", got)
	}
	if r := rowOf("r-0001"); r.State != tenants.StateWritten || r.Attempts != 0 {
		t.Errorf("the retrying placement, found as planned: %+v, want written with no attempts", r)
	}
	if r := rowOf("r-0002"); r.Versions != 1 {
		t.Errorf("the placement without its version: %+v, want its version recorded", r)
	}
	if r := rowOf("r-0003"); r.State != tenants.StatePending {
		t.Errorf("the placement submitted again during the re-assert: %+v, want pending", r)
	}
	if r := rowOf("r-0000"); r != before {
		t.Errorf("a settled placement changed: %+v, was %+v", r, before)
	}

	// A re-assert that found another commit at the tip and changed nothing
	// leaves every row at the version that wrote it, which still holds it.
	finish(claim(false), "v1") // r-0003's new generation
	now = now.Add(time.Minute)
	if ran := finish(reassert(), "v2"); touching(ran) != 0 {
		t.Errorf("a re-assert that changed nothing at a new tip ran %d statements on placements or versions, want 0:\n%s",
			touching(ran), strings.Join(ran, "\n"))
	}
	if r := rowOf("r-0000"); r != before {
		t.Errorf("after a re-assert that changed nothing at v2: %+v, was %+v", r, before)
	}
	// One that changed the store (a drift repaired) records its commit as the
	// placement's version: its generation keeps the version it was written at.
	now = now.Add(time.Minute)
	finishAt(reassert(), "v3", true)
	if r := rowOf("r-0000"); r.Version != "v3" || r.Updated == before.Updated || r.Versions != 1 {
		t.Errorf("after a re-assert that changed the store at v3: %+v, want version v3, updated, its one version recorded", r)
	}
}
