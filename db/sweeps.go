package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Names of the periodic sweeps that replicas take turns at.
const (
	SweepReadiness = "readiness"
	SweepReassert  = "reassert"
	SweepPrune     = "prune"
)

// TakeTurn reports whether owner runs the sweep name now: true when no replica
// ran it in the last period (less a tenth, so that replicas ticking every period
// do not skip one by a hair), and then records owner's run in the same statement.
// Replicas sharing the database each ask every period; one runs the sweep.
func (d *DB) TakeTurn(ctx context.Context, name, owner string, period time.Duration) (bool, error) {
	now := d.now()
	due := now.Add(-(period - period/10))
	var got string
	err := d.w.GetContext(ctx, &got, `INSERT INTO sweeps (name, owner, ran_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, ran_at = excluded.ran_at WHERE sweeps.ran_at <= ?
		RETURNING owner`, name, owner, now, due)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // another replica's turn
	}
	return err == nil, err
}
