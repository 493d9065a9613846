package db

import (
	"context"
	"time"
)

// AllowDelivery spends one delivery of a webhook trigger limited to rate per
// second (burst: one second's worth, at least one), and reports whether it was
// allowed. The limit is a GCRA on the trigger row, so every replica shares it: the
// row keeps the theoretical arrival time (TAT) of the next delivery, and one
// conditional UPDATE both checks and advances it. rate ≤ 0 is unlimited.
func (d *DB) AllowDelivery(ctx context.Context, triggerID int64, rate float64) (bool, error) {
	if rate <= 0 {
		return true, nil
	}
	interval := int64(float64(time.Second/time.Microsecond) / rate) // µs between deliveries
	tolerance := int64(float64(interval) * (max(rate, 1) - 1))      // µs of burst
	now := d.now().UnixMicro()
	res, err := d.w.ExecContext(ctx, `UPDATE triggers
		SET rate_tat = (CASE WHEN rate_tat > ? THEN rate_tat ELSE ? END) + ?
		WHERE id = ? AND (CASE WHEN rate_tat > ? THEN rate_tat ELSE ? END) - ? <= ?`,
		now, now, interval, triggerID, now, now, now, tolerance)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
