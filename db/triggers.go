package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// Prefixes of webhook tokens and signing secrets, so people and secret scanners
// can tell them apart.
const (
	HookTokenPrefix  = "swh_"
	HookSecretPrefix = "whsec_"
	// SecretOverlap is how long the previous signing secret stays valid after a
	// rotation.
	SecretOverlap = 24 * time.Hour
	// IdempotencyWindow is how long an Idempotency-Key replays its first answer.
	IdempotencyWindow = 24 * time.Hour
)

type triggerRow struct {
	ID               int64      `db:"id"`
	TenantID         int64      `db:"tenant_id"`
	Name             string     `db:"name"`
	Promise          string     `db:"promise"`
	RequireSignature bool       `db:"require_signature"`
	RatePerSecond    float64    `db:"rate_per_second"`
	SecretSealed     string     `db:"secret_sealed"`
	PreviousSealed   string     `db:"previous_sealed"`
	PreviousExpires  *time.Time `db:"previous_expires_at"`
	CreatedAt        time.Time  `db:"created_at"`
	LastUsedAt       *time.Time `db:"last_used_at"`
	RevokedAt        *time.Time `db:"revoked_at"`
}

const triggerCols = `id, tenant_id, name, promise, require_signature, rate_per_second, secret_sealed, previous_sealed,
	previous_expires_at, created_at, last_used_at, revoked_at`

func (r triggerRow) domain() tenants.Trigger {
	return tenants.Trigger{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Promise: r.Promise, RequireSignature: r.RequireSignature,
		RatePerSecond: r.RatePerSecond, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

func secretBinding(tenantID, triggerID int64) string {
	return "tenant/" + strconv.FormatInt(tenantID, 10) + "/trigger/" + strconv.FormatInt(triggerID, 10) + "/secret"
}

// CreateTrigger makes a webhook trigger and returns it with its URL token and
// signing secret, both shown once. The token is stored only as a hash.
func (d *DB) CreateTrigger(ctx context.Context, t tenants.Trigger) (tenants.Trigger, string, string, error) {
	token, _ := tenants.NewSecret()
	token = HookTokenPrefix + token
	hash := tenants.HashSecret(token)
	secret, _ := tenants.NewSecret()
	secret = HookSecretPrefix + secret
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		t.CreatedAt = d.now()
		err := tx.GetContext(ctx, &t.ID, `INSERT INTO triggers (tenant_id, name, promise, require_signature, rate_per_second,
			token_hash, secret_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?) RETURNING id`,
			t.TenantID, t.Name, t.Promise, t.RequireSignature, t.RatePerSecond, hash, t.CreatedAt)
		if err != nil {
			return mapErr(err, "trigger", t.Name)
		}
		sealed, err := d.sealer.Seal(secretBinding(t.TenantID, t.ID), secret)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE triggers SET secret_sealed = ? WHERE id = ?`, sealed, t.ID)
		return err
	})
	return t, token, secret, err
}

// Triggers lists a tenant's triggers (revoked ones too, marked), newest first.
func (d *DB) Triggers(ctx context.Context, tenantID int64) ([]tenants.Trigger, error) {
	var rows []triggerRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+triggerCols+` FROM triggers WHERE tenant_id = ? ORDER BY id DESC`, tenantID)
	out := make([]tenants.Trigger, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, err
}

// Trigger finds one of a tenant's triggers.
func (d *DB) Trigger(ctx context.Context, tenantID, id int64) (tenants.Trigger, error) {
	var r triggerRow
	err := d.r.GetContext(ctx, &r, `SELECT `+triggerCols+` FROM triggers WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return r.domain(), mapErr(err, "trigger", strconv.FormatInt(id, 10))
}

// TriggerByToken finds the live trigger of a webhook URL token; unknown or revoked
// is ErrNotFound.
func (d *DB) TriggerByToken(ctx context.Context, token string) (tenants.HookTrigger, error) {
	// Two plain lookups: on SQLite a join with a bound parameter costs several
	// times as much, and this runs for every delivery.
	var r triggerRow
	err := d.r.GetContext(ctx, &r, `SELECT id, tenant_id, name, promise, require_signature, rate_per_second,
		secret_sealed, previous_sealed, previous_expires_at, created_at, last_used_at, revoked_at
		FROM triggers WHERE token_hash = ? AND revoked_at IS NULL`, tenants.HashSecret(token))
	var t tenantRow
	if err == nil {
		err = d.r.GetContext(ctx, &t, `SELECT id, slug, name, allowed_domain, created_at FROM tenants WHERE id = ?`, r.TenantID)
	}
	if err != nil {
		return tenants.HookTrigger{}, mapErr(err, "webhook URL (unknown or revoked)", "")
	}
	h := tenants.HookTrigger{Trigger: r.domain(), Tenant: t.domain()}
	b := secretBinding(r.TenantID, r.ID)
	for i, sealed := range []string{r.SecretSealed, r.PreviousSealed} {
		if sealed == "" || (i == 1 && (r.PreviousExpires == nil || d.now().After(*r.PreviousExpires))) {
			continue
		}
		secret, _, err := d.sealer.Open(b, sealed)
		if err != nil {
			return tenants.HookTrigger{}, fmt.Errorf("open trigger secret: %w", err)
		}
		h.Secrets = append(h.Secrets, secret)
	}
	return h, nil
}

// RotateTriggerSecret gives a trigger a new signing secret; the old one stays
// valid for SecretOverlap so senders can switch without failed deliveries.
func (d *DB) RotateTriggerSecret(ctx context.Context, tenantID, id int64) (string, error) {
	secret, _ := tenants.NewSecret()
	secret = HookSecretPrefix + secret
	sealed, err := d.sealer.Seal(secretBinding(tenantID, id), secret)
	if err != nil {
		return "", err
	}
	res, err := d.w.ExecContext(ctx, `UPDATE triggers SET previous_sealed = secret_sealed, previous_expires_at = ?, secret_sealed = ?
		WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`, d.now().Add(SecretOverlap), sealed, tenantID, id)
	return secret, notFoundIfNone(res, err, "trigger", strconv.FormatInt(id, 10))
}

// RevokeTrigger revokes a trigger: its URL answers 404 from now on.
func (d *DB) RevokeTrigger(ctx context.Context, tenantID, id int64) error {
	res, err := d.w.ExecContext(ctx, `UPDATE triggers SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
		d.now(), tenantID, id)
	return notFoundIfNone(res, err, "trigger", strconv.FormatInt(id, 10))
}

// RecordDelivery appends a delivery to the audit log and marks the trigger used.
func (d *DB) RecordDelivery(ctx context.Context, tenantID int64, del tenants.Delivery) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error { return recordDelivery(ctx, tx, tenantID, del) })
}

func recordDelivery(ctx context.Context, tx *sqlx.Tx, tenantID int64, del tenants.Delivery) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO trigger_deliveries (tenant_id, trigger_id, at, source_ip, status, work_id, error)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tenantID, del.TriggerID, del.At, del.SourceIP, del.Status, del.WorkID, del.Error); err != nil {
		return err
	}
	// At most once a minute: a busy trigger's row is not rewritten by every
	// delivery (concurrent transactions on PostgreSQL would fail to serialize).
	_, err := tx.ExecContext(ctx, `UPDATE triggers SET last_used_at = ? WHERE id = ? AND tenant_id = ?
		AND (last_used_at IS NULL OR last_used_at <= ?)`, del.At, del.TriggerID, tenantID, del.At.Add(-lastUsedResolution))
	return err
}

// lastUsedResolution is how stale a trigger's last_used_at may be.
const lastUsedResolution = time.Minute

// Deliveries lists a trigger's most recent deliveries.
func (d *DB) Deliveries(ctx context.Context, tenantID, triggerID int64, limit int) ([]tenants.Delivery, error) {
	var rows []deliveryRow
	err := d.r.SelectContext(ctx, &rows, `SELECT id, trigger_id, at, source_ip, status, work_id, error FROM trigger_deliveries
		WHERE tenant_id = ? AND trigger_id = ? ORDER BY id DESC LIMIT ?`, tenantID, triggerID, limit)
	if rows == nil {
		return nil, err
	}
	out := make([]tenants.Delivery, len(rows))
	for i, r := range rows {
		out[i] = tenants.Delivery(r)
	}
	return out, err
}

// deliveryRow is a row of trigger_deliveries.
type deliveryRow struct {
	ID        int64     `db:"id"`
	TriggerID int64     `db:"trigger_id"`
	At        time.Time `db:"at"`
	SourceIP  string    `db:"source_ip"`
	Status    int       `db:"status"`
	WorkID    *int64    `db:"work_id"`
	Error     string    `db:"error"`
}

// IdempotentAnswer returns the stored answer for (trigger, key) within the
// window, and whether there is one.
func (d *DB) IdempotentAnswer(ctx context.Context, triggerID int64, key string) (tenants.StoredAnswer, bool, error) {
	return d.idempotentAnswer(ctx, d.r, triggerID, key)
}

func (d *DB) idempotentAnswer(ctx context.Context, q sqlx.QueryerContext, triggerID int64, key string) (tenants.StoredAnswer, bool, error) {
	var a answerRow
	err := sqlx.GetContext(ctx, q, &a, `SELECT body_hash, status, response FROM idempotency_keys
		WHERE trigger_id = ? AND key = ? AND created_at > ?`, triggerID, key, d.now().Add(-IdempotencyWindow))
	if errors.Is(err, sql.ErrNoRows) {
		return tenants.StoredAnswer(a), false, nil
	}
	return tenants.StoredAnswer(a), err == nil, err
}

// answerRow is the stored answer of a row of idempotency_keys.
type answerRow struct {
	BodyHash string `db:"body_hash"`
	Status   int    `db:"status"`
	Response string `db:"response"`
}

// SaveIdempotentAnswer keeps the first answer for (trigger, key). A second writer
// of the same key loses quietly and the caller's answer stands.
func (d *DB) SaveIdempotentAnswer(ctx context.Context, triggerID int64, key string, a tenants.StoredAnswer) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error { return d.saveIdempotent(ctx, tx, triggerID, key, a) })
}

func (d *DB) saveIdempotent(ctx context.Context, tx *sqlx.Tx, triggerID int64, key string, a tenants.StoredAnswer) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (trigger_id, key, body_hash, status, response, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (trigger_id, key) DO UPDATE SET body_hash = excluded.body_hash,
		status = excluded.status, response = excluded.response, created_at = excluded.created_at
		WHERE idempotency_keys.created_at <= ?`,
		triggerID, key, a.BodyHash, a.Status, a.Response, d.now(), d.now().Add(-IdempotencyWindow))
	return err
}

// SubmitHookWork accepts a Work from a webhook: the Work (as SubmitWork), its
// delivery record and, with idem, the Idempotency-Key's answer commit in one
// transaction — an accepted delivery is never missing from the audit log, and a
// delivery costs one write transaction, not three. answer renders the 202 body
// from the result. The key is claimed first inside the transaction, so two
// replicas receiving it at once submit one Work: the other waits for the first's
// commit and gets an *AnsweredError with its answer, submitting nothing. A signed
// delivery (sig) is claimed next, the same way: one already accepted is
// ErrReplayed, and nothing is submitted.
func (d *DB) SubmitHookWork(ctx context.Context, tenantID int64, w *tenants.Work, del tenants.Delivery, idem *tenants.HookIdempotency,
	sig *tenants.SignedDelivery, answer func(tenants.SubmitResult) []byte) (tenants.SubmitResult, []byte, error) {
	var res submitted
	var body []byte
	err := d.submitTx(ctx, func(ctx context.Context, tx *sqlx.Tx, guard bool) error {
		if idem != nil || sig != nil {
			if err := d.lockTenant(ctx, tx, tenantID, false); err != nil { // first, as in submit
				return err
			}
		}
		if idem != nil {
			prev, answered, err := d.claimKey(ctx, tx, del.TriggerID, idem)
			if err != nil {
				return err
			}
			if answered {
				return &tenants.AnsweredError{Answer: prev}
			}
		}
		if sig != nil {
			if err := d.claimSignature(ctx, tx, del.TriggerID, sig); err != nil {
				return err
			}
		}
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, false); err != nil {
			return err
		}
		// The records read nothing back: held back (pipeline.go), they go out
		// with the job upserts and the commit.
		rctx := deferred(ctx)
		del.WorkID = &res.Work
		if err := recordHookRequest(rctx, tx, tenantID, res.Work, w, del.TriggerID); err != nil {
			return err
		}
		if err := recordDelivery(rctx, tx, tenantID, del); err != nil {
			return err
		}
		if err := recordTriggerWrite(rctx, tx, tenantID, d.now(), del.TriggerID, w, res.SubmitResult); err != nil {
			return err
		}
		// Guarded (submitTx) only without an idempotency key: the key keeps
		// the answer, job ids and all, in this transaction.
		res.guard = guard && idem == nil
		if err := d.enqueueJobs(ctx, tx, tenantID, &res); err != nil { // last: see enqueueJobs
			return err
		}
		if idem == nil {
			return nil // the answer is made after the commit, which reads the job ids
		}
		body = answer(res.SubmitResult)
		_, err = tx.ExecContext(rctx, `UPDATE idempotency_keys SET status = ?, response = ? WHERE trigger_id = ? AND key = ?`,
			del.Status, string(body), del.TriggerID, idem.Key)
		return err
	})
	if err == nil && idem == nil {
		res.fillJobs()
		body = answer(res.SubmitResult)
	}
	return res.SubmitResult, body, err
}

// recordHookRequest is recordRequest for a Work a trigger submitted: the
// trigger's name is the requester.
func recordHookRequest(ctx context.Context, tx *sqlx.Tx, tenantID, id int64, w *tenants.Work, triggerID int64) error {
	// The name in the statement, not read first: nothing to wait for.
	labels, _ := json.Marshal(nonNilLabels(w.Labels))
	_, err := tx.ExecContext(ctx, `UPDATE works SET requested_by = (SELECT name FROM triggers WHERE tenant_id = ? AND id = ?),
		requester_kind = ?, correlation_id = ?, labels = ?, requester_name = '' WHERE tenant_id = ? AND id = ?`,
		tenantID, triggerID, tenants.ActorTrigger, w.CorrelationID, string(labels), tenantID, id)
	return err
}

// claimKey reserves an Idempotency-Key for the answer of this transaction before
// its Work is submitted: it inserts the key's row (or takes over an expired one),
// so that a concurrent delivery of the key — on another replica — waits on that
// row and then finds the answer. answered reports an answer that was there
// already, returned as prev.
func (d *DB) claimKey(ctx context.Context, tx *sqlx.Tx, triggerID int64, idem *tenants.HookIdempotency) (prev tenants.StoredAnswer, answered bool, err error) {
	now := d.now()
	var key string
	err = tx.GetContext(ctx, &key, `INSERT INTO idempotency_keys (trigger_id, key, body_hash, status, response, created_at)
		VALUES (?, ?, ?, 0, '', ?) ON CONFLICT (trigger_id, key) DO UPDATE SET body_hash = excluded.body_hash, status = 0,
		response = '', created_at = excluded.created_at WHERE idempotency_keys.created_at <= ? RETURNING key`,
		triggerID, idem.Key, idem.BodyHash, now, now.Add(-IdempotencyWindow))
	if !errors.Is(err, sql.ErrNoRows) {
		return tenants.StoredAnswer{}, false, err // claimed, or failed
	}
	prev, ok, err := d.idempotentAnswer(ctx, tx, triggerID, idem.Key)
	if err == nil && !ok {
		err = fmt.Errorf("the Idempotency-Key %q of trigger %d is neither free nor answered", idem.Key, triggerID)
	}
	return prev, true, err
}

// claimSignature records a signed delivery as accepted, or answers ErrReplayed
// when it already is: a concurrent claim of the same delivery (on another
// replica) waits on the row and then finds it. A row past its expiry (kept by a
// pruning that has not run yet) is taken over.
func (d *DB) claimSignature(ctx context.Context, tx *sqlx.Tx, triggerID int64, sig *tenants.SignedDelivery) error {
	var digest string
	err := tx.GetContext(ctx, &digest, `INSERT INTO hook_signatures (trigger_id, digest, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (trigger_id, digest) DO UPDATE SET expires_at = excluded.expires_at
		WHERE hook_signatures.expires_at < ? RETURNING digest`, triggerID, sig.Digest, sig.Until, d.now())
	if errors.Is(err, sql.ErrNoRows) {
		return tenants.ErrReplayed
	}
	return err
}
