package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// Pipelining (PostgreSQL). A write transaction used to send each statement and
// wait for its answer before the next: with the database 1 ms away a submit of
// eleven statements and a BEGIN and a COMMIT spent 26 ms on the wire, and its
// connection sat idle in a transaction for most of it. The connections handed to
// database/sql (pgConn) now hold back what need not be answered at once and
// send it with the next statement that must be, as one pipeline (pgx's batch):
//
//   - BEGIN waits for the transaction's first statement;
//   - a statement run on a context from deferred() is queued; its failure
//     surfaces at the transaction's next statement sent (the server rolls the
//     transaction back there, as it would have), and its result is not read;
//   - one run on a context from withRows() is queued too, and its rows are
//     handed to the function given when the queue is sent;
//   - flushPipeline sends the queue alone; COMMIT sends it with the COMMIT.
//
// Nothing is reordered: the statements run in the order the transaction issued
// them, so each sees what the ones before it did. A transaction that only read
// sends nothing but its statements; one that did nothing sends nothing at all.
// On SQLite (no network) the contexts change nothing.

type pipeKey int

const (
	deferKey pipeKey = iota
	rowsKey
)

// deferred marks the statements run on the returned context as ones whose
// result the caller does not read: on PostgreSQL they are sent with the
// transaction's next statement. Only for statements whose failure needs no
// handling of its own (it fails the transaction) and whose rows affected are
// not read.
func deferred(ctx context.Context) context.Context { return context.WithValue(ctx, deferKey, true) }

// withRows marks the query run (as an Exec) on the returned context as one
// whose rows are handed to scan when the pipeline is sent (the transaction's
// next statement that must be answered, flushPipeline, or COMMIT). On SQLite
// the statement is run at once and scan called then. scan must not use the
// transaction; an error it returns is the error of the statement that sent it.
func withRows(ctx context.Context, scan func(rowScanner) error) context.Context {
	return context.WithValue(ctx, rowsKey, scan)
}

// rowScanner is what both *sql.Rows and pgx.Rows offer.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// queryLater runs query and hands its rows to scan: on PostgreSQL at the
// transaction's next flush (withRows), on SQLite at once.
func (d *DB) queryLater(ctx context.Context, tx *sqlx.Tx, scan func(rowScanner) error, query string, args ...any) error {
	if d.isPostgres() {
		_, err := tx.ExecContext(withRows(ctx, scan), query, args...)
		return err
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	err = scan(rows)
	if rerr := rows.Err(); rerr != nil {
		err = rerr // the statement's failure, not what the scan made of it (readQueued)
	}
	return err
}

// flushPipeline sends what the transaction holds back, so that the functions
// given to withRows have run when it returns.
func (d *DB) flushPipeline(ctx context.Context, tx *sqlx.Tx) error {
	if !d.isPostgres() {
		return nil
	}
	_, err := tx.ExecContext(ctx, flushStatement)
	return err
}

// flushStatement is recognised by pgConn: it sends the queue and nothing else.
const flushStatement = "-- stateward: flush pipeline"

// queued is a statement held back: its SQL (rebound), arguments and, for a
// withRows query, what reads its rows.
type queued struct {
	sql  string
	args []any
	scan func(rowScanner) error
}

// pgConn is a pgx stdlib connection whose statements are rebound from ? to $n
// and pipelined within transactions; value checks and session reset are pgx's
// own.
type pgConn struct {
	*stdlib.Conn
	inTx    bool
	begun   bool     // the transaction's BEGIN was sent
	pending []queued // BEGIN first, while it has not been sent
	// bad: a pipeline failed for the connection's sake; the pool must drop it.
	bad bool
}

func rebind(query string) string { return sqlx.Rebind(sqlx.DOLLAR, query) }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(query)) }

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.PrepareContext(ctx, rebind(query))
}

// BeginTx queues the BEGIN for the transaction's first statement.
func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	if c.inTx {
		return nil, errors.New("db: a transaction is already open on this connection")
	}
	begin := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadCommitted:
		begin += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		begin += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		begin += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return nil, fmt.Errorf("db: unsupported isolation level %v", opts.Isolation)
	}
	if opts.ReadOnly {
		begin += " READ ONLY"
	}
	c.inTx, c.begun = true, false
	c.pending = append(c.pending[:0], queued{sql: begin})
	return pipeTx{c}, nil
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if query == flushStatement {
		return driver.RowsAffected(0), c.flush(ctx)
	}
	query = rebind(query)
	if c.inTx {
		scan, _ := ctx.Value(rowsKey).(func(rowScanner) error)
		if scan != nil || ctx.Value(deferKey) != nil {
			c.pending = append(c.pending, queued{sql: query, args: values(args), scan: scan})
			return heldResult{}, nil
		}
	}
	if len(c.pending) == 0 {
		return c.Conn.ExecContext(ctx, query, args)
	}
	br, err := c.send(ctx, queued{sql: query, args: values(args)})
	if err != nil {
		return nil, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, c.connErr(err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	query = rebind(query)
	if len(c.pending) == 0 {
		return c.Conn.QueryContext(ctx, query, args)
	}
	br, err := c.send(ctx, queued{sql: query, args: values(args)})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, c.connErr(err)
	}
	return &pipeRows{br: br, rows: rows}, nil
}

// ResetSession refuses a connection that still holds a statement back (a
// transaction left open), as pgx refuses one left in a transaction.
func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.bad || c.inTx || len(c.pending) > 0 {
		return driver.ErrBadConn
	}
	return c.Conn.ResetSession(ctx)
}

// flush sends the queue, if any, and reads its answers.
func (c *pgConn) flush(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	br, err := c.send(ctx)
	if err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		return c.connErr(err)
	}
	return nil
}

// send sends the queue and then last as one pipeline and reads the queue's
// answers, leaving last's to the caller (who must close the results). The
// queue is empty after it, whatever happened.
func (c *pgConn) send(ctx context.Context, last ...queued) (pgx.BatchResults, error) {
	if c.Conn.Conn().IsClosed() {
		c.pending = c.pending[:0]
		return nil, driver.ErrBadConn
	}
	q := c.pending
	c.pending = nil
	c.begun = c.begun || c.inTx // BEGIN, if held, goes out now
	b := &pgx.Batch{}
	for _, s := range append(q, last...) {
		b.Queue(s.sql, s.args...)
	}
	br := c.Conn.Conn().SendBatch(ctx, b)
	commit := len(last) == 1 && last[0].sql == "COMMIT"
	for _, s := range q {
		if err := readQueued(br, s); err != nil {
			br.Close()
			return nil, c.lost(err, commit)
		}
	}
	return br, nil
}

// readQueued reads the answer of one held-back statement.
func readQueued(br pgx.BatchResults, s queued) error {
	if s.scan == nil {
		_, err := br.Exec()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	err = s.scan(rows)
	rows.Close()
	if rerr := rows.Err(); rerr != nil {
		// The statement's own failure, which the scan saw only as rows
		// ending ("answered no row"): a deadlock, a serialization failure,
		// a broken constraint. The transaction is run again on the first
		// two (d.tx); the scan's words would have failed it for good.
		err = rerr
	}
	return err
}

// connErr is err, or driver.ErrBadConn when the transaction certainly did not
// commit because of the connection: nothing was sent (pgx's rule), or the
// connection was lost on a pipeline without the COMMIT — the server rolls an
// open transaction back when its connection goes, so running the whole
// transaction again (d.tx does, on another connection) does nothing twice. A
// pooled connection the database closed is found this way at the
// transaction's first statement, BEGIN being held back. A COMMIT lost with
// its connection may have committed: its error is said as it is.
func (c *pgConn) connErr(err error) error {
	return c.lost(err, false)
}

func (c *pgConn) lost(err error, commit bool) error {
	closed := c.Conn.Conn().IsClosed()
	if closed {
		c.bad = true
	}
	if pgconn.SafeToRetry(err) || closed && !commit {
		c.bad = true
		return driver.ErrBadConn
	}
	if closed && commit {
		return fmt.Errorf("%w: %w", ErrCommitInDoubt, err)
	}
	return err
}

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// heldResult is the result of a statement held back: nothing of it is known yet.
type heldResult struct{}

var errHeld = errors.New("db: the result of a deferred statement is not read")

func (heldResult) LastInsertId() (int64, error) { return 0, errHeld }
func (heldResult) RowsAffected() (int64, error) { return 0, errHeld }

// pipeTx commits with what the transaction still holds back, in one round trip.
type pipeTx struct{ c *pgConn }

func (t pipeTx) Commit() error {
	c := t.c
	defer func() { c.inTx = false }()
	if !c.begun && len(c.pending) == 1 {
		c.pending = c.pending[:0] // only the BEGIN, never sent: nothing to commit
		return nil
	}
	ctx := context.Background() // as pgx's: a commit is not cancelled half-way
	br, err := c.send(ctx, queued{sql: "COMMIT"})
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			if tag.String() == "ROLLBACK" {
				return pgx.ErrTxCommitRollback // the transaction had failed
			}
			return nil
		}
		err = c.lost(err, true)
	}
	c.endFailed(ctx)
	return err
}

// endFailed ends a transaction that a statement of the COMMIT's pipeline made
// fail: the server skipped the COMMIT after it and holds the transaction open,
// aborted, which would cost the pool this connection (database/sql drops one
// left in a transaction) and a new one to the database. One ROLLBACK keeps it.
func (c *pgConn) endFailed(ctx context.Context) {
	conn := c.Conn.Conn()
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		c.bad = true
	}
}

func (t pipeTx) Rollback() error {
	c := t.c
	defer func() { c.inTx = false }()
	if !c.begun {
		c.pending = c.pending[:0] // nothing was sent
		return nil
	}
	c.pending = c.pending[:0] // what was held back is rolled back unsent
	if c.bad || c.Conn.Conn().IsClosed() {
		return driver.ErrBadConn // the server rolled it back when the connection went
	}
	_, err := c.Conn.Conn().Exec(context.Background(), "ROLLBACK")
	return err
}

// pipeRows are the rows of the statement that sent a pipeline, as database/sql
// reads them: the values pgx decodes, as the driver values database/sql
// converts from.
type pipeRows struct {
	br   pgx.BatchResults
	rows pgx.Rows
	cols []string
}

func (r *pipeRows) Columns() []string {
	if r.cols == nil {
		fds := r.rows.FieldDescriptions()
		r.cols = make([]string, len(fds))
		for i, fd := range fds {
			r.cols[i] = fd.Name
		}
	}
	return r.cols
}

func (r *pipeRows) Close() error {
	r.rows.Close()
	err := r.rows.Err()
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *pipeRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		if dest[i], err = driverValue(v); err != nil {
			return fmt.Errorf("column %s: %w", r.Columns()[i], err)
		}
	}
	return nil
}

// driverValue is a value pgx decoded as a database/sql driver value; the
// schema's types (bigint, integer, boolean, text, timestamptz, double) are the
// ones it knows.
func driverValue(v any) (driver.Value, error) {
	switch v := v.(type) {
	case nil, int64, float64, bool, string, []byte, time.Time:
		return v, nil
	case int32:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case float32:
		return float64(v), nil
	}
	return nil, fmt.Errorf("db: no driver value for a %T", v)
}
