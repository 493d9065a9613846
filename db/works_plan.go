package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
)

// storeKey names one store of a tenant.
type storeKey struct{ kind, name string }

// planContext is what scheduling and layout need of a tenant, read once per
// transaction.
type planContext struct {
	cands      []planner.Candidate
	dests      map[string]tenants.Destination
	storePaths map[storeKey]string
}

func (d *DB) loadPlanContext(ctx context.Context, tx *sqlx.Tx, tenantID int64) (*planContext, error) {
	if pc := d.sharedPlanContext(tx, tenantID); pc != nil {
		return pc, nil
	}
	pc, err := d.readPlanContext(ctx, tx, tenantID)
	if err == nil {
		d.sharePlanContext(tx, tenantID, pc)
	}
	return pc, err
}

// readPlanContext reads what planning needs of a tenant.
func (d *DB) readPlanContext(ctx context.Context, tx *sqlx.Tx, tenantID int64) (*planContext, error) {
	dests, stores, err := d.destinationsAndStores(ctx, tx, tenantID, nil)
	if err != nil {
		return nil, err
	}
	pc := &planContext{dests: map[string]tenants.Destination{}, storePaths: map[storeKey]string{}}
	for _, dest := range dests {
		pc.cands = append(pc.cands, planner.Candidate{Destination: dest, StoreFailing: dest.Status.Failing()})
		pc.dests[dest.Name] = dest
	}
	for k, st := range stores {
		pc.storePaths[k] = st.Path
	}
	return pc, nil
}

// layout computes group gi of w on dest: its plan and placement name.
func (pc *planContext) layout(w *tenants.Work, gi int, dest tenants.Destination) (pathing.Plan, string, error) {
	storePath, ok := pc.storePaths[storeKey{dest.StoreKind, dest.StoreName}]
	if !ok {
		return pathing.Plan{}, "", tenants.Invalid(fmt.Sprintf("workloadGroups[%d]", gi),
			"Destination %q refers to %s %q, which does not exist", dest.Name, dest.StoreKind, dest.StoreName)
	}
	plan, name, err := planner.Layout(w, gi, dest, storePath)
	if err != nil {
		return plan, name, tenants.Invalid(fmt.Sprintf("workloadGroups[%d]", gi), "on Destination %q: %v", dest.Name, err)
	}
	return plan, name, nil
}

// groupDest identifies a placement of a Work: its group and Destination id.
type groupDest struct {
	group int
	dest  int64
}

// planWork schedules w (already stored, w.ID set) and brings its placements in
// line: chosen ones are upserted (with force, always back to pending; otherwise
// only when their plan changed), and the others are marked for removal; the
// affected stores come back in res.jobs for the caller to queue (enqueueJobs),
// after its other statements. Without force (a re-plan after a Destination
// changed) a group whose layout fails on a Destination keeps its old placement.
//
// fresh says this transaction created w, so it has no placements to read.
func (d *DB) planWork(ctx context.Context, tx *sqlx.Tx, pc *planContext, w *tenants.Work, force, fresh bool) (SubmitResult, error) {
	var rows []placementRow
	if !fresh {
		var err error
		if rows, err = d.workPlacements(ctx, tx, w.TenantID, w.ID); err != nil {
			return SubmitResult{}, err
		}
	}
	existing, byKey := placedOn(rows)
	decisions := planner.Schedule(w, pc.cands, existing)
	res := SubmitResult{Work: w.ID, Placements: []PlacementPlan{}, Unscheduled: []tenants.Unscheduled{}}
	jobs := newJobSet()
	kept := map[int64]bool{}
	for _, dec := range decisions {
		if dec.Unscheduled != nil {
			res.Unscheduled = append(res.Unscheduled, *dec.Unscheduled)
		}
		res.Unscheduled = append(res.Unscheduled, dec.Waiting...)
		for _, name := range dec.Destinations {
			entry, id, err := d.placeGroup(ctx, tx, pc, w, dec.Group, name, byKey, force, jobs)
			if err != nil && (force || !isValidation(err) && !errors.Is(err, tenants.ErrConflict)) {
				return SubmitResult{}, err
			}
			kept[id] = true
			switch {
			case err == nil:
				res.Placements = append(res.Placements, entry)
			case id == 0:
				// A re-plan that cannot place the group here (a key conflict, a layout
				// error) reports it rather than failing the Destination change.
				res.Unscheduled = append(res.Unscheduled, tenants.Unscheduled{Group: dec.Group,
					Directory: w.Groups[dec.Group].Directory, Selectors: w.Groups[dec.Group].DestinationSelectors,
					Reason: fmt.Sprintf("not placed on Destination %q: %v", name, err)})
			}
		}
	}
	if err := d.dropUnchosen(ctx, tx, rows, kept, misplacedSet(decisions), &res, jobs); err != nil {
		return SubmitResult{}, err
	}
	if !fresh || len(res.Unscheduled) > 0 { // a new row holds '[]'
		if _, err := tx.ExecContext(ctx, `UPDATE works SET unscheduled = ? WHERE tenant_id = ? AND id = ?`,
			toJSON(res.Unscheduled), w.TenantID, w.ID); err != nil {
			return SubmitResult{}, err
		}
	}
	res.jobs = jobs // queued by the caller: enqueueJobs
	return res, nil
}

func isValidation(err error) bool {
	var ve *tenants.ValidationError
	return errors.As(err, &ve)
}

// placedOn returns, from a Work's placement rows, the Destinations each group is
// live on (for sticky scheduling) and the rows by group and Destination.
func placedOn(rows []placementRow) (map[int][]string, map[groupDest]placementRow) {
	existing := map[int][]string{}
	byKey := map[groupDest]placementRow{}
	for _, r := range rows {
		byKey[groupDest{r.GroupIndex, r.DestinationID}] = r
		if r.Intent == intentWrite {
			existing[r.GroupIndex] = append(existing[r.GroupIndex], r.DestinationName)
		}
	}
	return existing, byKey
}

func misplacedSet(decisions []planner.Decision) map[string]bool {
	out := map[string]bool{}
	for _, dec := range decisions {
		for _, name := range dec.Misplaced {
			out[strconv.Itoa(dec.Group)+"/"+name] = true
		}
	}
	return out
}

// placeGroup upserts the placement of group gi of w on Destination name. It
// returns the result entry and the placement id.
func (d *DB) placeGroup(ctx context.Context, tx *sqlx.Tx, pc *planContext, w *tenants.Work, gi int, name string,
	byKey map[groupDest]placementRow, force bool, jobs *jobSet) (PlacementPlan, int64, error) {
	dest := pc.dests[name]
	old, had := byKey[groupDest{gi, dest.ID}]
	plan, pname, err := pc.layout(w, gi, dest)
	if err != nil {
		return PlacementPlan{}, old.ID, err
	}
	planJSON, hash := encodePlan(plan)
	if !force && had && old.Intent == intentWrite && old.PlanHash == hash && old.StoreName == dest.StoreName {
		return old.planEntry(old.State, false), old.ID, nil
	}
	store := storeKey{dest.StoreKind, dest.StoreName}
	// A Work submitted again with new contents at the same paths (what a
	// pipeline run does) keeps its claims: they were checked when made, and no
	// other Work can have claimed those keys since.
	keep := false
	if had && old.Intent == intentWrite {
		if keep, err = d.holdsClaims(ctx, tx, w.TenantID, old.ID, store, plan); err != nil {
			return PlacementPlan{}, old.ID, err
		}
	}
	if !keep {
		if err := d.checkClaims(ctx, tx, w.TenantID, store, old.ID, plan, w.Name(), dest.Name); err != nil {
			return PlacementPlan{}, old.ID, err
		}
	}
	// PostgreSQL says whether the upsert inserted (a row it created has no xmax);
	// on SQLite, the one writer, a row not read before was inserted.
	returning := `RETURNING id, FALSE AS inserted`
	if d.isPostgres() {
		returning = `RETURNING id, (xmax = 0) AS inserted`
	}
	var row struct {
		ID       int64 `db:"id"`
		Inserted bool  `db:"inserted"`
	}
	err = tx.GetContext(ctx, &row, `INSERT INTO placements (tenant_id, work_id, group_index, directory, destination_id,
		destination_name, mode, store_kind, store_name, name, paths, plan, plan_hash, intent, state, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'write', 'pending', ?)
		ON CONFLICT (work_id, group_index, destination_id) DO UPDATE SET directory = excluded.directory,
		destination_name = excluded.destination_name, mode = excluded.mode, store_kind = excluded.store_kind,
		store_name = excluded.store_name, name = excluded.name, paths = excluded.paths, plan = excluded.plan,
		plan_hash = excluded.plan_hash, intent = 'write', state = 'pending', generation = placements.generation + 1,
		misplaced = FALSE, attempts = 0, error = '', stuck = FALSE, updated_at = excluded.updated_at
		`+returning, w.TenantID, w.ID, gi, w.Groups[gi].Directory, dest.ID, dest.Name, dest.Mode, dest.StoreKind,
		dest.StoreName, pname, toJSON(nonNil(plan.Keys())), planJSON, hash, d.now())
	if err != nil {
		return PlacementPlan{}, 0, err
	}
	id := row.ID
	fresh := row.Inserted || !had && !d.isPostgres()
	if !keep {
		if err := d.claimPlacement(ctx, tx, w.TenantID, store, id, plan, fresh); err != nil {
			return PlacementPlan{}, 0, err
		}
	}
	entry := PlacementPlan{Destination: dest.Name, Name: pname, Group: gi, Paths: nonNil(plan.Keys()),
		State: tenants.StatePending, store: jobs.add(dest.StoreKind, dest.StoreName)}
	return entry, id, nil
}

// dropUnchosen marks the live placements that scheduling no longer chose for
// removal and reports them in res.Deletes.
func (d *DB) dropUnchosen(ctx context.Context, tx *sqlx.Tx, rows []placementRow, kept map[int64]bool,
	misplaced map[string]bool, res *SubmitResult, jobs *jobSet) error {
	for _, r := range rows {
		if kept[r.ID] || r.Intent == intentDelete {
			continue
		}
		mis := misplaced[strconv.Itoa(r.GroupIndex)+"/"+r.DestinationName]
		if err := d.markDelete(ctx, tx, r, mis); err != nil {
			return err
		}
		jobs.add(r.StoreKind, r.StoreName)
		res.Deletes = append(res.Deletes, r.planEntry(tenants.StatePending, mis))
	}
	return nil
}

// markDelete asks the next job of the placement's store to remove its files.
func (d *DB) markDelete(ctx context.Context, tx *sqlx.Tx, r placementRow, misplaced bool) error {
	_, err := tx.ExecContext(ctx, `UPDATE placements SET intent = 'delete', state = 'pending', generation = generation + 1,
		misplaced = ?, attempts = 0, error = '', stuck = FALSE, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		misplaced, d.now(), r.TenantID, r.ID)
	if err != nil {
		return err
	}
	return d.dropClaims(ctx, tx, r.TenantID, "placement_id", r.ID)
}

// replanTenant schedules every live Work of a tenant again after its Destinations
// changed: Works that found no Destination may find one now, dependencies reach new
// Destinations, moved paths are rewritten. Placements whose plan is unchanged are
// left alone.
func (d *DB) replanTenant(ctx context.Context, tx *sqlx.Tx, tenantID int64) error {
	var rows []workRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+workCols+` FROM works WHERE tenant_id = ? AND deleted = FALSE ORDER BY id`,
		tenantID); err != nil {
		return err
	}
	pc, err := d.loadPlanContext(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	for _, r := range rows {
		w := r.domain()
		res, err := d.planWork(ctx, tx, pc, &w, false, false)
		if err == nil {
			err = d.enqueueJobs(ctx, tx, w.TenantID, &res)
		}
		if err != nil {
			return fmt.Errorf("re-plan Work %s: %w", w.Name(), err)
		}
	}
	return nil
}

// jobSet collects the stores a transaction touched and, after enqueueAll, the job
// queued for each.
type jobSet struct {
	ids   map[storeKey]*int64
	order []storeKey
}

func newJobSet() *jobSet { return &jobSet{ids: map[storeKey]*int64{}} }

func (s *jobSet) add(kind, name string) storeKey {
	k := storeKey{kind, name}
	if _, ok := s.ids[k]; !ok {
		s.ids[k] = nil
		s.order = append(s.order, k)
	}
	return k
}

// fill sets each entry's job from its store.
func (s *jobSet) fill(entries []PlacementPlan) {
	for i := range entries {
		if id := s.ids[entries[i].store]; id != nil {
			v := *id
			entries[i].Job = &v
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
