package db

import (
	"context"
	"time"

	"github.com/stateward/stateward/tenants"
)

// DeliveryRetention is how long the webhook delivery log is kept.
const DeliveryRetention = 30 * 24 * time.Hour

// Prune deletes what has expired: sessions past their idle or absolute timeout,
// login attempts, Idempotency-Keys past their window, accepted webhook signatures
// that no longer verify and old delivery records. It reports how many rows went.
func (d *DB) Prune(ctx context.Context) (int64, error) {
	now := d.now()
	var total int64
	for _, q := range []struct {
		sql string
		arg []any
	}{
		{`DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?`, []any{now.Add(-tenants.IdleTimeout), now.Add(-tenants.AbsoluteTimeout)}},
		{`DELETE FROM login_attempts WHERE created_at < ?`, []any{now.Add(-tenants.LoginAttemptTTL)}},
		{`DELETE FROM idempotency_keys WHERE created_at < ?`, []any{now.Add(-IdempotencyWindow)}},
		{`DELETE FROM hook_signatures WHERE expires_at < ?`, []any{now}},
		{`DELETE FROM trigger_deliveries WHERE at < ?`, []any{now.Add(-DeliveryRetention)}},
	} {
		res, err := d.w.ExecContext(ctx, q.sql, q.arg...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
