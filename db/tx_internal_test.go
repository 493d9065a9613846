package db

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/testpeers"
)

// TestMain is in dialects_test.go (one per test binary).

// TestTxRunsAgainAfterALostInsertRace: on PostgreSQL a transaction whose
// look-then-insert was overtaken by another replica's insert (a unique violation
// it did not map itself) runs again and then sees that row.
func TestTxRunsAgainAfterALostInsertRace(t *testing.T) {
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := Open(ctx, Options{URL: testpeers.Postgres(t).NewDatabase(t), Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	runs := 0
	err = d.tx(ctx, func(tx *sqlx.Tx) error {
		runs++
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM meta WHERE key = 'race'`); err != nil || n > 0 {
			return err // the winner's row: nothing to insert
		}
		if runs == 1 { // another replica inserts the row between our look and our insert
			if _, err := d.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('race', 'other')`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('race', 'mine')`)
		return err
	})
	if err != nil || runs != 2 {
		t.Fatalf("tx: %v after %d runs, want success on the second run", err, runs)
	}
}
