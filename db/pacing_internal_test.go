package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/stateward/stateward/tenants"
)

// countingDriver is mattn's SQLite driver counting the statements (round trips)
// its connections run.
const countingDriver = "sqlite3-stateward-counting"

var statements atomic.Int64

func init() {
	sql.Register(countingDriver, countingSQLite{&sqlite3.SQLiteDriver{}})
}

type countingSQLite struct{ d *sqlite3.SQLiteDriver }

func (c countingSQLite) Open(name string) (driver.Conn, error) {
	conn, err := c.d.Open(name)
	if err != nil {
		return nil, err
	}
	return countingConn{conn.(*sqlite3.SQLiteConn)}, nil
}

type countingConn struct{ *sqlite3.SQLiteConn }

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	noteStatement(q)
	return c.SQLiteConn.ExecContext(ctx, q, args)
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	noteStatement(q)
	return c.SQLiteConn.QueryContext(ctx, q, args)
}

// transactions counts the transactions begun on countingDriver's connections.
var transactions atomic.Int64

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	transactions.Add(1)
	return c.SQLiteConn.BeginTx(ctx, opts)
}

// statementLog, while not nil, collects the text of every statement run.
var (
	statementMu  sync.Mutex
	statementLog *[]string
)

func noteStatement(q string) {
	statements.Add(1)
	statementMu.Lock()
	defer statementMu.Unlock()
	if statementLog != nil {
		*statementLog = append(*statementLog, q)
	}
}

// statementsOf runs fn and returns the statements it ran.
func statementsOf(fn func()) []string {
	var log []string
	statementMu.Lock()
	statementLog = &log
	statementMu.Unlock()
	defer func() {
		statementMu.Lock()
		statementLog = nil
		statementMu.Unlock()
	}()
	fn()
	statementMu.Lock()
	defer statementMu.Unlock()
	return slices.Clone(log)
}

// gitTeam creates team-a with a Git store "repo".
func gitTeam(t *testing.T, d *DB) tenants.Tenant {
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
	return ten
}

// gitDevTeam creates team-a with a Git store "repo" (gitTeam) and a Destination
// "dev" on it, labelled env=dev.
func gitDevTeam(t *testing.T, d *DB) tenants.Tenant {
	t.Helper()
	ten := gitTeam(t, d)
	dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Labels: map[string]string{"env": "dev"}, Path: "dev",
		StoreKind: tenants.KindGit, StoreName: "repo"}
	dest.Normalize()
	if _, err := d.SaveDestination(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	return ten
}

// devWork is Work r-NNNN (i) for env=dev, one file a.yaml holding content.
func devWork(t *testing.T, i int, content string) *tenants.Work {
	t.Helper()
	req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: fmt.Sprintf("r-%04d", i)},
		DestinationSelectors: map[string]string{"env": "dev"}, Files: []tenants.WorkFile{{Path: "a.yaml", Content: content}}}
	w, err := req.Work()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// writeNextJob claims the next job and finishes it as a writer that wrote
// every placement of it at version does.
func writeNextJob(t *testing.T, d *DB, version string) {
	t.Helper()
	ctx := context.Background()
	job, ok, err := d.ClaimJob(ctx, "w", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	res := tenants.JobResult{Version: version}
	for _, w := range job.Writes {
		res.Placements = append(res.Placements, tenants.PlacementOutcome{ID: w.ID, Generation: w.Generation, Keys: w.Plan.Keys()})
	}
	if err := d.FinishJob(ctx, job, res); err != nil {
		t.Fatal(err)
	}
}

// countingDB is a SQLite database whose writer connection counts its
// statements (countingDriver).
func countingDB(t *testing.T, now func() time.Time) *DB {
	t.Helper()
	s, _ := NewSealer(make([]byte, 32))
	path := filepath.Join(t.TempDir(), "s.db")
	d, err := Open(context.Background(), Options{Path: path, Sealer: s, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(path)}
	w, err := sqlx.Open(countingDriver, u.String()+"?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	old := d.w
	d.w = w
	old.Close()
	return d
}

// TestEnqueueRoundTripsUnchanged: pacing adds no statement to the submit path.
// Queuing a job takes one read and one upsert when none is queued, and one
// read when one is, whether that job is due now, paced after the store's last
// push (next_push_at folded into the same statements), or of a bucket.
func TestEnqueueRoundTripsUnchanged(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := countingDB(t, func() time.Time { return now })
	ten := gitTeam(t, d)
	// enqueue runs it, in a transaction, and reports the statements it ran and
	// the job's run_after.
	enqueue := func(k storeKey) (int64, time.Time) {
		t.Helper()
		var n int64
		var due time.Time
		if err := d.tx(ctx, func(tx *sqlx.Tx) error {
			before := statements.Load()
			id, err := d.enqueue(ctx, tx, ten.ID, k, false)
			n = statements.Load() - before
			if err != nil {
				return err
			}
			return tx.GetContext(ctx, &due, `SELECT run_after FROM jobs WHERE id = ?`, id)
		}); err != nil {
			t.Fatal(err)
		}
		return n, due
	}
	git, bucket := storeKey{tenants.KindGit, "repo"}, storeKey{tenants.KindBucket, "b"}
	for _, k := range []storeKey{git, bucket} {
		if n, due := enqueue(k); n != 2 || !due.Equal(now) {
			t.Errorf("%s, no job queued: %d statements, due %s; want 2 (read, upsert), due now", k.kind, n, due)
		}
		if n, _ := enqueue(k); n != 1 {
			t.Errorf("%s, a due job queued: %d statements, want 1 (the read)", k.kind, n)
		}
	}
	if _, err := d.w.Exec(`DELETE FROM jobs`); err != nil {
		t.Fatal(err)
	}
	paced := now.Add(10 * time.Second)
	if _, err := d.w.Exec(`UPDATE git_stores SET next_push_at = ?`, paced); err != nil {
		t.Fatal(err)
	}
	if n, due := enqueue(git); n != 2 || !due.Equal(paced) {
		t.Errorf("paced store, no job queued: %d statements, due %s; want 2, due %s", n, due, paced)
	}
	if n, due := enqueue(git); n != 1 || !due.Equal(paced) {
		t.Errorf("paced store, its paced job queued: %d statements, due %s; want 1 (the Work joins the job), due %s", n, due, paced)
	}
}
