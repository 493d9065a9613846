package db

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/testpeers"
)

// pipelineDB opens PostgreSQL behind a proxy that counts what the pool sends.
func pipelineDB(t *testing.T) (*DB, *testpeers.TCPProxy) {
	t.Helper()
	d, proxy, _ := pipelineDBAt(t)
	return d, proxy
}

// pipelineDBAt is pipelineDB that also returns the database's own URL (not
// through the proxy). params, if any, are added to the URL the pool uses.
func pipelineDBAt(t *testing.T, params ...url.Values) (*DB, *testpeers.TCPProxy, string) {
	t.Helper()
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	direct := testpeers.Postgres(t).NewDatabase(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testpeers.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	q := u.Query()
	for _, p := range params {
		for k, vs := range p {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	d, err := Open(context.Background(), Options{URL: u.String(), Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, proxy, direct
}

func metaValue(t *testing.T, d *DB, key string) (string, bool) {
	t.Helper()
	var v string
	err := d.r.GetContext(context.Background(), &v, `SELECT value FROM meta WHERE key = ?`, key)
	if err != nil {
		return "", false
	}
	return v, true
}

// TestPipelineSendsHeldStatementsWithTheNextOne: statements held back
// (deferred, withRows) go out with the transaction's next statement that must
// be answered, BEGIN with the first: a transaction of a BEGIN, three held
// writes, a read and a COMMIT is two round trips; the read sees the writes
// before it, and withRows' scan has run when the flush returns.
func TestPipelineSendsHeldStatementsWithTheNextOne(t *testing.T) {
	d, proxy := pipelineDB(t)
	ctx := context.Background()
	// A warm connection with the statements prepared once (pgx's statement
	// cache describes a new statement first, in a round trip of its own).
	run := func(key string) (n int, scanned string) {
		err := d.tx(ctx, func(tx *sqlx.Tx) error {
			for _, k := range []string{key + "-a", key + "-b", key + "-c"} {
				if _, err := tx.ExecContext(deferred(ctx), `INSERT INTO meta (key, value) VALUES (?, 'v')`, k); err != nil {
					return err
				}
			}
			if err := d.queryLater(ctx, tx, func(rows rowScanner) error {
				for rows.Next() {
					if err := rows.Scan(&scanned); err != nil {
						return err
					}
				}
				return nil
			}, `SELECT key FROM meta WHERE key = ?`, key+"-a"); err != nil {
				return err
			}
			return tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM meta WHERE key LIKE ?`, key+"-%")
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, scanned
	}
	run("warm")
	before := proxy.Sent()
	n, scanned := run("k")
	if n != 3 || scanned != "k-a" {
		t.Fatalf("the read saw %d rows and the held query %q, want 3 and k-a", n, scanned)
	}
	if sent := proxy.Sent() - before; sent != 2 {
		t.Errorf("the transaction sent %d times, want 2 (BEGIN with the writes and the read; COMMIT)", sent)
	}
	// A transaction that sent nothing commits without a round trip.
	before = proxy.Sent()
	if err := d.tx(ctx, func(*sqlx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if sent := proxy.Sent() - before; sent != 0 {
		t.Errorf("an empty transaction sent %d times", sent)
	}
}

// TestPipelineHeldQueryFailureIsItsOwn: a held query (queryLater) that fails
// on the server fails its transaction with the server's error, not with what
// its scan made of rows that ended at once. The job upsert's scan answered
// "the job upsert answered no row" for a deadlock it lost: not retried, an
// apply answered 500. A serialization failure, or a deadlock, runs the
// transaction again.
//
// How the error comes depends on pgx's exec mode: with a statement described
// in the same pipeline (exec mode, as behind PgBouncer, or the cache's first
// use of a statement), its row description comes first and the failure only
// when the rows are read.
func TestPipelineHeldQueryFailureIsItsOwn(t *testing.T) {
	for _, mode := range []string{"cache_statement", "exec"} {
		t.Run(mode, func(t *testing.T) {
			d, _, _ := pipelineDBAt(t, url.Values{"default_query_exec_mode": {mode}})
			testHeldQueryFailure(t, d)
		})
	}
}

func testHeldQueryFailure(t *testing.T, d *DB) {
	ctx := context.Background()
	if _, err := d.w.ExecContext(ctx, `CREATE FUNCTION lose_a_race() RETURNS BIGINT LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = 'serialization_failure'; END $$`); err != nil {
		t.Fatal(err)
	}
	scan := func(got *int64) func(rowScanner) error {
		return func(rows rowScanner) error {
			if !rows.Next() {
				return errors.New("answered no row")
			}
			return rows.Scan(got)
		}
	}
	// Once: the error is the server's.
	var got int64
	err := d.txOnce(ctx, func(tx *sqlx.Tx) error {
		if err := d.queryLater(ctx, tx, scan(&got), `SELECT lose_a_race()`); err != nil {
			return err
		}
		return d.flushPipeline(ctx, tx)
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "40001" {
		t.Errorf("a held query that failed: %v, want the server's serialization failure", err)
	}
	// In d.tx: run again, and the second run's answer is the one kept.
	before := d.Retries()
	runs := 0
	err = d.tx(ctx, func(tx *sqlx.Tx) error {
		runs++
		q := `SELECT lose_a_race()`
		if runs > 1 {
			q = `SELECT CAST(7 AS BIGINT)`
		}
		if err := d.queryLater(ctx, tx, scan(&got), q); err != nil {
			return err
		}
		return d.flushPipeline(ctx, tx)
	})
	if err != nil || runs != 2 || got != 7 {
		t.Errorf("the transaction: %v after %d runs, answer %d; want it run again once and 7", err, runs, got)
	}
	if n := d.Retries()[RetrySerialization] - before[RetrySerialization]; n != 1 {
		t.Errorf("%d serialization retries counted; want 1", n)
	}
}

// TestPipelineHeldFailureFailsTheTransaction: a held statement that fails
// makes the next statement (or the COMMIT) fail with its error, and nothing of
// the transaction is kept.
func TestPipelineHeldFailureFailsTheTransaction(t *testing.T) {
	d, _ := pipelineDB(t)
	ctx := context.Background()
	if _, err := d.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('taken', 'x')`); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"next statement", "commit"} {
		err := d.txOnce(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(deferred(ctx), `INSERT INTO meta (key, value) VALUES ('kept-'||?, 'x')`, at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(deferred(ctx), `INSERT INTO meta (key, value) VALUES ('taken', 'again')`); err != nil {
				t.Fatalf("a held statement failed at once: %v", err)
			}
			if at == "commit" {
				return nil
			}
			var n int
			return tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM meta`)
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			t.Errorf("%s: %v, want the held insert's unique violation", at, err)
		}
		if _, ok := metaValue(t, d, "kept-"+at); ok {
			t.Errorf("%s: the transaction's first write was kept", at)
		}
	}
	if v, _ := metaValue(t, d, "taken"); v != "x" {
		t.Errorf("taken = %q", v)
	}
	// The connection whose COMMIT failed is kept, out of its transaction
	// (the server skipped the COMMIT after the failure): the pool opens no
	// new one.
	d.w.SetMaxOpenConns(1)
	var before, after int
	if err := d.txOnce(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &before, `SELECT pg_backend_pid()`); err != nil {
			return err
		}
		_, err := tx.ExecContext(deferred(ctx), `INSERT INTO meta (key, value) VALUES ('taken', 'again')`)
		return err
	}); err == nil {
		t.Fatal("a held unique violation committed")
	}
	if err := d.txOnce(ctx, func(tx *sqlx.Tx) error {
		return tx.GetContext(ctx, &after, `SELECT pg_backend_pid()`)
	}); err != nil {
		t.Errorf("the next transaction: %v", err)
	}
	if before != after {
		t.Errorf("the connection whose COMMIT failed was dropped (backend %d, then %d)", before, after)
	}
}

// TestPipelineDeadConnectionRunsTheTransactionAgain: a pooled connection the
// database closed is found at the transaction's first statement (BEGIN being
// held back); nothing was sent, so the transaction runs again on a new one.
func TestPipelineDeadConnectionRunsTheTransactionAgain(t *testing.T) {
	d, proxy := pipelineDB(t)
	ctx := context.Background()
	if _, err := d.w.ExecContext(ctx, `SELECT 1`); err != nil { // a connection in the pool
		t.Fatal(err)
	}
	proxy.Cut()
	proxy.Restore()
	runs := 0
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		runs++
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('after-cut', 'x')`)
		return err
	})
	if err != nil {
		t.Fatalf("tx after the connections were cut: %v (%d runs)", err, runs)
	}
	if _, ok := metaValue(t, d, "after-cut"); !ok {
		t.Fatal("the write was not kept")
	}
}

// TestPipelineCommitLostInFlightIsInDoubt: when the connection goes after the
// COMMIT was sent, PostgreSQL may have committed — here it has (the proxy
// drops its answer) — so the error says the commit is in doubt, the
// transaction is not run again, and its write is there exactly once.
func TestPipelineCommitLostInFlightIsInDoubt(t *testing.T) {
	d, proxy := pipelineDB(t)
	ctx := context.Background()
	insert := func(key string) (runs int, err error) {
		err = d.tx(ctx, func(tx *sqlx.Tx) error {
			runs++
			// Held back, so it travels with the COMMIT; its argument marks
			// that pipeline for the proxy (the statement text itself is sent
			// once, when pgx prepares it).
			_, err := tx.ExecContext(deferred(ctx), `INSERT INTO meta (key, value) VALUES (?, 'x')`, key)
			return err
		})
		return runs, err
	}
	if _, err := insert("warm-up"); err != nil {
		t.Fatal(err)
	}
	proxy.LoseAnswerTo("commit-in-doubt", nil)
	runs, err := insert("commit-in-doubt")
	if !errors.Is(err, ErrCommitInDoubt) {
		t.Fatalf("COMMIT whose answer was lost: err = %v, want ErrCommitInDoubt", err)
	}
	if runs != 1 {
		t.Errorf("the transaction ran %d times; a COMMIT in doubt must not be run again", runs)
	}
	if v, ok := metaValue(t, d, "commit-in-doubt"); !ok || v != "x" {
		t.Errorf("PostgreSQL committed the write, but it is not there: %q, %v", v, ok)
	}
	if !Unavailable(err) {
		t.Errorf("Unavailable(%v) = false", err)
	}
	if _, err := insert("after"); err != nil {
		t.Errorf("the next transaction, on another connection: %v", err)
	}
}
