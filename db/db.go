// Package db is Stateward's storage: the schema and its embedded migrations, every
// query (each scoped by tenant), the sealing of credentials, and the durable job
// table the writers drain. SQLite (one writer connection and a pool of readers) is the
// default; a postgres:// URL selects PostgreSQL, for several replicas on one
// database. The SQL is shared; dialect.go holds the few differences.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/stateward/stateward/tenants"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

// DB is the database handle. On SQLite: a single writer connection (SQLite allows
// one writer at a time; queueing in Go is cheaper than SQLITE_BUSY retries) and a
// reader pool. On PostgreSQL: one pool for both, write transactions serializable
// and re-run on a serialization failure or deadlock.
type DB struct {
	w       *sqlx.DB
	r       *sqlx.DB
	dialect dialect
	sealer  *Sealer
	now     func() time.Time
	b       *batcher // group commit of submits (batch.go)
	// admit queues PostgreSQL's submits for the pool (admit.go).
	admit *admitGate
	plans planCache // each team's plan context at its plan version (PostgreSQL)
	// replans counts the teams planned again (replanTenant).
	replans atomic.Int64
	// retries counts the write transactions run again (tx), by cause.
	retries [retryCauses]atomic.Int64
	cp      *checkpointer
	// dbClock: job leases are timed by the database's clock (PostgreSQL with
	// several replicas, whose own clocks may drift apart), not this process's.
	dbClock bool
}

// Options configure Open.
type Options struct {
	// Path is the SQLite file (created if missing), used when URL is empty.
	Path string
	// URL, a postgres:// or postgresql:// URL, selects PostgreSQL instead of SQLite.
	URL string
	// Sealer seals and opens credentials; required.
	Sealer *Sealer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Open opens (creating if needed) the database, applies pending migrations, and
// verifies that the sealing key matches the one the database was sealed with.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Sealer == nil {
		return nil, errors.New("db: a Sealer is required")
	}
	dbClock := o.Now == nil
	if o.Now == nil {
		o.Now = time.Now
	}
	var d *DB
	var err error
	switch {
	case o.URL != "" && !IsPostgresURL(o.URL):
		return nil, errors.New("db: URL must start with postgres:// or postgresql://")
	case o.URL != "":
		d, err = openPostgresDB(ctx, o)
	default:
		d, err = openSQLite(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	if err := d.checkCanary(ctx); err != nil {
		d.Close()
		return nil, err
	}
	d.dbClock = dbClock && d.isPostgres()
	return d, nil
}

func newDB(o Options, dl dialect) *DB {
	now := o.Now
	return &DB{dialect: dl, sealer: o.Sealer, now: func() time.Time { return now().UTC().Truncate(dl.precision) }}
}

// readerCacheKiB is the page cache of each reading SQLite connection, in KiB
// (SQLite's default is 2 MB). At a million Works a page of the Works list looks
// up 1,000 rows spread over a 3 GB file: 9.5 ms through the OS's page cache, 4.4
// ms from 8 MB of SQLite's own, 3.5 ms from 16 MB. 16 MB on every connection,
// the writer's too, raised the server's RSS after a re-assert of the million
// from 333 to 499 MB, and the re-assert's CPU did not fall.
const readerCacheKiB = 8 << 10

func openSQLite(ctx context.Context, o Options) (*DB, error) {
	dsn := func(extra string) string {
		u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(o.Path)}
		return u.String() + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_stmt_cache_size=128" + extra
	}
	w, err := sqlx.Open(sqliteWriterDriver, dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	d := newDB(o, sqliteDialect)
	d.w = w
	if err := d.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := d.Optimize(ctx, true); err != nil {
		w.Close()
		return nil, fmt.Errorf("optimize %s: %w", o.Path, err)
	}
	r, err := sqlx.Open("sqlite3", dsn("&mode=ro&_cache_size=-"+strconv.Itoa(readerCacheKiB)))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s read-only: %w", o.Path, err)
	}
	r.SetMaxOpenConns(4)
	// A connection loads the planner's statistics when it opens: renewed
	// hourly, the readers follow what PRAGMA optimize learnt meanwhile.
	r.SetConnMaxLifetime(optimizeEvery)
	d.r = r
	cp, err := sqlx.Open("sqlite3", strings.Replace(dsn(""), "_busy_timeout=10000", "_busy_timeout="+strconv.Itoa(checkpointBusy), 1))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s for checkpoints: %w", o.Path, err)
	}
	cp.SetMaxOpenConns(1)
	d.cp = startCheckpointer(cp)
	d.startBatcher() // group commit: SQLite has one writer
	return d, nil
}

func openPostgresDB(ctx context.Context, o Options) (*DB, error) {
	pool, maxConns, err := openPostgres(o.URL)
	if err != nil {
		return nil, err
	}
	d := newDB(o, postgresDialect)
	d.w, d.r = pool, pool
	d.admit = newAdmitGate(min(admitFloor(), maxConns), maxConns)
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the pools.
func (d *DB) Close() error {
	d.stopBatcher()
	var errR, errC error
	if d.r != nil && d.r != d.w {
		errR = d.r.Close()
	}
	if d.cp != nil {
		errC = d.cp.close()
	}
	return errors.Join(d.w.Close(), errR, errC)
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.r.GetContext(ctx, &one, `SELECT 1`)
}

// Now is the injected clock, in UTC, at the resolution the database keeps.
func (d *DB) Now() time.Time { return d.now() }

// migrationLockKey is the PostgreSQL advisory lock taken while migrating, so that
// replicas starting together apply each migration once.
const migrationLockKey = 0x5374617465776172 // "Statewar"

func (d *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, d.dialect.migrations)
	if err != nil {
		return err
	}
	sort.Strings(names)
	if d.isPostgres() {
		return d.migratePostgres(ctx, names)
	}
	// Handles opening a new database together (processes starting at once) can
	// be refused the write lock without SQLite's busy wait while another one
	// turns the file into a WAL database; such a refusal is tried again.
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		_, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || wait > 5*time.Second {
			if err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	for _, name := range names {
		if err := d.tx(ctx, func(tx *sqlx.Tx) error { return d.applyMigration(ctx, tx, name) }); err != nil {
			return err
		}
	}
	return nil
}

// migratePostgres applies every pending migration in one transaction that first
// takes the migration advisory lock: a replica starting at the same time waits,
// then finds them applied. READ COMMITTED, so that the statements after the lock
// see what the replica before it committed.
func (d *DB) migratePostgres(ctx context.Context, names []string) error {
	tx, err := d.w.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("begin migrations: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLockKey)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		if err := d.applyMigration(ctx, tx, name); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, tx *sqlx.Tx, name string) error {
	version := strings.TrimSuffix(filepath.Base(name), ".sql")
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", version, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, d.now())
	return err
}

// Retries of a write transaction that lost a race (PostgreSQL only).
const (
	maxTxAttempts = 30
	txRetryBase   = 2 * time.Millisecond
	txRetryMax    = 100 * time.Millisecond
)

// tx runs fn in a write transaction, committing when it returns nil. On
// PostgreSQL a transaction that lost a race to a concurrent one rolls back and
// runs fn again: a serialization failure, a deadlock, or a unique violation that
// fn did not turn into a domain error itself (a look-then-insert that another
// replica's insert overtook; the re-run sees that row). So fn must be safe to
// re-run: it sets what it reports afresh on every run.
func (d *DB) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.txOnce(ctx, fn)
		cause := d.retryCause(err)
		if cause < 0 || attempt == maxTxAttempts {
			return err
		}
		d.retries[cause].Add(1)
		wait := min(txRetryBase<<min(attempt-1, 10), txRetryMax)
		wait = wait/2 + time.Duration(rand.Int64N(int64(wait)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// The causes of a transaction run again (tx).
const (
	RetryDeadlock      = iota // PostgreSQL broke a deadlock (40P01)
	RetrySerialization        // a serialization failure (40001)
	RetryUnique               // a unique violation fn did not turn into a domain error
	RetryConnection           // the connection was found dead before anything was sent
	retryCauses
)

// RetryCauseNames name the causes, by index, as the metric's label values.
var RetryCauseNames = [retryCauses]string{"deadlock", "serialization", "unique_violation", "connection"}

// Retries answers how many write transactions were run again since Open, by
// cause (RetryDeadlock ...): on PostgreSQL each deadlock costs its
// transactions deadlock_timeout (1 s by default) before one is run again.
func (d *DB) Retries() [retryCauses]int64 {
	var n [retryCauses]int64
	for i := range n {
		n[i] = d.retries[i].Load()
	}
	return n
}

// txOnce runs fn once. fn's statements take the caller's ctx, but the
// transaction does not: a caller that goes away after fn succeeded gets the
// commit it asked for. (On PostgreSQL the driver runs COMMIT on the
// transaction's context, and a COMMIT cancelled in flight may have committed:
// the caller would be told otherwise.)
func (d *DB) txOnce(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	var opts *sql.TxOptions
	if d.dialect.isolation != sql.LevelDefault {
		opts = &sql.TxOptions{Isolation: d.dialect.isolation}
	}
	tx, err := d.w.BeginTxx(context.WithoutCancel(ctx), opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// mapErr turns driver errors into domain errors in one place: a unique constraint
// becomes a conflict naming what, no rows becomes not found.
func mapErr(err error, kind, name string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return tenants.NotFound(kind, name)
	}
	if isUniqueViolation(err) {
		return tenants.Conflict("%s %q already exists", kind, name)
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, tenants.ErrNotFound) }
