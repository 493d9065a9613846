package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// submitted is what a submit planned: the answer, and the stores whose jobs it
// must queue (enqueueJobs), with each entry's store so that it learns its job.
type submitted struct {
	tenants.SubmitResult
	jobs *jobSet
	// placed and deleted are the stores of Placements and Deletes, entry by entry.
	placed, deleted []storeKey
	// checks are the clash checks placePipelined left to settle (PostgreSQL).
	checks []clashCheckOf
	// guard sends the checks with the COMMIT as guards (submitTx): the job
	// ids are then known only after it (fillJobs).
	guard bool
}

// fillJobs sets each entry's job id from the jobs queued.
func (s *submitted) fillJobs() {
	if s.jobs == nil {
		return
	}
	s.jobs.fill(s.Placements, s.placed)
	s.jobs.fill(s.Deletes, s.deleted)
}

// newSubmitted is an empty answer for Work id.
func newSubmitted(id int64, unscheduled []tenants.Unscheduled) submitted {
	return submitted{SubmitResult: tenants.SubmitResult{Work: id, Placements: []tenants.PlacementPlan{}, Unscheduled: unscheduled},
		jobs: newJobSet()}
}

// place adds a placement on store kind/name; changed says it is to be written,
// so that the store's job is queued (an unchanged placement queues nothing, but
// learns the job another placement of its store queued).
func (s *submitted) place(e tenants.PlacementPlan, kind, name string, changed bool) {
	s.Placements = append(s.Placements, e)
	k := storeKey{kind, name}
	if changed {
		s.jobs.add(kind, name)
	}
	s.placed = append(s.placed, k)
}

// remove adds a placement removed from store kind/name.
func (s *submitted) remove(e tenants.PlacementPlan, kind, name string) {
	s.Deletes = append(s.Deletes, e)
	s.deleted = append(s.deleted, s.jobs.add(kind, name))
}

// enqueueJobs queues the jobs of the stores res touched and sets the job ids
// of its entries. On PostgreSQL queuing holds the store's queued-job row until
// the commit, so callers do it last, after their other statements: every other
// submit of the store waits for that lock.
func (d *DB) enqueueJobs(ctx context.Context, tx *sqlx.Tx, tenantID int64, res *submitted) error {
	if res.jobs == nil {
		return nil
	}
	if err := d.enqueueAll(ctx, tx, tenantID, res.jobs); err != nil {
		return err
	}
	// The queued jobs are locked: now the clash checks (see placePipelined),
	// and what was held back goes out with them — or, guarded, with the COMMIT.
	if res.guard {
		return d.guardClashes(ctx, tx, res)
	}
	if err := d.settle(ctx, tx, res); err != nil {
		return err
	}
	res.fillJobs()
	return nil
}

// submitTx runs a submit's transaction (batchTx). On PostgreSQL the submit
// first runs guarded (fn's guard, for submitted.guard): its clash checks go
// out with the COMMIT as statements that fail the transaction on a clash
// (guardClashes), instead of being read here and judged before the COMMIT is
// sent. That is one round trip fewer, and the store's queued-job row — which
// every other submit of the store waits for — is locked only while the server
// runs the last pipeline, not across a round trip to this process and back.
// A guard that fails rolls everything back, and the submit runs again with
// its checks read and judged here (settle), to answer the conflict by name
// (or to pass, if the clashing claim went meanwhile). fn's answer must be
// complete after the commit only: the job ids are read with it (fillJobs).
func (d *DB) submitTx(ctx context.Context, fn func(ctx context.Context, tx *sqlx.Tx, guard bool) error) error {
	if !d.isPostgres() {
		return d.batchTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return fn(ctx, tx, false) })
	}
	err := d.batchTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return fn(ctx, tx, true) })
	if isClashGuard(err) {
		err = d.batchTx(ctx, func(ctx context.Context, tx *sqlx.Tx) error { return fn(ctx, tx, false) })
	}
	return err
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
func (d *DB) SubmitWork(ctx context.Context, tenantID int64, w *tenants.Work, dryRun bool) (tenants.SubmitResult, error) {
	var res submitted
	run := d.submitTx
	if dryRun { // nothing is kept: it runs alone, on the caller's context
		run = func(ctx context.Context, fn func(context.Context, *sqlx.Tx, bool) error) error {
			return d.tx(ctx, func(tx *sqlx.Tx) error { return fn(ctx, tx, false) })
		}
	}
	err := run(ctx, func(ctx context.Context, tx *sqlx.Tx, guard bool) error {
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, dryRun); err != nil {
			return err
		}
		res.guard = guard
		if dryRun {
			if err := d.settle(ctx, tx, &res); err != nil {
				return err // a conflict is a dry run's answer too
			}
			return errDryRun // nothing queued, nothing kept
		}
		return d.enqueueJobs(ctx, tx, tenantID, &res)
	})
	if errors.Is(err, errDryRun) {
		err = nil
	} else if err == nil {
		res.fillJobs()
	}
	return res.SubmitResult, err
}

// SubmitWorkAs is SubmitWork (never a dry run) with the audit record of who
// did it (action: "write", "delete", "rewrite") in the same transaction: an
// accepted Work is never missing from the audit log, and it costs one write
// transaction, not two.
func (d *DB) SubmitWorkAs(ctx context.Context, tenantID int64, w *tenants.Work, actor tenants.Actor, action string) (tenants.SubmitResult, error) {
	var res submitted
	err := d.submitTx(ctx, func(ctx context.Context, tx *sqlx.Tx, guard bool) error {
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, false); err != nil {
			return err
		}
		res.guard = guard
		return d.finishSubmit(ctx, tx, tenantID, w, &res, actor, action)
	})
	if err == nil {
		res.fillJobs()
	}
	return res.SubmitResult, err
}

// finishSubmit records who submitted w and the audit event, held back
// (pipeline.go) to go out with the job upserts, and queues the jobs.
func (d *DB) finishSubmit(ctx context.Context, tx *sqlx.Tx, tenantID int64, w *tenants.Work, res *submitted,
	actor tenants.Actor, action string) error {
	if err := recordRequest(deferred(ctx), tx, tenantID, res.Work, w, actor); err != nil {
		return err
	}
	if err := recordAudit(deferred(ctx), tx, tenantID, d.now(), tenants.AuditEvent{Actor: actor, Action: action,
		Object: tenants.AuditObject{Kind: tenants.AuditWork, ID: res.Work, Name: w.Name()}, Detail: SubmitDetail(res.SubmitResult)}); err != nil {
		return err
	}
	return d.enqueueJobs(ctx, tx, tenantID, res)
}

// SubmitWorkWithToken is SubmitWorkAs for an API caller whose token is
// checked in the same transaction, not before it: the token (unknown or
// revoked → ErrUnauthenticated; of another team than tenantID, or of no team
// named slug → not found; a role below need → ErrForbidden) is read in the
// pipeline's first round trip, with the Work's upsert, and the Work is kept
// only if the token may write it at the moment of the commit's snapshot. The
// actor recorded is the token's. A caller of a team whose id it already knows
// saves the round trip of a separate authentication.
func (d *DB) SubmitWorkWithToken(ctx context.Context, tenantID int64, slug string, w *tenants.Work, secret string,
	need tenants.Role, action string) (tenants.SubmitResult, error) {
	var res submitted
	err := d.submitTx(ctx, func(ctx context.Context, tx *sqlx.Tx, guard bool) error {
		var auth tokenAuthRow
		read := false
		q, args := d.tokenAuthSQL(secret)
		if err := d.queryLater(ctx, tx, func(rows rowScanner) error {
			read = true
			if auth.found = rows.Next(); auth.found {
				return rows.Scan(auth.dest()...)
			}
			return nil
		}, q, args...); err != nil {
			return err
		}
		var serr error
		res, serr = d.submit(ctx, tx, tenantID, w, false)
		if !read { // the Work's upsert, which sends it, did not run
			if err := d.flushPipeline(ctx, tx); err != nil && serr == nil {
				serr = err
			}
		}
		if !read { // the transaction failed before the token was read
			return serr
		}
		// The token first: a caller who may not write learns nothing of the
		// Work's fate.
		tok, t, touch, err := auth.evaluate(d.now())
		switch {
		case err != nil:
			return err
		case t.ID != tenantID || t.Slug != slug:
			return tenants.NotFound("team", slug)
		case !tok.Role.Allows(need):
			return tenants.ErrForbidden
		case serr != nil:
			return serr
		}
		if touch {
			if _, err := tx.ExecContext(deferred(ctx), `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, d.now(), tok.ID); err != nil {
				return err
			}
		}
		actor := tenants.Actor{Kind: tenants.ActorToken, ID: tok.ID, Name: tok.Name, PersonID: tok.UserID, Person: tok.Person}
		res.guard = guard
		return d.finishSubmit(ctx, tx, tenantID, w, &res, actor, action)
	})
	if err == nil {
		res.fillJobs()
	}
	return res.SubmitResult, err
}

// recordRequest stores on Work id who asked for it (as the audit log names
// them, with the person's display name when the users table knows it), the
// request's correlation id and the Work's labels.
func recordRequest(ctx context.Context, tx *sqlx.Tx, tenantID, id int64, w *tenants.Work, actor tenants.Actor) error {
	if id == 0 {
		return nil
	}
	person := actor.PersonID
	if actor.Kind == tenants.ActorPerson {
		person = actor.ID
	}
	labels, _ := json.Marshal(nonNilLabels(w.Labels))
	_, err := tx.ExecContext(ctx, `UPDATE works SET requested_by = ?, requester_kind = ?, correlation_id = ?, labels = ?,
		requester_name = COALESCE((SELECT name FROM users WHERE id = ?), '') WHERE tenant_id = ? AND id = ?`,
		actor.Name, actor.Kind, w.CorrelationID, string(labels), person, tenantID, id)
	return err
}

func nonNilLabels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// submit stores w and plans its placements; the caller queues the jobs
// (enqueueJobs) after its other statements, or not at all in a dry run.
func (d *DB) submit(ctx context.Context, tx *sqlx.Tx, tenantID int64, w *tenants.Work, dryRun bool) (submitted, error) {
	w.TenantID = tenantID
	if err := d.lockTenant(ctx, tx, tenantID, false); err != nil {
		return submitted{}, err
	}
	if w.Deleted {
		return d.submitDelete(ctx, tx, w, dryRun)
	}
	isNew, version, err := d.upsertWork(ctx, tx, w)
	if err != nil {
		return submitted{}, err
	}
	pc, err := d.planContextAt(ctx, tx, tenantID, version)
	if err != nil {
		return submitted{}, err
	}
	// A Work this transaction inserted has no placements yet.
	res, err := d.planWork(ctx, tx, pc, w, true, isNew)
	if err != nil {
		return submitted{}, err
	}
	if dryRun {
		res.clearJobs(isNew)
	}
	return res, nil
}

// clearJobs removes what a dry run must not report: job ids (none are queued),
// and the id of a Work that does not exist.
func (r *submitted) clearJobs(isNew bool) {
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
func (d *DB) DeleteWork(ctx context.Context, tenantID, id int64) (tenants.SubmitResult, error) {
	return d.deleteWork(ctx, tenantID, id, nil)
}

// DeleteWorkAs is DeleteWork with the audit record of who did it in the same
// transaction, as SubmitWorkAs is SubmitWork's.
func (d *DB) DeleteWorkAs(ctx context.Context, tenantID, id int64, actor tenants.Actor) (tenants.SubmitResult, error) {
	return d.deleteWork(ctx, tenantID, id, &actor)
}

func (d *DB) deleteWork(ctx context.Context, tenantID, id int64, actor *tenants.Actor) (tenants.SubmitResult, error) {
	var res submitted
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
	return res.SubmitResult, err
}

func (d *DB) submitDelete(ctx context.Context, tx *sqlx.Tx, w *tenants.Work, dryRun bool) (submitted, error) {
	id, err := d.workID(ctx, tx, w)
	if err != nil {
		return submitted{}, err
	}
	w.ID = id
	if _, err := tx.ExecContext(ctx, `UPDATE works SET deleted = TRUE, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		d.now(), w.TenantID, id); err != nil {
		return submitted{}, err
	}
	rows, err := d.workPlacements(ctx, tx, w.TenantID, id)
	if err != nil {
		return submitted{}, err
	}
	res := newSubmitted(id, []tenants.Unscheduled{})
	for _, r := range rows {
		if err := d.markDelete(ctx, tx, r, false); err != nil {
			return submitted{}, err
		}
		res.remove(r.planEntry(tenants.StatePending, false), r.StoreKind, r.StoreName)
	}
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
// sets w.ID and reports whether the Work is new. On PostgreSQL it also answers
// the team's plan version (plan_versions; -1 on SQLite, which reads the team
// once per batch instead).
func (d *DB) upsertWork(ctx context.Context, tx *sqlx.Tx, w *tenants.Work) (isNew bool, planVersion int64, err error) {
	groups, _ := json.Marshal(w.Groups)
	now := d.now()
	ns, name := resourceOf(w)
	if d.isPostgres() {
		// One round trip (with the BEGIN and the tenant's lock held back
		// before it): the upsert says whether it inserted, also when another
		// replica inserted the Work meanwhile, and which plan version the team
		// is at under that lock.
		var r struct {
			ID       int64         `db:"id"`
			Inserted bool          `db:"inserted"`
			Version  sql.NullInt64 `db:"plan_version"`
		}
		err := tx.GetContext(ctx, &r, upsertWorkSQL+` RETURNING id, `+d.dialect.inserted+` AS inserted,
			(SELECT version FROM plan_versions WHERE tenant_id = ?) AS plan_version`,
			w.TenantID, w.Promise, ns, name, w.Pipeline, string(groups), w.TriggerID, now, now, w.TenantID)
		w.ID = r.ID
		return r.Inserted, r.Version.Int64, mapErr(err, "Work", w.Name())
	}
	id, err := d.workID(ctx, tx, w)
	if err == nil {
		w.ID = id
		_, err = tx.ExecContext(ctx, `UPDATE works SET workload_groups = ?, trigger_id = ?, deleted = FALSE, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, string(groups), w.TriggerID, now, w.TenantID, id)
		return false, -1, err
	}
	if !isNotFound(err) {
		return false, -1, err
	}
	err = tx.GetContext(ctx, &w.ID, upsertWorkSQL+` RETURNING id`,
		w.TenantID, w.Promise, ns, name, w.Pipeline, string(groups), w.TriggerID, now, now)
	return true, -1, mapErr(err, "Work", w.Name())
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
	RequestedBy string    `db:"requested_by"`
	ReqKind     string    `db:"requester_kind"`
	ReqName     string    `db:"requester_name"`
	Correlation string    `db:"correlation_id"`
	Labels      string    `db:"labels"`
}

const workCols = `id, tenant_id, promise, res_namespace, res_name, pipeline, workload_groups, unscheduled,
	trigger_id, deleted, created_at, updated_at, requested_by, requester_kind, requester_name, correlation_id, labels`

func (r workRow) domain() tenants.Work {
	w := tenants.Work{ID: r.ID, TenantID: r.TenantID, Promise: r.Promise, Pipeline: r.Pipeline,
		TriggerID: r.TriggerID, Deleted: r.Deleted, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Namespace != "" || r.Resource != "" {
		w.Resource = &tenants.ResourceRef{Namespace: r.Namespace, Name: r.Resource}
	}
	_ = json.Unmarshal([]byte(r.Groups), &w.Groups)
	_ = json.Unmarshal([]byte(r.Labels), &w.Labels)
	w.CorrelationID = r.Correlation
	w.Requester = tenants.Requester{Kind: r.ReqKind, By: r.RequestedBy, Name: r.ReqName}
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
func (r placementRow) planEntry(state string, misplaced bool) tenants.PlacementPlan {
	return tenants.PlacementPlan{Destination: r.DestinationName, Name: r.Name, Group: r.GroupIndex,
		Paths: nonNil(jsonStrings(r.Paths)), State: state, Misplaced: misplaced}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
