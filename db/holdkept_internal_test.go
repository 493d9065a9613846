package db

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// TestBucketReassertHoldsKeysOfPlacementsChangedAfterItsClaim: a bucket's full
// rewrite reads the placements it does not claim after the claim's commit
// (loadKept), so a Work submitted in between is read there, not by the claim
// that records what a placement may hold (mayHold). Those keys must still be
// recorded before the job puts them — a write killed half way otherwise leaves
// objects no row knows of — while a placement as written gets no statement.
func TestBucketReassertHoldsKeysOfPlacementsChangedAfterItsClaim(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := countingDB(t, func() time.Time { return now })
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	b := tenants.BucketStateStore{TenantID: ten.ID, Name: "b", Endpoint: "s3.example.com", BucketName: "bk", Path: "s",
		AuthMethod: tenants.AuthAccessKey, Credentials: tenants.BucketCredentials{AccessKeyID: "AK1", SecretAccessKey: "SK1"}}
	b.Normalize()
	if _, err := d.SaveBucketStore(ctx, b, false); err != nil {
		t.Fatal(err)
	}
	dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev",
		StoreKind: tenants.KindBucket, StoreName: "b"}
	dest.Normalize()
	if _, err := d.SaveDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}
	submit := func(name, path string) {
		t.Helper()
		req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: name},
			DestinationSelectors: map[string]string{"env": "dev"}, Files: []tenants.WorkFile{{Path: path, Content: "x: 1\n"}}}
		w, err := req.Work()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.SubmitWork(ctx, ten.ID, w, false); err != nil {
			t.Fatal(err)
		}
	}
	row := func(name string) (id int64, held []string) {
		t.Helper()
		var r struct {
			ID   int64  `db:"id"`
			Keys string `db:"written_keys"`
		}
		if err := d.r.GetContext(ctx, &r, `SELECT p.id, p.written_keys FROM placements p JOIN works w ON w.id = p.work_id
			WHERE w.res_name = ?`, name); err != nil {
			t.Fatal(err)
		}
		return r.ID, jsonStrings(r.Keys)
	}
	heldKeys := func(name string) []string { _, held := row(name); return held }
	submit("a", "x.yaml")
	submit("b", "x.yaml")
	writeNextJob(t, d, "v1")
	aKeys := heldKeys("a")
	now = now.Add(time.Minute)
	if _, err := d.RequeueAll(ctx); err != nil {
		t.Fatal(err)
	}
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok || !job.Full {
		t.Fatalf("claim of the re-assert: %v %v", ok, err)
	}
	if len(job.Writes) != 2 {
		t.Fatalf("the re-assert reads %d placements, want 2", len(job.Writes))
	}

	// Between the claim's commit and its read of the others: a moves to
	// y.yaml, and n arrives. The read again, as loadKept does it then.
	submit("a", "y.yaml")
	submit("n", "z.yaml")
	again := &tenants.Job{ID: job.ID, TenantID: job.TenantID, Store: job.Store, Full: true, Owner: job.Owner, Token: job.Token}
	ran := statementsOf(func() { err = d.loadKept(ctx, again) })
	if err != nil {
		t.Fatal(err)
	}
	writes := map[int64]tenants.PlacementWrite{}
	for _, w := range again.Writes {
		writes[w.ID] = w
	}
	if len(again.Writes) != 3 {
		t.Fatalf("loadKept read %d placements, want a, b and n", len(again.Writes))
	}
	for _, name := range []string{"a", "n"} {
		id, held := row(name)
		if writes[id].Generation != 2 && name == "a" {
			t.Errorf("a read at generation %d, want 2 (submitted again)", writes[id].Generation)
		}
		for _, k := range writes[id].Plan.Keys() {
			if !slices.Contains(held, k) {
				t.Errorf("%s: the job puts %s, which its row does not hold: %q", name, k, held)
			}
		}
	}
	for _, k := range aKeys {
		if !slices.Contains(heldKeys("a"), k) {
			t.Errorf("a forgot the key it was written at, %s: %q", k, heldKeys("a"))
		}
	}
	updates := 0
	for _, q := range ran {
		if strings.Contains(q, "UPDATE placements SET written_keys") {
			updates++
		}
	}
	if updates != 2 {
		t.Errorf("loadKept ran %d updates, want one each for a and n (b is as written):\n%q", updates, ran)
	}
}
