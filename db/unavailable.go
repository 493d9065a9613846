package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// ErrCommitInDoubt is a transaction whose connection went while its COMMIT
// was on the way to PostgreSQL or its answer on the way back: the server may
// have committed it or not, and nobody on this side can tell. It is not
// retried here (running the transaction again could do it twice); the API
// answers 503 saying so, and a client repeats its request: the requests that
// change things are idempotent (the same Work, the same apply, the same
// Idempotency-Key).
var ErrCommitInDoubt = errors.New("the connection to the database was lost while committing, so the change may or may not have been saved")

// Unavailable reports whether err means the database itself could not do the
// work just now — PostgreSQL unreachable, restarting, shutting down or out of
// connections; SQLite locked past its busy timeout, its disk full or failing —
// as opposed to an answer about the data (not found, a conflict) or a bug. Such
// a request may succeed when retried: the API answers 503 with Retry-After,
// never 404 or 500.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, cannot connect now
			pgErr.Code == "53300", pgErr.Code == "53100", pgErr.Code == "53200": // too many connections, disk full, out of memory
			return true
		}
		return false
	}
	var sqliteErr sqlite3.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrNoLFS:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &opErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOSPC):
		return true
	}
	// pgx reports a connection that broke mid-query as "unexpected EOF" or a
	// timeout of its own; a deadline of ours is not the database's fault, but
	// pgconn.Timeout is true for both, so only the network kind counts.
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return pgconn.SafeToRetry(err)
}
