package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// moveDB opens a database with a tenant and a store "s1" of kind (path "s")
// holding two Destinations: "dev" (env=dev, nested) and "prod" (env=prod, mode
// none). Every test of a move starts from it.
func moveDB(t *testing.T, tg target, kind string) (*db.DB, int64) {
	t.Helper()
	d, tid, _ := clockedMoveDB(t, tg, kind)
	return d, tid
}

// clockedMoveDB is moveDB with its clock.
func clockedMoveDB(t *testing.T, tg target, kind string) (*db.DB, int64, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := db.NewSealer(key(1))
	d, err := db.Open(context.Background(), tg.options(s, c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if kind == tenants.KindGit {
		_, err = d.SaveGitStore(ctx, gitS1(ten.ID), false)
	} else {
		_, err = d.SaveBucketStore(ctx, bucketS1(ten.ID), false)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range []tenants.Destination{
		{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev", StoreKind: kind, StoreName: "s1", InitWorkloads: true},
		{TenantID: ten.ID, Name: "prod", Labels: map[string]string{"env": "prod"}, Path: "prod", StoreKind: kind, StoreName: "s1", Mode: tenants.ModeNone, InitWorkloads: true},
	} {
		dest.Normalize()
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
	}
	return d, ten.ID, c
}

func gitS1(tenantID int64) tenants.GitStateStore {
	g := tenants.GitStateStore{TenantID: tenantID, Name: "s1", URL: "https://git.example.com/old.git", Branch: "main", Path: "s",
		Credentials: tenants.GitCredentials{Password: "token-1"}}
	g.Normalize()
	return g
}

func bucketS1(tenantID int64) tenants.BucketStateStore {
	b := tenants.BucketStateStore{TenantID: tenantID, Name: "s1", Endpoint: "s3.example.com", BucketName: "old", Path: "s",
		AuthMethod: tenants.AuthAccessKey, Credentials: tenants.BucketCredentials{AccessKeyID: "AK1", SecretAccessKey: "SK1"}}
	b.Normalize()
	return b
}

// writeStore claims the store's jobs and reports each as written until none is
// due.
func writeStore(t *testing.T, d *db.DB) {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		if !ok {
			return
		}
		if err := d.FinishJob(ctx, job, writtenResult(job)); err != nil {
			t.Fatalf("FinishJob: %v", err)
		}
	}
	t.Fatal("jobs keep coming")
}

// movedStore is the situation every store move test starts from: Works "a" (on
// dev) and "b" (on prod) written, and a job running that writes a new version of
// "a" and removes the deleted Work "gone".
type movedStore struct {
	d       *db.DB
	tid     int64
	works   []int64
	running *tenants.Job
}

func beforeMove(t *testing.T, tg target, kind string) movedStore {
	t.Helper()
	ctx := context.Background()
	d, tid := moveDB(t, tg, kind)
	m := movedStore{d: d, tid: tid}
	for _, w := range []*tenants.Work{
		resourceWork("a", "dev", "a.yaml", "1"), resourceWork("b", "prod", "b.yaml", "1"), resourceWork("gone", "dev", "g.yaml", "1"),
	} {
		m.works = append(m.works, submit(t, d, tid, w, false).Work)
	}
	writeStore(t, d)
	if _, err := d.DeleteWork(ctx, tid, m.works[2]); err != nil {
		t.Fatal(err)
	}
	submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "2"), false)
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	m.running = job
	return m
}

// TestStoreMovedToAnotherLocation: pointing a store at another repository,
// branch, bucket or endpoint puts every live placement and canary file back to
// pending in the same transaction, with nothing recorded as written there;
// removals still to be made in the old location are dropped (nothing is removed
// from it); the job writing the old location loses its lease, so its outcome is
// not recorded; and the next job, due at once, writes everything.
func TestStoreMovedToAnotherLocation(t *testing.T) {
	cases := []struct {
		name, kind string
		edit       func(*tenants.GitStateStore, *tenants.BucketStateStore)
	}{
		{"git url", tenants.KindGit, func(g *tenants.GitStateStore, _ *tenants.BucketStateStore) { g.URL = "https://git.example.com/new.git" }},
		{"git branch", tenants.KindGit, func(g *tenants.GitStateStore, _ *tenants.BucketStateStore) { g.Branch = "moved" }},
		{"bucketName", tenants.KindBucket, func(_ *tenants.GitStateStore, b *tenants.BucketStateStore) { b.BucketName = "new" }},
		{"endpoint", tenants.KindBucket, func(_ *tenants.GitStateStore, b *tenants.BucketStateStore) { b.Endpoint = "s3.other.example.com" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eachDialect(t, func(t *testing.T, tg target) {
				ctx := context.Background()
				m := beforeMove(t, tg, c.kind)
				g, b := gitS1(m.tid), bucketS1(m.tid)
				c.edit(&g, &b)
				var saved tenants.Saved
				var err error
				if c.kind == tenants.KindGit {
					saved, err = m.d.SaveGitStore(ctx, g, false)
				} else {
					saved, err = m.d.SaveBucketStore(ctx, b, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				want := "2 placements on 2 Destinations will be written to the new location, canary files included; nothing is removed from the old one"
				if saved.Action != tenants.ActionUpdated || !strings.HasPrefix(saved.Message, want) || !strings.Contains(saved.Message, "1 removal") {
					t.Errorf("saved %+v; want updated, %q and the dropped removal", saved, want)
				}
				for _, id := range m.works[:2] {
					v, err := m.d.Work(ctx, m.tid, id)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range v.Placements {
						if p.State != tenants.StatePending || p.Version != "" {
							t.Errorf("after the move %s is %s (version %q); want pending until the new location holds it", p.Name, p.State, p.Version)
						}
					}
				}
				if err := m.d.FinishJob(ctx, m.running, writtenResult(m.running)); !errors.Is(err, db.ErrLeaseLost) {
					t.Errorf("the old location's job finished with %v; want ErrLeaseLost (its write went to the old location)", err)
				}
				job, ok, err := m.d.ClaimJob(ctx, "new-writer", time.Minute)
				if err != nil || !ok {
					t.Fatalf("no job due after the move: %v %v", ok, err)
				}
				if len(job.Writes) != 2 || len(job.Canaries) != 2 {
					t.Errorf("next job writes %d placements and %d canaries; want 2 and 2", len(job.Writes), len(job.Canaries))
				}
				for _, w := range job.Writes {
					if w.Delete || len(w.WrittenKeys) > 0 || w.WrittenPrefix != "" {
						t.Errorf("next job's %s: delete %v, written %v %q; want a write with nothing recorded at the new location",
							w.Name, w.Delete, w.WrittenKeys, w.WrittenPrefix)
					}
				}
				for _, cw := range job.Canaries {
					if cw.Delete || len(cw.WrittenKeys) > 0 {
						t.Errorf("next job's canary of %s: delete %v, written %v", cw.Destination, cw.Delete, cw.WrittenKeys)
					}
				}
				if err := m.d.FinishJob(ctx, job, writtenResult(job)); err != nil {
					t.Fatal(err)
				}
				v, _ := m.d.Work(ctx, m.tid, m.works[0])
				if len(v.Placements) != 1 || v.Placements[0].State != tenants.StateWritten {
					t.Errorf("after the new location's job: %+v; want written", v.Placements)
				}
			})
		})
	}
}

// TestStoreMoveMessageInApply: apply answers, beside the action, what the move
// will write where; a change of credentials only rewrites nothing.
func TestStoreMoveMessageInApply(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d, tid := moveDB(t, tg, tenants.KindGit)
		apply := func(url, password string) tenants.ApplyResult {
			t.Helper()
			docs, errs := tenants.ParseKratixYAML([]byte(fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: s1}
spec: {url: %q, branch: main, path: s, secretRef: {name: creds}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: %q}
`, url, password)), tenants.ParseOptions{})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if errs := tenants.ResolveSecrets(docs, func(string) (tenants.Secret, bool) { return tenants.Secret{}, false }); len(errs) > 0 {
				t.Fatal(errs)
			}
			res, err := d.Apply(ctx, tid, docs, tenants.ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Results {
				if r.Kind == tenants.KindGit {
					return r
				}
			}
			t.Fatal("no store result")
			return tenants.ApplyResult{}
		}
		if got := apply("https://git.example.com/elsewhere.git", "token-1"); !strings.HasPrefix(got.Message,
			"nothing is placed on it yet: its Destinations' canary files will be written to the new location; nothing is removed") {
			t.Errorf("move of a store with canary files only: %q", got.Message)
		}
		apply("https://git.example.com/old.git", "token-1")
		submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "1"), false)
		writeStore(t, d)
		got := apply("https://git.example.com/new.git", "token-1")
		if want := "1 placement on 1 Destination will be written to the new location, canary files included; nothing is removed from the old one"; got.Message != want {
			t.Errorf("move: %+v; want message %q", got, want)
		}
		writeStore(t, d)
		got = apply("https://git.example.com/new.git", "token-2")
		if want := "readiness is checked again; nothing is rewritten"; got.Action != tenants.ActionUpdated || got.Message != want {
			t.Errorf("credentials: %+v; want updated, %q", got, want)
		}
		if job, ok, err := d.ClaimJob(ctx, "w", time.Minute); err != nil || ok {
			t.Errorf("credentials only queued job %+v (%v); want nothing rewritten", job, err)
		}
	})
}

// claimsUnder lists the claims of store s1 below prefix.
func claimsUnder(t *testing.T, d *db.DB, tid int64, kind, prefix string) []string {
	t.Helper()
	got, err := d.Claimed(context.Background(), tenants.StoreRef{TenantID: tid, Kind: kind, Name: "s1"}, nil, []string{prefix})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStorePathMoved: a store's new path (same repository or bucket) writes
// every placement at its new keys and removes the old ones (the next job
// carries what was written there), with the claims moved along.
func TestStorePathMoved(t *testing.T) {
	for _, kind := range []string{tenants.KindGit, tenants.KindBucket} {
		t.Run(kind, func(t *testing.T) {
			eachDialect(t, func(t *testing.T, tg target) {
				ctx := context.Background()
				d, tid := moveDB(t, tg, kind)
				submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "1"), false)
				submit(t, d, tid, resourceWork("b", "prod", "b.yaml", "1"), false)
				writeStore(t, d)
				var saved tenants.Saved
				var err error
				if kind == tenants.KindGit {
					g := gitS1(tid)
					g.Path = "t"
					saved, err = d.SaveGitStore(ctx, g, false)
				} else {
					b := bucketS1(tid)
					b.Path = "t"
					saved, err = d.SaveBucketStore(ctx, b, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := "2 placements on 2 Destinations will be written under the new path, canary files included, and removed from the old one"; saved.Message != want {
					t.Errorf("message %q; want %q", saved.Message, want)
				}
				if old := claimsUnder(t, d, tid, kind, "s/"); len(old) > 0 {
					t.Errorf("claims left at the old path: %v", old)
				}
				if len(claimsUnder(t, d, tid, kind, "t/")) == 0 {
					t.Error("no claims at the new path")
				}
				job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
				if err != nil || !ok {
					t.Fatalf("no job after the path move: %v %v", ok, err)
				}
				if len(job.Writes) != 2 || len(job.Canaries) != 2 {
					t.Fatalf("next job: %d writes, %d canaries; want 2 and 2", len(job.Writes), len(job.Canaries))
				}
				for _, w := range job.Writes {
					for _, k := range w.Plan.Keys() {
						if !strings.HasPrefix(k, "t/") {
							t.Errorf("%s writes %s; want it under t/", w.Name, k)
						}
					}
					if len(w.WrittenKeys) == 0 || !strings.HasPrefix(w.WrittenKeys[0], "s/") {
						t.Errorf("%s: written keys %v; want the old keys under s/, to be removed", w.Name, w.WrittenKeys)
					}
				}
			})
		})
	}
}

// TestDestinationPathMoved: a Destination's new path is written at the new keys
// and removed from the old ones; the apply answer says so.
func TestDestinationPathMoved(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d, tid := moveDB(t, tg, tenants.KindGit)
		submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "1"), false)
		submit(t, d, tid, resourceWork("b", "prod", "b.yaml", "1"), false)
		writeStore(t, d)
		dest := tenants.Destination{TenantID: tid, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev2",
			StoreKind: tenants.KindGit, StoreName: "s1", InitWorkloads: true}
		dest.Normalize()
		saved, err := d.SaveDestination(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		if want := "1 placement will be written under the new path, canary files included, and removed from the old one"; saved.Message != want {
			t.Errorf("message %q; want %q", saved.Message, want)
		}
		if old := claimsUnder(t, d, tid, tenants.KindGit, "s/dev/"); len(old) > 0 {
			t.Errorf("claims left at the old path: %v", old)
		}
		job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
		if err != nil || !ok || len(job.Writes) != 1 {
			t.Fatalf("next job %+v, %v %v; want the one placement on dev", job, ok, err)
		}
		w := job.Writes[0]
		if !strings.HasPrefix(w.Plan.Keys()[0], "s/dev2/") || len(w.WrittenKeys) == 0 || !strings.HasPrefix(w.WrittenKeys[0], "s/dev/") {
			t.Errorf("next job writes %v with written %v; want s/dev2/… and the old s/dev/… to remove", w.Plan.Keys(), w.WrittenKeys)
		}
	})
}

// TestStorePathMoveOntoAnotherDestinationsKeys: when a store's path moves one
// Destination's keys onto keys another Destination of the store holds until it
// moves too (Destinations "b" and "a/b", store path "" to "a"), every
// placement still moves: the new plans are checked against each other, not
// against the keys being left.
func TestStorePathMoveOntoAnotherDestinationsKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d, tid := moveDB(t, tg, tenants.KindGit)
		g := gitS1(tid)
		g.Path = ""
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		for _, dest := range []tenants.Destination{
			{TenantID: tid, Name: "alpha", Path: "b", StoreKind: tenants.KindGit, StoreName: "s1", InitWorkloads: true},
			{TenantID: tid, Name: "beta", Path: "a/b", StoreKind: tenants.KindGit, StoreName: "s1", InitWorkloads: true},
		} {
			dest.Normalize()
			if _, err := d.SaveDestination(ctx, dest); err != nil {
				t.Fatal(err)
			}
		}
		deps := tenants.WorkRequest{Promise: "redis", Files: []tenants.WorkFile{{Path: "x.yaml", Content: "1"}}}
		w, err := deps.Work()
		if err != nil {
			t.Fatal(err)
		}
		id := submit(t, d, tid, w, false).Work
		writeStore(t, d)
		g.Path = "a"
		if _, err := d.SaveGitStore(ctx, g, false); err != nil {
			t.Fatal(err)
		}
		v, err := d.Work(ctx, tid, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Placements {
			if len(p.Paths) == 0 || !strings.HasPrefix(p.Paths[0], "a/") || p.State != tenants.StatePending {
				t.Errorf("after the move %s is %s at %v; want pending at its new keys under a/", p.Name, p.State, p.Paths)
			}
		}
	})
}

// TestMoveMessagesWithoutCanaryFiles: when no affected Destination writes canary
// files (initWorkloads off), a move's message says none are included: it counts
// what the move put back to pending.
func TestMoveMessagesWithoutCanaryFiles(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		d, tid := moveDB(t, tg, tenants.KindGit)
		dests := map[string]tenants.Destination{}
		for _, name := range []string{"dev", "prod"} {
			dest := tenants.Destination{TenantID: tid, Name: name, Labels: map[string]string{"env": name}, Path: name,
				StoreKind: tenants.KindGit, StoreName: "s1"}
			if name == "prod" {
				dest.Mode = tenants.ModeNone
			}
			dest.Normalize()
			if _, err := d.SaveDestination(ctx, dest); err != nil {
				t.Fatal(err)
			}
			dests[name] = dest
		}
		writeStore(t, d)
		store := gitS1(tid)
		saveStore := func(what string, change func(*tenants.GitStateStore), want string) {
			t.Helper()
			change(&store)
			saved, err := d.SaveGitStore(ctx, store, false)
			if err != nil {
				t.Fatal(err)
			}
			if saved.Message != want {
				t.Errorf("%s: message %q; want %q", what, saved.Message, want)
			}
			writeStore(t, d)
		}
		saveDest := func(what, name, path, want string) {
			t.Helper()
			dest := dests[name]
			dest.Path = path
			saved, err := d.SaveDestination(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if saved.Message != want {
				t.Errorf("%s: message %q; want %q", what, saved.Message, want)
			}
			writeStore(t, d)
		}
		saveStore("new location, nothing placed", func(s *tenants.GitStateStore) { s.URL = "https://git.example.com/new.git" },
			"nothing is placed on it yet and none of its Destinations writes canary files: nothing will be written to the new location; nothing is removed from the old one")
		saveStore("new path, nothing placed", func(s *tenants.GitStateStore) { s.Path = "t" },
			"nothing is placed on it yet and none of its Destinations writes canary files: nothing will be written under the new path")
		saveDest("Destination path, nothing placed", "prod", "prod2",
			"nothing is placed on it yet and it writes no canary files (initWorkloads is off): nothing will be written under the new path")

		submit(t, d, tid, resourceWork("a", "dev", "a.yaml", "1"), false)
		writeStore(t, d)
		saveStore("new location", func(s *tenants.GitStateStore) { s.URL = "https://git.example.com/newer.git" },
			"1 placement on 1 Destination will be written to the new location; nothing is removed from the old one")
		saveStore("new path", func(s *tenants.GitStateStore) { s.Path = "u" },
			"1 placement on 1 Destination will be written under the new path and removed from the old one")
		saveDest("Destination path", "dev", "dev2", "1 placement will be written under the new path and removed from the old one")
	})
}
