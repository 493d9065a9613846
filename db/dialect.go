package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// dialect is what differs between the two databases. The SQL itself is shared:
// every query is written once with ? placeholders, RETURNING id instead of
// LastInsertId, ON CONFLICT upserts and TRUE/FALSE literals, which both accept.
type dialect struct {
	name string // "sqlite" or "postgres"
	// migrations is the glob of this dialect's numbered migrations.
	migrations string
	// claimLock is appended to the job claim query: empty on SQLite (one writer),
	// row locks on PostgreSQL so that replicas claim different jobs.
	claimLock string
	// isolation of write transactions: SQLite's single writer connection is
	// serializable by construction; PostgreSQL runs them SERIALIZABLE so that every
	// read-then-write keeps the meaning it had with one writer, and a conflict
	// (40001) re-runs the transaction.
	isolation sql.IsolationLevel
	// precision is the resolution the database stores times at.
	precision time.Duration
}

var (
	sqliteDialect   = dialect{name: "sqlite", migrations: "migrations/*.sql", precision: time.Nanosecond}
	postgresDialect = dialect{name: "postgres", migrations: "migrations/postgres/*.sql",
		claimLock: " FOR UPDATE SKIP LOCKED", isolation: sql.LevelSerializable, precision: time.Microsecond}
)

// isPostgres reports whether this handle talks to PostgreSQL.
func (d *DB) isPostgres() bool { return d.dialect.name == postgresDialect.name }

// IsPostgresURL reports whether url selects PostgreSQL (postgres:// or
// postgresql://).
func IsPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// isUniqueViolation reports whether err is a unique or primary-key constraint
// failure of either database.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isRetryable reports whether a transaction failed only because it ran
// concurrently with another one, so that running it again can succeed: a
// serialization failure (40001) or a deadlock (40P01) on PostgreSQL.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// openPostgres opens a pool on url. Queries keep their ? placeholders: the
// connections rebind them to $n (sqlx.Rebind with the DOLLAR bind type), and read
// every TIMESTAMPTZ back in UTC.
func openPostgres(url string) (*sqlx.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL with its password; name the setting only.
		return nil, errors.New("STATEWARD_DATABASE_URL: not a valid PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=…)")
	}
	connector := stdlib.GetConnector(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}))
	pool := sql.OpenDB(rebindConnector{connector})
	pool.SetMaxOpenConns(16)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return sqlx.NewDb(pool, "pgx"), nil
}

// rebindConnector hands out connections that rebind ? placeholders.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("pgx stdlib returned a %T connection", conn)
	}
	return rebindConn{sc}, nil
}

// rebindConn is a pgx stdlib connection whose statements are rebound from ? to
// $n; everything else (transactions, value checks, session reset) is pgx's own.
type rebindConn struct{ *stdlib.Conn }

func rebind(query string) string { return sqlx.Rebind(sqlx.DOLLAR, query) }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(query)) }

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}
