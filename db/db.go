// Package db is Stateward's storage: the schema and its embedded migrations, every
// query (each scoped by tenant), the sealing of credentials, and the durable job
// table the writers drain. SQLite (one writer connection and a pool of readers) is the
// default; the SQL stays portable so PostgreSQL can follow.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"

	"github.com/stateward/stateward/tenants"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the database handle: a single writer connection (SQLite allows one writer at
// a time; queueing in Go is cheaper than SQLITE_BUSY retries) and a reader pool.
type DB struct {
	w      *sqlx.DB
	r      *sqlx.DB
	sealer *Sealer
	now    func() time.Time
	b      *batcher // group commit of submits (batch.go)
}

// Options configure Open.
type Options struct {
	// Path is the SQLite file (created if missing).
	Path string
	// Sealer seals and opens credentials; required.
	Sealer *Sealer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Open opens (creating if needed) the SQLite database, applies pending migrations,
// and verifies that the sealing key matches the one the database was sealed with.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Sealer == nil {
		return nil, errors.New("db: a Sealer is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dsn := func(extra string) string {
		u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(o.Path)}
		return u.String() + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_stmt_cache_size=128" + extra
	}
	w, err := sqlx.Open("sqlite3", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	d := &DB{w: w, sealer: o.Sealer, now: func() time.Time { return o.Now().UTC() }}
	if err := d.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sqlx.Open("sqlite3", dsn("&mode=ro"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s read-only: %w", o.Path, err)
	}
	r.SetMaxOpenConns(4)
	d.r = r
	if err := d.checkCanary(ctx); err != nil {
		d.Close()
		return nil, err
	}
	d.startBatcher()
	return d, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	d.stopBatcher()
	var errR error
	if d.r != nil {
		errR = d.r.Close()
	}
	return errors.Join(d.w.Close(), errR)
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.r.GetContext(ctx, &one, `SELECT 1`)
}

// Now is the injected clock, in UTC.
func (d *DB) Now() time.Time { return d.now() }

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, name string) error {
	version := strings.TrimSuffix(filepath.Base(name), ".sql")
	return d.tx(ctx, func(tx *sqlx.Tx) error {
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
	})
}

// tx runs fn in a write transaction, committing when it returns nil.
func (d *DB) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := d.w.BeginTxx(ctx, nil)
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
	var se sqlite3.Error
	if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique || errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey {
		return tenants.Conflict("%s %q already exists", kind, name)
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, tenants.ErrNotFound) }
