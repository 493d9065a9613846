package db

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// TestCommitsNeverCheckpoint: the writer connection leaves checkpoints to the
// background checkpointer (a commit that checkpoints makes every submit queued
// behind it wait for the copy and its fsync), and the checkpointer keeps the
// write-ahead log short: after 100 MB written in 1,000 commits it is far below that.
func TestCommitsNeverCheckpoint(t *testing.T) {
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	d, err := Open(ctx, Options{Path: path, Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var auto int
	if err := d.w.GetContext(ctx, &auto, `PRAGMA wal_autocheckpoint`); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Errorf("writer connection: wal_autocheckpoint = %d, want 0 (commits must not checkpoint)", auto)
	}
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	blob := []byte(strings.Repeat("x", 100_000))
	for range 1000 {
		if _, err := d.w.ExecContext(ctx, `INSERT INTO filler (b) VALUES (?)`, blob); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	// The log restarts from its beginning at the first commit after a complete
	// checkpoint, so its file stays near the size written between two of them:
	// small commits, until one finds it so (the checkpointer runs meanwhile).
	small := 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := d.w.ExecContext(ctx, `INSERT INTO filler (b) VALUES (x'00')`); err != nil {
			t.Fatal(err)
		}
		small++
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() <= 40<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write-ahead log is %d MB 10 s after 100 MB written: nothing checkpoints it", fi.Size()>>20)
		}
		time.Sleep(checkpointEvery / 4)
	}
	var rows int
	if err := d.r.GetContext(ctx, &rows, `SELECT COUNT(*) FROM filler`); err != nil || rows != 1000+small {
		t.Fatalf("filler rows = %d, %v; want %d", rows, err, 1000+small)
	}
}

// TestCheckpointLeavesTheWriterToALongReader: while a reader holds a snapshot
// older than the log's end (a re-assert reading a store's placements), the
// checkpointer copies what it can but does not try a RESTART, which would hold
// the writer for checkpointBusy waiting for that reader (every submit waited
// 34 ms, every 100 ms). Once the reader is done, the RESTART runs and the log
// starts over.
func TestCheckpointLeavesTheWriterToALongReader(t *testing.T) {
	defer func(n int) { restartPages = n }(restartPages)
	restartPages = 8
	ctx := context.Background()
	s, _ := NewSealer(make([]byte, 32))
	path := filepath.Join(t.TempDir(), "s.db")
	d, err := Open(ctx, Options{Path: path, Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.cp.close(); err != nil { // this test's checkpoints alone
		t.Fatal(err)
	}
	u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(path)}
	conn, err := sqlx.Open("sqlite3", u.String()+"?_journal_mode=WAL&_busy_timeout="+strconv.Itoa(checkpointBusy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &checkpointer{db: conn}
	write := func(rows int) {
		t.Helper()
		if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS scratch (b BLOB)`); err != nil {
			t.Fatal(err)
		}
		for range rows {
			if _, err := d.w.ExecContext(ctx, `INSERT INTO scratch (b) VALUES (randomblob(8000))`); err != nil {
				t.Fatal(err)
			}
		}
	}
	logPages := func() int {
		t.Helper()
		var busy, log, done int
		if err := conn.QueryRowxContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		return log
	}

	write(20)
	reader, err := d.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM scratch`); err != nil { // its snapshot starts
		t.Fatal(err)
	}
	write(20) // past the reader's snapshot
	began := time.Now()
	if c.checkpoint() {
		t.Errorf("a RESTART was tried while a reader held an older snapshot (it took %s)", time.Since(began))
	}
	grown := logPages()
	if grown < restartPages {
		t.Fatalf("the log holds %d pages, want more than %d for this test", grown, restartPages)
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	if !c.checkpoint() {
		t.Fatal("no RESTART once the reader was done")
	}
	write(1)
	if after := logPages(); after >= grown {
		t.Errorf("the log holds %d pages after the RESTART and one write, was %d: it did not start over", after, grown)
	}
}
