package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// writeAll finishes job as a successful write of every placement it carries.
func writeAll(t *testing.T, ctx context.Context, d interface {
	FinishJob(context.Context, *tenants.Job, tenants.JobResult) error
}, job *tenants.Job) {
	t.Helper()
	res := tenants.JobResult{Version: "v1"}
	for _, w := range job.Writes {
		o := tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Delete: w.Delete}
		if !w.Delete {
			for _, f := range w.Plan.Files {
				o.Keys = append(o.Keys, f.Path)
			}
			if w.Plan.StateFile != nil {
				o.Keys = append(o.Keys, w.Plan.StateFile.Path)
			}
		}
		res.Placements = append(res.Placements, o)
	}
	if err := d.FinishJob(ctx, job, res); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
}

// TestResubmitDuringWriteKeepsWrittenKeys: a Work submitted again while its
// previous version is being written must not make the store's files of that
// write forgotten: the next job still removes what the new version drops
// (mode none {a,b} then {a,c} leaves no b).
func TestResubmitDuringWriteKeepsWrittenKeys(t *testing.T) {
	d, tid, _ := worksDB(t)
	ctx := context.Background()
	submit(t, d, tid, resourceWork("r", "prod", "a.yaml", "1", "b.yaml", "1"), false)
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	submit(t, d, tid, resourceWork("r", "prod", "a.yaml", "2", "c.yaml", "2"), false) // while the push runs
	writeAll(t, ctx, d, job)                                                          // the push of {a,b} succeeded
	job2, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("second claim: %v %v", ok, err)
	}
	var w *tenants.PlacementWrite
	for i := range job2.Writes {
		if job2.Writes[i].Destination == "prod" {
			w = &job2.Writes[i]
		}
	}
	if w == nil || !slices.Contains(w.WrittenKeys, "s/prod/b.yaml") {
		t.Fatalf("second job's placement %+v: its written keys lack s/prod/b.yaml, which the first push wrote", w)
	}
}

// TestDeleteDuringWriteForgetsNothing: a Work deleted while its write runs
// leaves what that write put on record, so the removal takes it away.
func TestDeleteDuringWriteForgetsNothing(t *testing.T) {
	d, tid, _ := worksDB(t)
	ctx := context.Background()
	res := submit(t, d, tid, resourceWork("r", "prod", "a.yaml", "1"), false)
	job, _, _ := d.ClaimJob(ctx, "w", time.Minute)
	if _, err := d.DeleteWork(ctx, tid, res.Work); err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, d, job)
	job2, ok, _ := d.ClaimJob(ctx, "w", time.Minute)
	if !ok || len(job2.Writes) != 1 || !job2.Writes[0].Delete || !slices.Contains(job2.Writes[0].WrittenKeys, "s/prod/a.yaml") {
		t.Fatalf("removal job %+v: want a delete that knows s/prod/a.yaml", job2)
	}
}

// TestNewWorkKeepsBackoff: a store whose job is waiting out a backoff after a
// failed write is not retried at once because another Work arrived.
func TestNewWorkKeepsBackoff(t *testing.T) {
	d, tid, c := worksDB(t)
	ctx := context.Background()
	submit(t, d, tid, resourceWork("r1", "prod", "a.yaml", "1"), false)
	job, _, _ := d.ClaimJob(ctx, "w", time.Minute)
	if err := d.FinishJob(ctx, job, tenants.JobResult{Err: "remote down"}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		submit(t, d, tid, resourceWork("burst"+string(rune('a'+i)), "prod", "burst-"+string(rune('a'+i))+".yaml", "1"), false)
	}
	if j, ok, _ := d.ClaimJob(ctx, "w", time.Minute); ok {
		t.Fatalf("claimed job %d during its backoff after new Works arrived", j.ID)
	}
	c.add(2 * time.Second)
	if _, ok, _ := d.ClaimJob(ctx, "w", time.Minute); !ok {
		t.Fatal("no job due after the backoff")
	}
}

// TestDeleteStoreWithPendingRemovals: a store whose Destination was deleted with
// cleanup "all" keeps its removals until they are written; deleting it meanwhile
// is refused, or drops them when asked, so a store created again under the same
// name inherits nothing.
func TestDeleteStoreWithPendingRemovals(t *testing.T) {
	d, tid, _ := worksDB(t)
	ctx := context.Background()
	for _, name := range []string{"dev", "prod"} {
		dest, err := d.Destination(ctx, tid, name)
		if err != nil {
			t.Fatal(err)
		}
		dest.Cleanup = tenants.CleanupAll
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
	}
	submit(t, d, tid, resourceWork("r", "prod", "a.yaml", "1"), false)
	for _, name := range []string{"dev", "prod"} {
		if err := d.DeleteDestination(ctx, tid, name); err != nil {
			t.Fatal(err)
		}
	}
	err := d.DeleteStore(ctx, tid, tenants.KindGit, "repo")
	if !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("DeleteStore with removals pending = %v, want a conflict", err)
	}
	n, err := d.DropStore(ctx, tid, tenants.KindGit, "repo")
	if err != nil || n == 0 {
		t.Fatalf("DropStore = %d, %v; want the pending removals dropped", n, err)
	}
	g := tenants.GitStateStore{TenantID: tid, Name: "repo", URL: "https://git.example.com/r.git", Path: "s"}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	if job, ok, _ := d.ClaimJob(ctx, "w", time.Minute); ok {
		t.Fatalf("the re-created store inherited job %+v", job)
	}
}

// TestDeletedWorkReleasesItsKeys: once a Work is deleted, another Work may use
// its paths (even as a directory) at once.
func TestDeletedWorkReleasesItsKeys(t *testing.T) {
	d, tid, _ := worksDB(t)
	ctx := context.Background()
	res := submit(t, d, tid, resourceWork("r1", "prod", "app", "1"), false)
	if _, err := d.SubmitWork(ctx, tid, resourceWork("r2", "prod", "app/x.yaml", "1"), false); !errors.Is(err, tenants.ErrConflict) {
		t.Fatalf("clash = %v, want a conflict", err)
	}
	if _, err := d.DeleteWork(ctx, tid, res.Work); err != nil {
		t.Fatal(err)
	}
	submit(t, d, tid, resourceWork("r2", "prod", "app/x.yaml", "1"), false)
}
