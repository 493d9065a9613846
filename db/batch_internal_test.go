package db

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/stateward/stateward/testpeers"
)

// probeDriver is the writer's driver with one more SQL function, sw_hold(x),
// which calls the hook a test set (holdHook) and returns x: a statement can be
// stopped mid-way, and the test acts while it runs.
const probeDriver = "sqlite3-stateward-probe"

var holdHook atomic.Pointer[func(int64)]

func init() {
	sql.Register(probeDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if _, err := c.Exec(`PRAGMA wal_autocheckpoint = 0`, nil); err != nil {
			return err
		}
		return c.RegisterFunc("sw_hold", func(x int64) int64 {
			if h := holdHook.Load(); h != nil {
				(*h)(x)
			}
			return x
		}, false)
	}})
}

// probeDB opens a SQLite database whose writer connection has sw_hold, with a
// table probe(k) for the tests to write.
func probeDB(t *testing.T) *DB {
	t.Helper()
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.db")
	d, err := Open(context.Background(), Options{Path: path, Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(path)}
	w, err := sqlx.Open(probeDriver, u.String()+"?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	old := d.w
	d.w = w // before any request reaches the batcher
	old.Close()
	if _, err := d.w.Exec(`CREATE TABLE probe (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return d
}

// probeHolds reports whether probe holds key.
func (d *DB) probeHolds(t *testing.T, key string) bool {
	t.Helper()
	var n int
	if err := d.w.Get(&n, `SELECT COUNT(*) FROM probe WHERE k = ?`, key); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// batchOf runs fns as one batch, in order, each with its own caller context
// (cancels[i] cancels it), and returns their answers. The batcher is held busy
// by a first submit until all of fns are queued behind it.
func batchOf(t *testing.T, d *DB, ctxs []context.Context, fns ...func(ctx context.Context, tx *sqlx.Tx) error) []error {
	t.Helper()
	gateIn, gateGo := make(chan struct{}), make(chan struct{})
	gate := make(chan error, 1)
	go func() {
		gate <- d.batchTx(context.Background(), func(context.Context, *sqlx.Tx) error {
			close(gateIn)
			<-gateGo
			return nil
		})
	}()
	<-gateIn
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = d.batchTx(ctxs[i], fn) })
		if !testpeers.Poll(10*time.Second, time.Millisecond, func() bool { return len(d.b.reqs) >= i+1 }) { // queued in this order
			t.Fatalf("submit %d was not queued", i)
		}
	}
	close(gateGo)
	if err := <-gate; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

func insertProbe(key string) func(ctx context.Context, tx *sqlx.Tx) error {
	return func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe (k) VALUES (?)`, key)
		return err
	}
}

// TestBatchSurvivesACallerGoingAway: in a batch of three, the middle caller's
// context is cancelled while its statement runs. Admitted, it completes; the
// other two commit; every answer is what the database holds. (Before, SQLite
// interrupted the shared transaction, the third submit committed outside it
// and all three callers were told "cannot commit - no transaction is active".)
func TestBatchSurvivesACallerGoingAway(t *testing.T) {
	d := probeDB(t)
	inB, cancelled := make(chan struct{}), make(chan struct{})
	hook := func(x int64) {
		if x == 1 {
			close(inB)
			<-cancelled
		}
	}
	holdHook.Store(&hook)
	defer holdHook.Store(nil)
	ctxB, cancelB := context.WithCancel(context.Background())
	go func() {
		<-inB // B's statement is running: its caller goes away
		cancelB()
		close(cancelled)
	}()
	bulk := func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe (k) SELECT 'b' || sw_hold(x) FROM
			(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c)`)
		return err
	}
	bg := context.Background()
	errs := batchOf(t, d, []context.Context{bg, ctxB, bg}, insertProbe("a"), bulk, insertProbe("c"))
	for i, key := range []string{"a", "b200000", "c"} {
		if held := d.probeHolds(t, key); errs[i] != nil || !held {
			t.Errorf("submit %s: answer %v, database holds it: %v; want it committed and answered so", key, errs[i], held)
		}
	}
}

// TestBatchWithADeadTransaction: when a submit's savepoint cannot be rolled back
// or released (the transaction is gone), the transaction is rolled back and every
// other submit of the batch runs again alone: each answer is what the database
// holds, and nothing commits outside a transaction.
func TestBatchWithADeadTransaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail bool // the submit that kills the transaction is refused
	}{
		{"refused", true},
		{"not refused", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := probeDB(t)
			runs := 0
			kill := func(ctx context.Context, tx *sqlx.Tx) error {
				runs++
				if runs > 1 { // run again alone: a healthy transaction
					return insertProbe("b")(ctx, tx)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO probe (k) VALUES ('b')`); err != nil {
					return err
				}
				// What SQLite does on an interrupt, a full disk or an I/O error.
				if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
					return err
				}
				if tc.fail {
					return errors.New("interrupted")
				}
				return nil
			}
			bg := context.Background()
			errs := batchOf(t, d, []context.Context{bg, bg, bg}, insertProbe("a"), kill, insertProbe("c"))
			for i, key := range []string{"a", "b", "c"} {
				if held := d.probeHolds(t, key); (errs[i] == nil) != held {
					t.Errorf("submit %s: answer %v, but the database holds it: %v", key, errs[i], held)
				}
			}
			if errs[0] != nil || errs[2] != nil {
				t.Errorf("answers %v; want the healthy submits committed", errs)
			}
			if want := !tc.fail; (errs[1] == nil) != want {
				t.Errorf("submit b: answer %v; want success %v", errs[1], want)
			}
		})
	}
}

// TestAdmittedSubmitCompletes: on both dialects a submit that started runs to its
// end when its caller goes away half way, and its answer says so.
func TestAdmittedSubmitCompletes(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			s, err := NewSealer(make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Path: filepath.Join(t.TempDir(), "s.db"), Sealer: s}
			if dialect == "postgres" {
				o = Options{URL: testpeers.Postgres(t).NewDatabase(t), Sealer: s}
			}
			d, err := Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithCancel(context.Background())
			err = d.batchTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('half', '1')`); err != nil {
					return err
				}
				cancel() // the client disconnects
				_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('whole', '1')`)
				return err
			})
			var n int
			if err := d.w.Get(&n, d.w.Rebind(`SELECT COUNT(*) FROM meta WHERE key IN ('half', 'whole')`)); err != nil {
				t.Fatal(err)
			}
			if err != nil || n != 2 {
				t.Errorf("answer %v with %d of 2 rows committed; want the admitted submit completed", err, n)
			}
		})
	}
}

// TestCommitIsNotTheCallers: a write transaction whose caller goes away after
// its last statement commits and says so; the COMMIT itself is never cancelled
// (on PostgreSQL a cancelled COMMIT may have committed, and the answer would
// contradict the database).
func TestCommitIsNotTheCallers(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			s, err := NewSealer(make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Path: filepath.Join(t.TempDir(), "s.db"), Sealer: s}
			if dialect == "postgres" {
				o = Options{URL: testpeers.Postgres(t).NewDatabase(t), Sealer: s}
			}
			d, err := Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithCancel(context.Background())
			err = d.tx(ctx, func(tx *sqlx.Tx) error {
				_, err := tx.ExecContext(ctx, d.w.Rebind(`INSERT INTO meta (key, value) VALUES (?, '1')`), "done")
				cancel() // after the last statement, before the commit
				return err
			})
			var n int
			if gerr := d.w.Get(&n, `SELECT COUNT(*) FROM meta WHERE key = 'done'`); gerr != nil {
				t.Fatal(gerr)
			}
			if (err == nil) != (n == 1) || err != nil {
				t.Errorf("answer %v, rows committed %d; want committed and answered so", err, n)
			}
		})
	}
}
