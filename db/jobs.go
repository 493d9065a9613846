package db

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// ErrLeaseLost is returned by Heartbeat and FinishJob when the job is no longer
// this owner's (its lease expired and another worker took it over).
var ErrLeaseLost = tenants.ErrLeaseLost

// Backoff bounds for a failing job: 1s·2^(attempts-1), at most MaxBackoff, ±20%.
const (
	baseBackoff = time.Second
	MaxBackoff  = 5 * time.Minute
)

// enqueueAll queues one job for each store of s (coalescing with a queued one) and
// records the ids in s.
func (d *DB) enqueueAll(ctx context.Context, tx *sqlx.Tx, tenantID int64, s *jobSet) error {
	// One order for every transaction, so that two submits whose Works touch
	// the same stores never wait for each other's job rows in a cycle.
	slices.SortFunc(s.order, func(a, b storeKey) int {
		return cmp.Or(strings.Compare(a.kind, b.kind), strings.Compare(a.name, b.name))
	})
	for _, k := range s.order {
		id := new(int64)
		if err := d.enqueueLater(ctx, tx, tenantID, k, id); err != nil {
			return err
		}
		s.ids[k] = id
	}
	return nil
}

// enqueue returns the store's queued job, creating it if there is none. A queued
// job already due, or waiting out a backoff after failed attempts (a burst of
// Works against a failing remote must not turn the backoff into a busy retry
// loop), is found by one read and left as it is. Otherwise one upsert on the
// partial unique index, so concurrent submits never race to insert it, creates
// the job or makes it due at once.
func (d *DB) enqueue(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, full bool) (int64, error) {
	now := d.now()
	var id int64
	if !full {
		// The common case, a queued job already due (or backing off), in one
		// statement instead of an upsert that changes nothing and a read. On
		// PostgreSQL the read locks the row as the upsert would (a claim skips
		// it until this commits); on a job claimed meanwhile it finds no row.
		// A job paced after the store's last push (pushDue) counts as due: the
		// Work joins it.
		var j struct {
			ID       int64 `db:"id"`
			Attempts int   `db:"attempts"`
			OnTime   bool  `db:"on_time"`
		}
		due, dueArgs := d.pushDue(tenantID, k, now)
		err := tx.GetContext(ctx, &j, `SELECT id, attempts, run_after <= `+due+` AS on_time FROM jobs
			WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'queued'`+d.dialect.rowLock,
			append(dueArgs, tenantID, k.kind, k.name)...)
		if err == nil && (j.Attempts > 0 || j.OnTime) {
			return j.ID, nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	q, args := d.enqueueSQL(tenantID, k, full, now, enqueueChangesWhere)
	err := tx.GetContext(ctx, &id, q, args...)
	if errors.Is(err, sql.ErrNoRows) { // due already: the upsert locked it and changed nothing
		err = tx.GetContext(ctx, &id, `SELECT id FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'queued'`,
			tenantID, k.kind, k.name)
	}
	return id, err
}

// enqueueChangesWhere limits enqueueSQL's update of a queued job to one that
// changes it: made due sooner (it has not failed yet), or made a full rewrite.
const enqueueChangesWhere = `
		WHERE (jobs.attempts = 0 AND jobs.run_after > excluded.run_after) OR (excluded.full_rewrite AND NOT jobs.full_rewrite)`

// enqueueSQL is the upsert of the store's queued job: a new job goes first to
// the replica writing the store, or that wrote it last (affinity): the store's
// newest job is running, or holds the affinity its finish left (FinishJob). It
// is due at once, or when the store's push interval since its last push has run
// (pushDue); so is a queued job made due by it. where limits the update.
func (d *DB) enqueueSQL(tenantID int64, k storeKey, full bool, now time.Time, where string) (string, []any) {
	return d.enqueueIfSQL(tenantID, k, full, now, "", nil, where)
}

// enqueueIfSQL is enqueueSQL that inserts or updates nothing unless cond (SQL,
// with condArgs) holds; with cond "" it is enqueueSQL.
func (d *DB) enqueueIfSQL(tenantID int64, k storeKey, full bool, now time.Time, cond string, condArgs []any, where string) (string, []any) {
	const newest = ` FROM jobs l WHERE l.tenant_id = ? AND l.store_kind = ? AND l.store_name = ? ORDER BY l.id DESC LIMIT 1)`
	due, dueArgs := d.pushDue(tenantID, k, now)
	args := append(append([]any{tenantID, k.kind, k.name, full}, dueArgs...), now, now, tenantID, k.kind, k.name, tenantID, k.kind, k.name)
	head, tail := "VALUES (", ")"
	if cond != "" {
		// A SELECT with a WHERE (SQLite needs one before ON CONFLICT).
		head, tail = "SELECT ", " WHERE "+cond
		args = append(args, condArgs...)
	}
	return `INSERT INTO jobs (tenant_id, store_kind, store_name, state, full_rewrite, run_after, created_at, updated_at,
			affinity, affinity_until)
		` + head + `?, ?, ?, 'queued', ?, ` + due + `, ?, ?,
			COALESCE((SELECT CASE WHEN l.state = 'running' THEN l.lease_owner ELSE l.affinity END` + newest + `, ''),
			(SELECT CASE WHEN l.state = 'running' THEN l.lease_until ELSE l.affinity_until END` + newest + tail + `
		ON CONFLICT (tenant_id, store_kind, store_name) WHERE state = 'queued' DO UPDATE SET
		run_after = CASE WHEN jobs.attempts = 0 AND jobs.run_after > excluded.run_after THEN excluded.run_after ELSE jobs.run_after END,
		full_rewrite = (jobs.full_rewrite OR excluded.full_rewrite),
		updated_at = CASE WHEN (jobs.attempts = 0 AND jobs.run_after > excluded.run_after) OR (excluded.full_rewrite AND NOT jobs.full_rewrite)
			THEN excluded.updated_at ELSE jobs.updated_at END` + where + `
		RETURNING id`, args
}

// enqueueLater is enqueue (not a full rewrite) held back on PostgreSQL until
// the transaction's next flush (pipeline.go), which sets *id: one upsert that
// always answers the queued job, left as it was when it is due already or
// backing off, as enqueue's read would have found it. It locks the job row as
// enqueue does. On SQLite it is enqueue.
func (d *DB) enqueueLater(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, id *int64) error {
	if !d.isPostgres() {
		v, err := d.enqueue(ctx, tx, tenantID, k, false)
		*id = v
		return err
	}
	q, args := d.enqueueSQL(tenantID, k, false, d.now(), "")
	return d.queryLater(ctx, tx, func(rows rowScanner) error {
		if !rows.Next() {
			return errors.New("db: the job upsert answered no row")
		}
		return rows.Scan(id)
	}, q, args...)
}

type jobRow struct {
	ID         int64      `db:"id"`
	TenantID   int64      `db:"tenant_id"`
	StoreKind  string     `db:"store_kind"`
	StoreName  string     `db:"store_name"`
	State      string     `db:"state"`
	Full       bool       `db:"full_rewrite"`
	Attempts   int        `db:"attempts"`
	RunAfter   time.Time  `db:"run_after"`
	LeaseOwner string     `db:"lease_owner"`
	LeaseToken string     `db:"lease_token"`
	LeaseUntil *time.Time `db:"lease_until"`
	LastError  string     `db:"last_error"`
	Version    string     `db:"version"`
	CreatedAt  time.Time  `db:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

const jobCols = `id, tenant_id, store_kind, store_name, state, full_rewrite, attempts, run_after, lease_owner,
	lease_token, lease_until, last_error, version, created_at, updated_at, finished_at`

// ClaimJob takes the next due job for owner, holding it for lease under a fresh
// random lease token: a queued job whose run_after has come and whose store has
// no running job. Running jobs whose lease expired (their worker died) are first
// queued again as a failed attempt, with backoff, so a job that crashes its
// process cannot jump ahead of every other store after each restart. Once the
// job is taken, the claim marks the job's placements writing and reads
// everything the write needs (takeAndLoad). ok is false when no job is due.
//
// A claim never waits for a lock. On PostgreSQL it takes the job row with FOR
// UPDATE SKIP LOCKED (replicas claiming at once take different jobs), and the
// store's placements and canary files the same way: a row another transaction
// holds is left for the job that transaction queues (a submit, a delete or a
// re-plan always queues one after changing them, and FinishJob queues one for
// anything left pending). The claim used to wait for those rows while holding the
// job row, which the submit holding them was waiting for: PostgreSQL broke each
// such deadlock after a second (22 deadlocks, 16 s for 160 re-submits beside two
// workers in TestResubmitsDuringClaimsNeverDeadlock).
func (d *DB) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, bool, error) {
	due, expired, err := d.claimable(ctx, owner)
	if err != nil || !due && !expired {
		return nil, false, err
	}
	if expired {
		if err := d.tx(ctx, func(tx *sqlx.Tx) error {
			now, err := d.leaseNow(ctx, tx)
			if err != nil {
				return err
			}
			return d.expireLeases(ctx, tx, now)
		}); err != nil {
			return nil, false, fmt.Errorf("claim job: %w", err)
		}
	}
	job, err := d.takeAndLoad(ctx, owner, lease)
	if err != nil {
		return nil, false, fmt.Errorf("claim job: %w", err)
	}
	if job != nil && keptLater(job) {
		if err := d.loadKept(ctx, job); err != nil {
			// Claimed but not loaded: given back at once, not left to its lease.
			if rerr := d.ReleaseJob(context.WithoutCancel(ctx), job); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, false, fmt.Errorf("claim job: %w", err)
		}
	}
	return job, job != nil, nil
}

// takeAndLoad takes the next due job for owner (nil if none) and loads it
// (loadJob). On PostgreSQL these are two transactions: the job is taken in
// one statement that goes out with its COMMIT (pipeline.go), so the queued
// job, which every submit to the store locks, is locked only while the server
// runs that last pipeline; then what the write needs is read and marked
// writing in a transaction of its own, while no submit waits (the job is this
// claim's: its lease). A placement submitted in between is pending and may be
// written by this job; its own queued job then finds it written. A job taken
// but not loaded is given back at once, not left to its lease. On SQLite,
// with one writer and no round trips to save, both run in one transaction.
func (d *DB) takeAndLoad(ctx context.Context, owner string, lease time.Duration) (*tenants.Job, error) {
	var taken *tenants.Job
	take := func(tx *sqlx.Tx) error {
		taken = nil // a retried run must not return the job of a rolled-back one
		now, err := d.leaseNow(ctx, tx)
		if err != nil {
			return err
		}
		token := rand.Text()
		// A job the store's last writer may still take (affinity) is another
		// replica's only once its affinity has run out.
		return d.queryLater(ctx, tx, func(rows rowScanner) error {
			if !rows.Next() {
				return nil
			}
			var r jobRow
			if err := rows.Scan(&r.ID, &r.TenantID, &r.StoreKind, &r.StoreName, &r.Attempts, &r.Full); err != nil {
				return err
			}
			taken = &tenants.Job{ID: r.ID, TenantID: r.TenantID, Store: tenants.StoreRef{TenantID: r.TenantID, Kind: r.StoreKind, Name: r.StoreName},
				Attempts: r.Attempts, Owner: owner, Token: token, Full: r.Full}
			return nil
		}, `UPDATE jobs SET state = 'running', lease_owner = ?, lease_token = ?, lease_until = ?, updated_at = ?
			WHERE id = (SELECT j.id FROM jobs j WHERE `+claimableSQL+` ORDER BY j.run_after, j.id LIMIT 1`+d.dialect.claimLock+`)
			RETURNING id, tenant_id, store_kind, store_name, attempts, full_rewrite`,
			owner, token, now.Add(lease), now, now, owner, now)
	}
	var job *tenants.Job
	load := func(tx *sqlx.Tx) error {
		j := *taken // a retried run starts from the job as taken
		job = &j
		return d.loadJob(ctx, tx, job)
	}
	if !d.isPostgres() {
		err := d.tx(ctx, func(tx *sqlx.Tx) error {
			job = nil
			if err := take(tx); err != nil || taken == nil {
				return err
			}
			return load(tx)
		})
		return job, err
	}
	if err := d.tx(ctx, take); err != nil || taken == nil {
		return nil, err
	}
	if err := d.tx(ctx, load); err != nil {
		if rerr := d.ReleaseJob(context.WithoutCancel(ctx), taken); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	return job, nil
}

// claimableSQL is the condition of a job owner may claim at now (?, ?, ?).
const claimableSQL = `j.state = 'queued' AND j.run_after <= ? AND NOT EXISTS (SELECT 1 FROM jobs o
	WHERE o.tenant_id = j.tenant_id AND o.store_kind = j.store_kind AND o.store_name = j.store_name AND o.state = 'running')
	AND (j.affinity = '' OR j.affinity = ? OR j.affinity_until <= ?)`

// claimable reports, reading without a write lock, whether a claim could find
// anything: a job owner may claim (due), or a lease to expire (expired). Every
// submit wakes the idle workers, and a claim is a write transaction: on SQLite
// one that finds nothing still queued behind and ahead of the submits for the one
// writer connection (3,671 empty claims, half a second of the write lock, in
// 1,000 sequential submits to one store while its job ran).
func (d *DB) claimable(ctx context.Context, owner string) (due, expired bool, err error) {
	now, err := d.leaseNow(ctx, d.r)
	if err != nil {
		return false, false, err
	}
	var n struct {
		Due     int `db:"due"`
		Expired int `db:"expired"`
	}
	err = d.r.GetContext(ctx, &n, `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM jobs j WHERE `+claimableSQL+` LIMIT 1) q) AS due,
		(SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'running' AND lease_until <= ? LIMIT 1) e) AS expired`, now, owner, now, now)
	return n.Due > 0, n.Expired > 0, err
}

// leaseExpired is the error a job records when its worker vanished.
const leaseExpired = "the worker writing this store stopped without finishing (process killed, crashed or cut off from the database); retrying"

// expireLeases queues again, as a failed attempt with backoff, every running job
// whose lease has run out.
func (d *DB) expireLeases(ctx context.Context, tx *sqlx.Tx, now time.Time) error {
	q, args := `SELECT `+jobCols+` FROM jobs WHERE state = 'running' AND lease_until <= ?`, []any{now}
	if d.isPostgres() {
		// The teams' configuration locks first, shared, before any row, as
		// FinishJob takes its team's: the job's placements and the store's
		// queued job, which a re-plan locks in an order of its own, come
		// after. A job of another team that expires meanwhile is left for
		// the next claim.
		var teams []int64
		if err := tx.SelectContext(ctx, &teams, `SELECT DISTINCT tenant_id FROM jobs WHERE state = 'running' AND lease_until <= ?
			ORDER BY tenant_id`, now); err != nil || len(teams) == 0 {
			return err
		}
		for _, id := range teams {
			if err := d.lockTenant(ctx, tx, id, false); err != nil {
				return err
			}
		}
		var err error
		if q, args, err = sqlx.In(q+` AND tenant_id IN (?)`, now, teams); err != nil {
			return err
		}
	}
	var rows []jobRow
	// Row locks (PostgreSQL): two replicas never expire the same job twice.
	if err := tx.SelectContext(ctx, &rows, q+d.dialect.claimLock, args...); err != nil {
		return err
	}
	for _, r := range rows {
		job := &tenants.Job{ID: r.ID, TenantID: r.TenantID, Store: tenants.StoreRef{TenantID: r.TenantID, Kind: r.StoreKind, Name: r.StoreName},
			Attempts: r.Attempts, Full: r.Full}
		if err := d.resetWriting(ctx, tx, job, leaseExpired); err != nil {
			return err
		}
		if err := d.requeue(ctx, tx, job, now.Add(backoff(r.Attempts+1)), leaseExpired); err != nil {
			return err
		}
	}
	return nil
}

// MarkPushing records, right before a job pushes to its Git store, that a push
// is in flight: until a job of the store succeeds, the next write fences (see
// tenants.Job.InDoubt).
func (d *DB) MarkPushing(ctx context.Context, job *tenants.Job) error {
	if job.Store.Kind != tenants.KindGit {
		return nil
	}
	_, err := d.w.ExecContext(ctx, `UPDATE git_stores SET push_in_doubt = TRUE WHERE tenant_id = ? AND name = ? AND NOT push_in_doubt`,
		job.TenantID, job.Store.Name)
	return err
}

// leaseNow is the time job leases are measured by: the database's clock when
// several replicas share it (so a replica whose clock runs late cannot take over a
// live lease), else the injected clock.
func (d *DB) leaseNow(ctx context.Context, q sqlx.QueryerContext) (time.Time, error) {
	if !d.dbClock {
		return d.now(), nil
	}
	var t time.Time
	if err := sqlx.GetContext(ctx, q, &t, `SELECT statement_timestamp()`); err != nil {
		return time.Time{}, fmt.Errorf("read the database clock: %w", err)
	}
	return t.UTC().Truncate(d.dialect.precision), nil
}

// Heartbeat extends the lease of a running job; ErrLeaseLost when this claim (its
// lease token) no longer holds it.
func (d *DB) Heartbeat(ctx context.Context, job *tenants.Job, lease time.Duration) error {
	now, err := d.leaseNow(ctx, d.w)
	if err != nil {
		return err
	}
	res, err := d.w.ExecContext(ctx, `UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'`,
		now.Add(lease), now, job.ID, job.Token)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleaseJob gives a claimed job back unfinished (graceful shutdown): it is queued
// again, due at once, and its placements go back to pending.
func (d *DB) ReleaseJob(ctx context.Context, job *tenants.Job) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, job.TenantID, false); err != nil { // first, as in FinishJob
			return err
		}
		if err := d.checkOwner(ctx, tx, job); err != nil {
			return err
		}
		if err := d.resetWriting(ctx, tx, job, ""); err != nil {
			return err
		}
		return d.requeue(ctx, tx, job, d.now(), "")
	})
}

// requeue puts a running job back in the queue, due at runAfter, or, when another
// job of its store was queued meanwhile, folds it into that one (which inherits the
// attempt count and the delay) and retires this one. Any replica may take it: the
// one that ran it failed, vanished or is shutting down.
func (d *DB) requeue(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, runAfter time.Time, lastErr string) error {
	now := d.now()
	attempts := job.Attempts
	if lastErr != "" {
		attempts++
	}
	var other int64
	err := tx.GetContext(ctx, &other, `SELECT id FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'queued' AND id <> ?`,
		job.TenantID, job.Store.Kind, job.Store.Name, job.ID)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'queued', attempts = ?, run_after = ?, lease_owner = '', lease_token = '', lease_until = NULL,
			last_error = ?, updated_at = ?, affinity = '' WHERE id = ?`, attempts, runAfter, lastErr, now, job.ID)
		return err
	}
	if err != nil {
		return err
	}
	// Held back (pipeline.go): the queued job, which every submit to the
	// store locks, is locked only when these go out with the COMMIT.
	if _, err := tx.ExecContext(deferred(ctx), `UPDATE jobs SET attempts = ?, run_after = ?, last_error = ?, full_rewrite = (full_rewrite OR ?),
		updated_at = ?, affinity = '' WHERE id = ?`, attempts, runAfter, lastErr, job.Full, now, other); err != nil {
		return err
	}
	_, err = tx.ExecContext(deferred(ctx), `UPDATE jobs SET state = 'failed', lease_owner = '', lease_token = '', lease_until = NULL, last_error = ?,
		updated_at = ?, finished_at = ? WHERE id = ?`, fmt.Sprintf("continued by job %d", other), now, now, job.ID)
	return err
}

// backoff is the delay before retry attempt n (n ≥ 1): 1s·2^(n-1) capped at
// MaxBackoff, with ±20% jitter.
func backoff(n int) time.Duration {
	d := MaxBackoff
	if n < 20 {
		d = min(baseBackoff<<max(n-1, 0), MaxBackoff)
	}
	jitter := time.Duration(mrand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// RequeueAll queues a full rewrite of every store that holds placements or canary
// files (the periodic re-assert that repairs drift). It returns how many stores.
func (d *DB) RequeueAll(ctx context.Context) (int, error) {
	var rows []struct {
		TenantID int64  `db:"tenant_id"`
		Kind     string `db:"store_kind"`
		Name     string `db:"store_name"`
	}
	n := 0
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		rows = nil // sqlx appends; a retried run starts over
		if err := tx.SelectContext(ctx, &rows, `SELECT DISTINCT tenant_id, store_kind, store_name FROM placements
			UNION SELECT DISTINCT tenant_id, store_kind, store_name FROM canaries ORDER BY 1, 2, 3`); err != nil {
			return err
		}
		// The teams' configuration locks, shared, before any queued job: a
		// re-plan locks its stores' queued jobs in its Works' order, not the
		// stores' order, and the two waited for each other in a cycle.
		// (Every submit of these stores waits for this transaction on their
		// queued jobs all the same.)
		for i, r := range rows {
			if i == 0 || r.TenantID != rows[i-1].TenantID {
				if err := d.lockTenant(ctx, tx, r.TenantID, false); err != nil {
					return err
				}
			}
		}
		for _, r := range rows {
			if _, err := d.enqueue(ctx, tx, r.TenantID, storeKey{r.Kind, r.Name}, true); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}
