package db

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stateward/stateward/pressure"
)

// TestReassertRestsWithNoReadOpen: a full rewrite beside a stream of submits
// rests between its reads of the placements it keeps, never inside one. At
// each rest no reading connection is in use, and a submit committed during the
// rest can be checkpointed at once: the whole write-ahead log copies. Reading
// the store in one statement and resting between its rows held a snapshot
// across every rest, and the checkpoint stopped at it.
func TestReassertRestsWithNoReadOpen(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "s.db"), Sealer: s, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ten := gitDevTeam(t, d)
	n := 3*keptChunk + 7 // several statements' worth
	for i := range n {
		if _, err := d.SubmitWork(ctx, ten.ID, devWork(t, i, "x: 1\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	writeNextJob(t, d, "v1")
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE rest_probe (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := d.RequeueAll(ctx); err != nil {
		t.Fatal(err)
	}

	// The accept path is busy throughout: every Pace point rests, and at each
	// rest a submit's commit arrives (a row of rest_probe).
	rests, readsOpen, logLeft := 0, 0, 0
	p := &pressure.Pacer{Busy: func() bool { return true }, Slice: time.Nanosecond, Rest: 1, OnRest: func(time.Duration) {
		rests++
		if d.r.Stats().InUse > 0 {
			readsOpen++
		}
		if _, err := d.w.ExecContext(ctx, `INSERT INTO rest_probe (n) VALUES (?)`, rests); err != nil {
			t.Error(err)
			return
		}
		var busy, logPages, done int
		if err := d.cp.db.QueryRowxContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
			t.Error(err)
			return
		}
		if done < logPages {
			logLeft++
		}
	}}
	job, ok, err := d.ClaimJob(pressure.WithPacer(ctx, p), "w", time.Minute)
	if err != nil || !ok || !job.Full {
		t.Fatalf("claim of the re-assert: %v %v", ok, err)
	}
	seen := map[int64]bool{}
	for _, w := range job.Writes {
		if seen[w.ID] {
			t.Errorf("placement %d read twice", w.ID)
		}
		seen[w.ID] = true
		if !w.Settled {
			t.Errorf("placement %d (%s) not read as settled", w.ID, w.Name)
		}
	}
	if len(seen) != n {
		t.Errorf("the re-assert read %d placements, want %d", len(seen), n)
	}
	if rests < n {
		t.Fatalf("the re-assert rested %d times, want one at least per placement (%d)", rests, n)
	}
	if readsOpen > 0 || logLeft > 0 {
		t.Errorf("of %d rests, %d held a read open and at %d the checkpoint could not copy the whole log", rests, readsOpen, logLeft)
	}
}
