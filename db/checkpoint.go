package db

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// Checkpoints off the commit path. By default SQLite copies the write-ahead log
// back into the database file (and fsyncs it) inside whichever commit finds the
// log past 1,000 pages: under load that is a submit batch or a writer's finish,
// and every caller queued behind the one writer connection waits tens of
// milliseconds for it. The writer connection therefore never checkpoints; a
// goroutine on a connection of its own runs PASSIVE checkpoints, which copy what
// they can while commits go on appending to the log.
type checkpointer struct {
	db        *sqlx.DB
	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// checkpointEvery is how often a checkpoint runs. One with nothing to copy
// costs next to nothing; one every 100 ms keeps the log short under load.
const checkpointEvery = 100 * time.Millisecond

// sqliteWriterDriver is mattn's driver with automatic checkpoints turned off on
// every connection it opens: the writer's.
const sqliteWriterDriver = "sqlite3-stateward-writer"

func init() {
	sql.Register(sqliteWriterDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(`PRAGMA wal_autocheckpoint = 0`, nil)
		return err
	}})
}

func startCheckpointer(db *sqlx.DB) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer c.done.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	opt := time.NewTicker(optimizeEvery)
	defer opt.Stop()
	for {
		select {
		case <-c.stop:
			c.checkpoint() // leave a short log behind
			return
		case <-t.C:
			c.checkpoint()
		case <-opt.C:
			c.optimize()
		}
	}
}

// optimize runs PRAGMA optimize (see optimize.go): ANALYZE of the tables whose
// size moved a lot since their last analysis, bounded.
func (c *checkpointer) optimize() {
	ctx := context.Background()
	if _, err := c.db.ExecContext(ctx, `PRAGMA analysis_limit = `+itoa(analysisLimit)); err != nil {
		slog.Warn("database optimize failed", "err", err)
		return
	}
	if _, err := c.db.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		slog.Warn("database optimize failed", "err", err)
	}
}

// checkpoint copies what it can of the log into the database file without
// waiting for readers or the writer. Under a steady stream of commits the log
// is never found fully copied when one starts, and only then does SQLite write
// it again from its beginning; so once it has grown past restartPages, a
// RESTART checkpoint holds the writer for the little left to copy and lets the
// next commit start the log over. It reports whether it tried a RESTART.
//
// Not while a reader holds an older snapshot: the PASSIVE checkpoint could not
// copy all of the log then, and a RESTART would hold the writer for all of
// checkpointBusy waiting for that reader, and give up. With a re-assert's
// read of 5,000 placements in progress, a RESTART every 100 ms did so: every
// submit arriving meanwhile waited 34 ms (SQLite's busy handler sleeps 1, 2,
// 5, 10 and 15 ms between its tries), a third of the time. The log grows
// until the reader is done, and starts over then.
func (c *checkpointer) checkpoint() (restarted bool) {
	ctx := context.Background()
	var busy, logPages, done int
	if err := c.db.QueryRowxContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		slog.Warn("database checkpoint failed", "err", err)
		return false
	}
	if logPages < restartPages || done < logPages {
		return false
	}
	if err := c.db.QueryRowxContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logPages, &done); err != nil {
		slog.Warn("database checkpoint failed", "err", err)
	}
	return true
}

// restartPages is the log size (4 KiB pages) from which the log is started over.
// A RESTART holds the writer while it waits for readers of the log (those
// that began before the PASSIVE checkpoint finished); the checkpointer's
// connection gives up after checkpointBusy and tries again at the next tick
// rather than stall submits behind a long dashboard read.
var restartPages = 4096 // a variable for tests

const checkpointBusy = 5 // milliseconds

// close stops the checkpoints after a last one; calling it again does nothing.
func (c *checkpointer) close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.done.Wait()
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}
