package db_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// TestWorkTrailReachesTheWriters: who submitted a Work (with the person's
// display name), the request's correlation id and the Work's labels are on the
// Work and on every placement of a claimed job, with the store's commit trail
// settings; each version a job wrote is listed on the Work, newest first, the
// last 50 per placement.
func TestWorkTrailReachesTheWriters(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		g, err := d.GitStore(ctx, tid, "repo")
		if err != nil {
			t.Fatal(err)
		}
		g.CommitMessage, g.AuthorFromRequester = "{{.Summary}} JIRA-1", true
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		u, err := d.UpsertUser(ctx, tenants.User{Issuer: "https://idp", Subject: "a", Email: "alice@example.com", Name: "Alice Doe"}, true)
		if err != nil {
			t.Fatal(err)
		}
		w := resourceWork("r", "dev", "a.yaml", "0")
		w.Labels, w.CorrelationID = map[string]string{"jira": "JIRA-9"}, "idem-1"
		res, err := d.SubmitWorkAs(ctx, tid, w, tenants.Actor{Kind: tenants.ActorPerson, ID: u.ID, Name: u.Email}, "write")
		if err != nil {
			t.Fatal(err)
		}
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok || len(job.Writes) != 1 {
			t.Fatalf("claim: %v %v %+v", ok, err, job)
		}
		want := tenants.WorkTrail{ID: res.Work, Team: "team-a", Name: w.Name(), Promise: "redis", Labels: w.Labels,
			Requester: tenants.Requester{Kind: tenants.ActorPerson, By: "alice@example.com", Name: "Alice Doe"}, CorrelationID: "idem-1"}
		got := job.Writes[0].Work
		if !maps.Equal(got.Labels, want.Labels) || got.ID != want.ID || got.Team != want.Team || got.Name != want.Name ||
			got.Promise != want.Promise || got.Requester != want.Requester || got.CorrelationID != want.CorrelationID {
			t.Errorf("placement's Work %+v, want %+v", got, want)
		}
		if job.CommitMessage != g.CommitMessage || !job.AuthorFromRequester {
			t.Errorf("job's commit settings %q %v, want the store's", job.CommitMessage, job.AuthorFromRequester)
		}
		writeAll(t, ctx, d, job)
		v, err := d.Work(ctx, tid, res.Work)
		if err != nil {
			t.Fatal(err)
		}
		if v.RequestedBy != "alice@example.com" || v.RequesterName != "Alice Doe" || v.CorrelationID != "idem-1" || v.Labels["jira"] != "JIRA-9" {
			t.Errorf("Work view %+v lacks who asked", v)
		}
		if len(v.Versions) != 1 || v.Versions[0].Version != "v1" || v.Versions[0].Destination != "dev" {
			t.Fatalf("versions %+v, want the one write", v.Versions)
		}

		for i := 2; i <= 55; i++ {
			submit(t, d, tid, resourceWork("r", "dev", "a.yaml", fmt.Sprint(i)), false)
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("claim %d: %v %v", i, ok, err)
			}
			res := tenants.JobResult{Version: fmt.Sprintf("v%d", i)}
			for _, w := range job.Writes {
				res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
			}
			if err := d.FinishJob(ctx, job, res); err != nil {
				t.Fatal(err)
			}
		}
		v, err = d.Work(ctx, tid, res.Work)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Versions) != 50 || v.Versions[0].Version != "v55" || v.Versions[49].Version != "v6" {
			t.Errorf("%d versions from %q to %q, want the last 50: v55 … v6", len(v.Versions), v.Versions[0].Version, v.Versions[len(v.Versions)-1].Version)
		}
		// Another tenant's Work is not found, its versions neither.
		other, err := d.CreateTenant(ctx, "team-b", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Work(ctx, other.ID, res.Work); err == nil {
			t.Error("another tenant read the Work")
		}
	})
}
