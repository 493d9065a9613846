package db

import (
	"context"
	"time"
)

// SQLite's query planner chooses indexes from statistics (sqlite_stat1), which
// only ANALYZE writes. Without them it guesses from the schema alone, and
// guessed wrong twice at 100,000 placements (the tenant's whole range instead
// of a lookup by Work; the last day's placements to count a few failed ones).
// PRAGMA optimize, as SQLite advises for long-lived connections, runs at open
// (0x10002: every table, with a bounded analysis) and then every optimizeEvery
// (only where the row counts moved a lot since): the plans follow the data.
const (
	optimizeEvery = time.Hour
	// analysisLimit bounds the rows ANALYZE reads per index, so that an
	// optimize stays milliseconds on a large database.
	analysisLimit = 1000
)

// Optimize runs PRAGMA optimize on SQLite (PostgreSQL's autovacuum analyses by
// itself); first makes it consider every table (at open, and in tests after
// loading data).
func (d *DB) Optimize(ctx context.Context, first bool) error {
	if d.isPostgres() {
		return nil
	}
	mode := ""
	if first {
		mode = "=0x10002"
	}
	if _, err := d.w.ExecContext(ctx, `PRAGMA analysis_limit = `+itoa(analysisLimit)); err != nil {
		return err
	}
	_, err := d.w.ExecContext(ctx, `PRAGMA optimize`+mode)
	return err
}
