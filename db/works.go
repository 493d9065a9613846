package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// SubmitResult answers a submitted Work (POST …/works, webhooks): where it goes,
// the full keys it writes there, and the job that writes them.
type SubmitResult struct {
	// Work is the Work's id, stable for its identity. A dry run of a new Work
	// answers 0.
	Work int64 `json:"work"`
	// Placements are the Destinations the Work is written to.
	Placements []PlacementPlan `json:"placements"`
	// Unscheduled lists the groups that found no Destination.
	Unscheduled []tenants.Unscheduled `json:"unscheduled"`
	// Deletes are placements whose files are removed: the Work was deleted, a group
	// was dropped, or a Destination stopped matching (Misplaced).
	Deletes []PlacementPlan `json:"deletes,omitempty"`

	// jobs are the stores whose jobs the submit must queue (enqueueJobs).
	jobs *jobSet
}

// enqueueJobs queues the jobs of the stores res touched and sets the job ids
// of its entries. On PostgreSQL queuing holds the store's queued-job row until
// the commit, so callers do it last, after their other statements: every other
// submit of the store waits for that lock.
func (d *DB) enqueueJobs(ctx context.Context, tx *sqlx.Tx, tenantID int64, res *SubmitResult) error {
	if res.jobs == nil {
		return nil
	}
	if err := d.enqueueAll(ctx, tx, tenantID, res.jobs); err != nil {
		return err
	}
	res.jobs.fill(res.Placements)
	res.jobs.fill(res.Deletes)
	return nil
}

// PlacementPlan is one placement in a SubmitResult.
type PlacementPlan struct {
	Destination string `json:"destination"`
	// Name is the placement's name, <work name>.<destination>-<group id>.
	Name  string `json:"name"`
	Group int    `json:"group"`
	// Paths are full keys inside the store, exactly as written.
	Paths []string `json:"paths"`
	// Job is the job that writes it; null in a dry run.
	Job   *int64 `json:"job"`
	State string `json:"state"`
	// Misplaced: the Destination no longer matches the group's selectors.
	Misplaced bool `json:"misplaced,omitempty"`

	store storeKey // the store whose job Job is
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// SubmitWork records w for tenantID and schedules its writes, in one transaction:
// the Work is upserted by identity (same identity, same id), scheduled (resource
// groups stay where they are), each placement's keys are computed and the placement
// goes back to pending, placements no longer chosen are marked for removal, and
// one job per affected store is queued (coalescing with a job already queued).
// w.Deleted removes the Work's files instead (see DeleteWork). With dryRun the same
// computation runs and nothing is kept; job ids are nil. A layout problem is a
// validation error naming the group.
func (d *DB) SubmitWork(ctx context.Context, tenantID int64, w *tenants.Work, dryRun bool) (SubmitResult, error) {
	var res SubmitResult
	run := d.batchTx
	if dryRun { // nothing is kept: it runs alone, on the caller's context
		run = func(ctx context.Context, fn func(context.Context, *sqlx.Tx) error) error {
			return d.tx(ctx, func(tx *sqlx.Tx) error { return fn(ctx, tx) })
		}
	}
	err := run(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, dryRun); err != nil {
			return err
		}
		if dryRun {
			return errDryRun // nothing queued, nothing kept
		}
		return d.enqueueJobs(ctx, tx, tenantID, &res)
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return res, err
}

// SubmitWorkAs is SubmitWork (never a dry run) with the audit record of who
// did it (action: "write", "delete", "rewrite") in the same transaction: an
// accepted Work is never missing from the audit log, and it costs one write
// transaction, not two.
func (d *DB) SubmitWorkAs(ctx context.Context, tenantID int64, w *tenants.Work, actor tenants.Actor, action string) (SubmitResult, error) {
	var res SubmitResult
	err := d.batchTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error {
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, false); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, tenantID, d.now(), tenants.AuditEvent{Actor: actor, Action: action,
			Object: tenants.AuditObject{Kind: tenants.AuditWork, ID: res.Work, Name: w.Name()}, Detail: SubmitDetail(res)}); err != nil {
			return err
		}
		return d.enqueueJobs(ctx, tx, tenantID, &res)
	})
	return res, err
}

// submit stores w and plans its placements; the caller queues the jobs
// (enqueueJobs) after its other statements, or not at all in a dry run.
func (d *DB) submit(ctx context.Context, tx *sqlx.Tx, tenantID int64, w *tenants.Work, dryRun bool) (SubmitResult, error) {
	w.TenantID = tenantID
	if err := d.lockTenant(ctx, tx, tenantID, false); err != nil {
		return SubmitResult{}, err
	}
	if w.Deleted {
		return d.submitDelete(ctx, tx, w, dryRun)
	}
	isNew, err := d.upsertWork(ctx, tx, w)
	if err != nil {
		return SubmitResult{}, err
	}
	pc, err := d.loadPlanContext(ctx, tx, tenantID)
	if err != nil {
		return SubmitResult{}, err
	}
	// A Work this transaction inserted has no placements yet.
	res, err := d.planWork(ctx, tx, pc, w, true, isNew)
	if err != nil {
		return SubmitResult{}, err
	}
	if dryRun {
		res.clearJobs(isNew)
	}
	return res, nil
}

// clearJobs removes what a dry run must not report: job ids (none are queued),
// and the id of a Work that does not exist.
func (r *SubmitResult) clearJobs(isNew bool) {
	if isNew {
		r.Work = 0
	}
	r.jobs = nil
	for i := range r.Placements {
		r.Placements[i].Job = nil
	}
	for i := range r.Deletes {
		r.Deletes[i].Job = nil
	}
}

// DeleteWork removes a Work's files: its placements are marked for removal and
// written away by the next job; the Work stays, marked deleted, so its id keeps
// answering.
func (d *DB) DeleteWork(ctx context.Context, tenantID, id int64) (SubmitResult, error) {
	return d.deleteWork(ctx, tenantID, id, nil)
}

// DeleteWorkAs is DeleteWork with the audit record of who did it in the same
// transaction, as SubmitWorkAs is SubmitWork's.
func (d *DB) DeleteWorkAs(ctx context.Context, tenantID, id int64, actor tenants.Actor) (SubmitResult, error) {
	return d.deleteWork(ctx, tenantID, id, &actor)
}

func (d *DB) deleteWork(ctx context.Context, tenantID, id int64, actor *tenants.Actor) (SubmitResult, error) {
	var res SubmitResult
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, tenantID, false); err != nil {
			return err
		}
		w, err := d.findWork(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		w.Deleted = true
		if res, err = d.submitDelete(ctx, tx, &w, false); err != nil {
			return err
		}
		if actor != nil {
			if err := recordAudit(ctx, tx, tenantID, d.now(), tenants.AuditEvent{Actor: *actor, Action: "delete",
				Object: tenants.AuditObject{Kind: tenants.AuditWork, ID: id, Name: w.Name()}}); err != nil {
				return err
			}
		}
		return d.enqueueJobs(ctx, tx, tenantID, &res)
	})
	return res, err
}

func (d *DB) submitDelete(ctx context.Context, tx *sqlx.Tx, w *tenants.Work, dryRun bool) (SubmitResult, error) {
	id, err := d.workID(ctx, tx, w)
	if err != nil {
		return SubmitResult{}, err
	}
	w.ID = id
	if _, err := tx.ExecContext(ctx, `UPDATE works SET deleted = TRUE, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		d.now(), w.TenantID, id); err != nil {
		return SubmitResult{}, err
	}
	rows, err := d.workPlacements(ctx, tx, w.TenantID, id)
	if err != nil {
		return SubmitResult{}, err
	}
	res := SubmitResult{Work: id, Placements: []PlacementPlan{}, Unscheduled: []tenants.Unscheduled{}}
	jobs := newJobSet()
	for _, r := range rows {
		if err := d.markDelete(ctx, tx, r, false); err != nil {
			return SubmitResult{}, err
		}
		res.Deletes = append(res.Deletes, r.planEntry(tenants.StatePending, false))
		jobs.add(r.StoreKind, r.StoreName)
	}
	res.jobs = jobs
	if dryRun {
		res.clearJobs(false)
	}
	return res, nil
}

// workID finds the id of the Work with w's identity.
func (d *DB) workID(ctx context.Context, tx *sqlx.Tx, w *tenants.Work) (int64, error) {
	ns, name := resourceOf(w)
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT id FROM works WHERE tenant_id = ? AND promise = ? AND res_namespace = ?
		AND res_name = ? AND pipeline = ?`, w.TenantID, w.Promise, ns, name, w.Pipeline)
	return id, mapErr(err, "Work", w.Name())
}

// upsertWork inserts w or replaces the content of the Work with its identity; it
// sets w.ID and reports whether the Work is new.
func (d *DB) upsertWork(ctx context.Context, tx *sqlx.Tx, w *tenants.Work) (bool, error) {
	groups, _ := json.Marshal(w.Groups)
	now := d.now()
	ns, name := resourceOf(w)
	if d.isPostgres() {
		// One round trip: the upsert says whether it inserted, also when another
		// replica inserted the Work meanwhile.
		var r struct {
			ID       int64 `db:"id"`
			Inserted bool  `db:"inserted"`
		}
		err := tx.GetContext(ctx, &r, upsertWorkSQL+` RETURNING id, `+d.dialect.inserted+` AS inserted`,
			w.TenantID, w.Promise, ns, name, w.Pipeline, string(groups), w.TriggerID, now, now)
		w.ID = r.ID
		return r.Inserted, mapErr(err, "Work", w.Name())
	}
	id, err := d.workID(ctx, tx, w)
	if err == nil {
		w.ID = id
		_, err = tx.ExecContext(ctx, `UPDATE works SET workload_groups = ?, trigger_id = ?, deleted = FALSE, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, string(groups), w.TriggerID, now, w.TenantID, id)
		return false, err
	}
	if !isNotFound(err) {
		return false, err
	}
	err = tx.GetContext(ctx, &w.ID, upsertWorkSQL+` RETURNING id`,
		w.TenantID, w.Promise, ns, name, w.Pipeline, string(groups), w.TriggerID, now, now)
	return true, mapErr(err, "Work", w.Name())
}

// upsertWorkSQL inserts a Work; the same Work submitted concurrently (another
// replica) becomes an update, not a duplicate-key error.
const upsertWorkSQL = `INSERT INTO works (tenant_id, promise, res_namespace, res_name, pipeline,
	workload_groups, trigger_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (tenant_id, promise, res_namespace, res_name, pipeline) DO UPDATE SET workload_groups = excluded.workload_groups,
	trigger_id = excluded.trigger_id, deleted = FALSE, updated_at = excluded.updated_at`

func resourceOf(w *tenants.Work) (string, string) {
	if w.Resource == nil {
		return "", ""
	}
	return w.Resource.Namespace, w.Resource.Name
}

type workRow struct {
	ID          int64     `db:"id"`
	TenantID    int64     `db:"tenant_id"`
	Promise     string    `db:"promise"`
	Namespace   string    `db:"res_namespace"`
	Resource    string    `db:"res_name"`
	Pipeline    string    `db:"pipeline"`
	Groups      string    `db:"workload_groups"`
	Unscheduled string    `db:"unscheduled"`
	TriggerID   *int64    `db:"trigger_id"`
	Deleted     bool      `db:"deleted"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

const workCols = `id, tenant_id, promise, res_namespace, res_name, pipeline, workload_groups, unscheduled,
	trigger_id, deleted, created_at, updated_at`

func (r workRow) domain() tenants.Work {
	w := tenants.Work{ID: r.ID, TenantID: r.TenantID, Promise: r.Promise, Pipeline: r.Pipeline,
		TriggerID: r.TriggerID, Deleted: r.Deleted, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Namespace != "" || r.Resource != "" {
		w.Resource = &tenants.ResourceRef{Namespace: r.Namespace, Name: r.Resource}
	}
	_ = json.Unmarshal([]byte(r.Groups), &w.Groups)
	return w
}

func (d *DB) findWork(ctx context.Context, q sqlx.QueryerContext, tenantID, id int64) (tenants.Work, error) {
	var r workRow
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+workCols+` FROM works WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return tenants.Work{}, mapErr(err, "Work", "#"+itoa(id))
	}
	return r.domain(), nil
}

// workPlacements lists a Work's placements (plans included) in a transaction.
func (d *DB) workPlacements(ctx context.Context, q sqlx.QueryerContext, tenantID, workID int64) ([]placementRow, error) {
	var rows []placementRow
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+placementCols+` FROM placements
		WHERE tenant_id = ? AND work_id = ? ORDER BY group_index, destination_name`, tenantID, workID)
	return rows, err
}

// planEntry is the row as a SubmitResult entry.
func (r placementRow) planEntry(state string, misplaced bool) PlacementPlan {
	return PlacementPlan{Destination: r.DestinationName, Name: r.Name, Group: r.GroupIndex,
		Paths: nonNil(jsonStrings(r.Paths)), State: state, Misplaced: misplaced,
		store: storeKey{r.StoreKind, r.StoreName}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
