package db

import (
	"bytes"
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestRevivingAPlacementRemovedMeanwhile: a placement marked for removal (its
// Destination no longer matches, or its Work was deleted) is brought back by
// a re-plan or a submit, while the writer that removed its files deletes the
// row. The writer's finish may commit after the re-plan read the row and
// before the re-plan writes it: the placement is then inserted anew, and its
// claims must name the new row. They named the row read, which no longer
// existed, and the whole change failed on claims' foreign key (an apply
// answered 500, seen with two replicas while a Destination's labels flipped).
func TestRevivingAPlacementRemovedMeanwhile(t *testing.T) {
	cases := []struct {
		name           string
		retire, revive func(ctx context.Context, d *DB, ten tenants.Tenant, w *tenants.Work) error
	}{
		{"a re-plan", func(ctx context.Context, d *DB, ten tenants.Tenant, _ *tenants.Work) error {
			return relabel(ctx, d, ten, "staging")
		}, func(ctx context.Context, d *DB, ten tenants.Tenant, _ *tenants.Work) error {
			return relabel(ctx, d, ten, "dev")
		}},
		{"a submit", func(ctx context.Context, d *DB, ten tenants.Tenant, w *tenants.Work) error {
			_, err := d.DeleteWork(ctx, ten.ID, w.ID)
			return err
		}, func(ctx context.Context, d *DB, ten tenants.Tenant, _ *tenants.Work) error {
			_, err := d.SubmitWork(ctx, ten.ID, devWork(t, 1, "a: 1\n"), false)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, proxy := statementTextDB(t)
			ctx := context.Background()
			ten := gitDevTeam(t, d)
			w := devWork(t, 1, "a: 1\n")
			if _, err := d.SubmitWork(ctx, ten.ID, w, false); err != nil {
				t.Fatal(err)
			}
			writeNextJob(t, d, "v1")
			if err := tc.retire(ctx, d, ten, w); err != nil {
				t.Fatal(err)
			}
			job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
			if err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			var removed *tenants.PlacementOutcome
			for _, pw := range job.Writes {
				if pw.Delete {
					removed = &tenants.PlacementOutcome{ID: pw.ID, Generation: pw.Generation, Delete: true}
				}
			}
			if removed == nil {
				t.Fatalf("the job removes nothing: %+v", job.Writes)
			}
			// The writer's finish of that removal commits just before the
			// placement's upsert reaches the database.
			var fired atomic.Bool
			finished := make(chan error, 1)
			proxy.OnSendChunk(func(chunk []byte) {
				if bytes.Contains(chunk, []byte("INSERT INTO placements")) && fired.CompareAndSwap(false, true) {
					finished <- d.tx(ctx, func(tx *sqlx.Tx) error { return d.finishPlacement(ctx, tx, ten.ID, *removed) })
				}
			})
			err = tc.revive(ctx, d, ten, w)
			proxy.OnSendChunk(nil)
			if !fired.Load() {
				t.Fatal("no placement was upserted through the proxy; the test saw nothing")
			}
			if ferr := <-finished; ferr != nil {
				t.Fatalf("the finish: %v", ferr)
			}
			if err != nil {
				t.Fatalf("bringing the placement back: %v", err)
			}
			var n int
			if err := d.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM claims c JOIN placements p ON p.id = c.placement_id
				WHERE p.tenant_id = ? AND p.work_id = ? AND p.intent = 'write' AND p.state = 'pending'`, ten.ID, w.ID); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Error("the Work's placement to write holds no claim")
			}
		})
	}
}

func relabel(ctx context.Context, d *DB, ten tenants.Tenant, env string) error {
	dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": env}, Path: "dev",
		StoreKind: tenants.KindGit, StoreName: "repo"}
	dest.Normalize()
	_, err := d.SaveDestination(ctx, dest)
	return err
}

// statementTextDB is pipelineDBAt with every statement's text sent each time
// (pgx's exec mode instead of its prepared-statement cache), so that a
// proxy's hook can recognise a statement by its text.
func statementTextDB(t *testing.T) (*DB, *testpeers.TCPProxy) {
	t.Helper()
	d, proxy, _ := pipelineDBAt(t, url.Values{"default_query_exec_mode": {"exec"}})
	return d, proxy
}
