package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	neturl "net/url"
	"runtime"
	"strconv"
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
	// claimLock is appended to the job claim query and to the query of jobs
	// whose lease expired: empty on SQLite (one writer), row locks on PostgreSQL
	// that other replicas skip, so that they claim different jobs and no job is
	// expired twice.
	claimLock string
	// skipHeld is appended to a claim's query of the store's placements and
	// canary files: empty on SQLite, on PostgreSQL row locks that skip rows
	// another transaction holds (see ClaimJob).
	skipHeld string
	// isolation of write transactions: SQLite's single writer connection is
	// serializable by construction. PostgreSQL runs them READ COMMITTED — under
	// SERIALIZABLE, submits to one store failed to serialize more often than they
	// committed — and the read-then-write sequences that relied on one writer are
	// made safe explicitly: upserts instead of look-then-insert, a per-tenant
	// lock (lockTenant), row locks (rowLock), and a retry on deadlock (40P01) or
	// serialization failure (40001).
	isolation sql.IsolationLevel
	// rowLock is appended to a SELECT of a row the transaction then changes
	// depending on what it read: empty on SQLite, FOR UPDATE on PostgreSQL.
	rowLock string
	// precision is the resolution the database stores times at.
	precision time.Duration
	// inserted is the expression an upsert's RETURNING says whether it inserted
	// the row with: on PostgreSQL a row it created has no xmax; on SQLite (one
	// writer) it says FALSE, and the caller knows from what it read first.
	inserted string
	// greatest names the larger-of-two function: SQLite's scalar MAX, PostgreSQL's GREATEST.
	greatest string
}

var (
	sqliteDialect = dialect{name: "sqlite", migrations: "migrations/*.sql", precision: time.Nanosecond, inserted: "FALSE",
		greatest: "MAX"}
	postgresDialect = dialect{name: "postgres", migrations: "migrations/postgres/*.sql",
		claimLock: " FOR UPDATE SKIP LOCKED", skipHeld: " FOR NO KEY UPDATE SKIP LOCKED", rowLock: " FOR UPDATE", isolation: sql.LevelReadCommitted, precision: time.Microsecond,
		inserted: "(xmax = 0)", greatest: "GREATEST"}
)

// lockTenant takes the tenant's configuration lock on PostgreSQL, so that what
// SQLite's single writer guaranteed holds across replicas: exclusive for a change
// that checks the tenant's configuration before writing it (stores,
// Destinations, members, a store's status, which may re-plan every Work), shared
// for a submit (which plans against that configuration) and for what the
// writers record of the team's placements and queued jobs (a job's finish or
// release, an expired lease, a pull request's outcome, the re-assert's
// requeue), which a change's re-plan locks in an order of its own. Submits and
// writers do not block each other. On SQLite, where write transactions never
// overlap, it does nothing. Take it first in the transaction, before any other
// lock.
//
// It is a transaction-scoped advisory lock (tenantLockClass, the tenant's id),
// not a lock on the tenant's row: every submit took that row FOR SHARE, and a
// row share-locked by several transactions at once carries a MultiXact of them
// all, which PostgreSQL creates anew (and WAL-logs, and writes into the row's
// page under an exclusive buffer lock) for every transaction that joins — on
// one row per team, for every submit. An advisory lock lives in the lock
// manager's memory alone. It locks the id whether or not the tenant exists, as
// the row lock locked nothing, and what follows finds nothing either way.
//
// A change locks the team's row as well, before the advisory lock: replicas
// of before migration 0064, which may run beside this one during a rolling
// upgrade, take that row FOR SHARE for their submits and FOR NO KEY UPDATE for
// their changes, and must wait for this change as it waits for them. (Their
// changes wait for this replica's submits in bump_plan_version, migration
// 0065.) Changes are rare, and no submit of this version touches the row.
func (d *DB) lockTenant(ctx context.Context, tx *sqlx.Tx, tenantID int64, exclusive bool) error {
	if !d.isPostgres() {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
		if _, err := tx.ExecContext(deferred(ctx), `SELECT id FROM tenants WHERE id = ? FOR NO KEY UPDATE`, tenantID); err != nil {
			return err
		}
	}
	// Held back until the transaction's next statement (pipeline.go): it runs
	// first all the same.
	_, err := tx.ExecContext(deferred(ctx), `SELECT `+fn+`(?, CAST(? AS INTEGER))`, tenantLockClass, tenantLockID(tenantID))
	return err
}

// tenantLockClass is the first key of the tenants' advisory locks (the
// two-integer form, a key space apart from migrationLockKey's one-bigint form).
const tenantLockClass = 0x53775431 // "SwT1"

// tenantLockID is the second key of tenantID's advisory lock: its low 31
// bits. Identity ids start at 1, so two teams share a lock only past two
// billion teams, and then they only wait for each other's changes.
func tenantLockID(tenantID int64) int64 { return tenantID & 0x7fffffff }

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

// retryCause is why err lets tx run fn again (the transaction failed only
// because of what ran beside it, or never started), or -1 when it does not.
func (d *DB) retryCause(err error) int {
	var pe *pgconn.PgError
	switch {
	case err == nil || !d.isPostgres():
		return -1
	case errors.As(err, &pe) && pe.Code == "40P01":
		return RetryDeadlock
	case errors.As(err, &pe) && pe.Code == "40001":
		return RetrySerialization
	case isUniqueViolation(err):
		return RetryUnique
	// A transaction whose connection turned out dead before anything was
	// sent (driver.ErrBadConn: a pooled connection the database closed,
	// found at the first statement, BEGIN being held back) never started.
	case errors.Is(err, driver.ErrBadConn):
		return RetryConnection
	}
	return -1
}

// openPostgres opens a pool on url. Queries keep their ? placeholders: the
// connections rebind them to $n (sqlx.Rebind with the DOLLAR bind type), and read
// every TIMESTAMPTZ back in UTC.
func openPostgres(url string) (*sqlx.DB, int, error) {
	url, maxConns, err := poolSize(url)
	if err != nil {
		return nil, 0, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL with its password; name the setting only.
		return nil, 0, errors.New("STATEWARD_DATABASE_URL: not a valid PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=…)")
	}
	connector := stdlib.GetConnector(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}))
	pool := sql.OpenDB(rebindConnector{connector})
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return sqlx.NewDb(pool, "pgx"), maxConns, nil
}

// poolSize takes pool_max_conns (pgxpool's name for it) out of a PostgreSQL URL,
// where pgx would send it to the server as a setting, and returns the URL without
// it and the pool's size: by default four times admitFloor. The pool is not what
// bounds a replica's submits (admitGate in admit.go is, from admitFloor up to the
// pool's size, as far as the database's distance calls for), so its size is room:
// for the submits of a replica far from its database, its writers and its pages.
func poolSize(raw string) (string, int, error) {
	n := 4 * admitFloor()
	u, err := neturl.Parse(raw)
	if err != nil {
		return raw, n, nil // pgx.ParseConfig names the problem
	}
	q := u.Query()
	if !q.Has("pool_max_conns") {
		return raw, n, nil
	}
	v, err := strconv.Atoi(q.Get("pool_max_conns"))
	if err != nil || v < 1 || v > 1000 {
		return "", 0, fmt.Errorf("STATEWARD_DATABASE_URL: pool_max_conns=%q is not a number of connections from 1 to 1000", q.Get("pool_max_conns"))
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), v, nil
}

// admitFloor is how many submits a replica admits at a time with its database
// near: max(4, GOMAXPROCS), pgxpool's default pool. A database shared by replicas
// runs best with few transactions at a time in all (two to four per core of its
// own): three replicas of 16 connections each on two cores made 480–530 Works/s
// where three of 4 made 610–700 and one of 16 made 650–780.
func admitFloor() int { return max(4, runtime.GOMAXPROCS(0)) }

// rebindConnector hands out pgConns (pipeline.go): statements rebound from ?
// to $n, pipelined within transactions.
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
	return &pgConn{Conn: sc}, nil
}
