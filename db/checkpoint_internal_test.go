package db

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
