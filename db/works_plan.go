package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
)

// storeKey names one store of a tenant.
type storeKey struct{ kind, name string }

// planContext is what planning needs of a tenant, read once per transaction.
type planContext struct {
	team *planner.Team
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

// planContextAt is the team's plan context at plan version v (as upsertWork
// read it, under the tenant's lock): the one read before at v if any, else read
// now and kept for the next submits. v < 0 (SQLite) reads it as
// loadPlanContext does. The version changes with everything planning reads
// (migration 0061's triggers), so a kept context is never older than the
// database's; one read after v was read may be newer, as a read at v would
// have been a moment later.
func (d *DB) planContextAt(ctx context.Context, tx *sqlx.Tx, tenantID, v int64) (*planContext, error) {
	if v < 0 {
		return d.loadPlanContext(ctx, tx, tenantID)
	}
	d.plans.mu.Lock()
	kept, ok := d.plans.m[tenantID]
	d.plans.mu.Unlock()
	if ok && kept.version == v {
		return kept.pc, nil
	}
	pc, err := d.readPlanContext(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	d.plans.mu.Lock()
	defer d.plans.mu.Unlock()
	if d.plans.m == nil {
		d.plans.m = map[int64]versionedPlan{}
	}
	if cur, ok := d.plans.m[tenantID]; !ok || cur.version <= v {
		d.plans.m[tenantID] = versionedPlan{version: v, pc: pc}
	}
	return pc, nil
}

// planCache keeps each team's plan context with the plan version it was read at.
type planCache struct {
	mu sync.Mutex
	m  map[int64]versionedPlan
}

type versionedPlan struct {
	version int64
	pc      *planContext
}

// readPlanContext reads what planning needs of a tenant: its Destinations, with
// their stores' status, and its stores' paths.
func (d *DB) readPlanContext(ctx context.Context, tx *sqlx.Tx, tenantID int64) (*planContext, error) {
	dests, stores, err := d.destinationsAndStores(ctx, tx, tenantID, nil)
	if err != nil {
		return nil, err
	}
	paths := make(map[planner.StoreKey]string, len(stores))
	for k, st := range stores {
		paths[planner.StoreKey{Kind: k.kind, Name: k.name}] = st.Path
	}
	return &planContext{team: planner.NewTeam(dests, paths)}, nil
}

// planWork plans w (already stored, w.ID set) with the planner and brings its
// placements in line: chosen ones are upserted (with force, always back to
// pending; otherwise only when their plan changed), and the others are marked for
// removal; the affected stores come back in res.jobs for the caller to queue
// (enqueueJobs), after its other statements. Without force (a re-plan after a
// Destination changed) a group that cannot be placed on a Destination keeps its
// old placement there (planner.Fatal, planner.NotPlaced).
//
// fresh says this transaction created w, so it has no placements to read.
func (d *DB) planWork(ctx context.Context, tx *sqlx.Tx, pc *planContext, w *tenants.Work, force, fresh bool) (submitted, error) {
	var rows []placementRow
	if !fresh {
		var err error
		if rows, err = d.workPlacements(ctx, tx, w.TenantID, w.ID); err != nil {
			return submitted{}, err
		}
	}
	return d.planWorkRows(ctx, tx, pc, w, force, fresh, rows, "")
}

// planWorkRows is planWork with the Work's placements already read, and the
// Work's stored unscheduled groups (JSON; "" when not read): left alone when
// the plan's are the same.
func (d *DB) planWorkRows(ctx context.Context, tx *sqlx.Tx, pc *planContext, w *tenants.Work, force, fresh bool,
	rows []placementRow, unscheduled string) (submitted, error) {
	byID := make(map[int64]placementRow, len(rows))
	stored := make([]planner.Stored, len(rows))
	for i, r := range rows {
		byID[r.ID] = r
		stored[i] = r.stored()
	}
	plan := pc.team.Plan(w, stored, force)
	res := newSubmitted(w.ID, plan.Unscheduled)
	for _, p := range plan.Placements {
		entry, err := d.place(ctx, tx, w, p, byID, &res)
		switch {
		case err == nil:
			st := p.Store
			if p.Unchanged {
				st = p.Old.Store // answered from the stored row
			}
			res.place(entry, st.Kind, st.Name, !p.Unchanged)
		case planner.Fatal(err, force):
			return submitted{}, err
		case p.Old == nil:
			res.Unscheduled = append(res.Unscheduled, planner.NotPlaced(w, p, err))
		}
	}
	planner.SortUnscheduled(res.Unscheduled)
	for _, rm := range plan.Removals {
		r := byID[rm.ID]
		if err := d.markDelete(ctx, tx, r, rm.Misplaced); err != nil {
			return submitted{}, err
		}
		res.remove(r.planEntry(tenants.StatePending, rm.Misplaced), r.StoreKind, r.StoreName)
	}
	if js := toJSON(res.Unscheduled); (!fresh || len(res.Unscheduled) > 0) && js != unscheduled { // a new row holds '[]'
		if _, err := tx.ExecContext(deferred(ctx), `UPDATE works SET unscheduled = ? WHERE tenant_id = ? AND id = ?`,
			js, w.TenantID, w.ID); err != nil {
			return submitted{}, err
		}
	}
	return res, nil // the caller queues res.jobs: enqueueJobs
}

// stored is the row as the planner sees it.
func (r placementRow) stored() planner.Stored {
	return planner.Stored{ID: r.ID, Group: r.GroupIndex, DestinationID: r.DestinationID, Destination: r.DestinationName,
		Store: planner.StoreKey{Kind: r.StoreKind, Name: r.StoreName}, Live: r.Intent == intentWrite, PlanHash: r.PlanHash}
}

// place stores placement p of w: unchanged, it answers the stored row;
// otherwise it checks p's key claims (unless the placement already holds exactly
// those), upserts the row back to pending and claims its keys.
func (d *DB) place(ctx context.Context, tx *sqlx.Tx, w *tenants.Work, p planner.Placement,
	byID map[int64]placementRow, res *submitted) (tenants.PlacementPlan, error) {
	if p.Err != nil {
		return tenants.PlacementPlan{}, p.Err
	}
	var old placementRow
	if p.Old != nil {
		old = byID[p.Old.ID]
	}
	if p.Unchanged {
		return old.planEntry(old.State, false), nil
	}
	if d.isPostgres() && ctx.Value(checkNowKey) == nil {
		return d.placePipelined(ctx, tx, w, p, old, res)
	}
	keep, err := d.keepsClaims(ctx, tx, w.TenantID, p, old)
	if err != nil {
		return tenants.PlacementPlan{}, err
	}
	if !keep {
		if err := d.checkClaims(ctx, tx, w.TenantID, old.ID, p, w.Name()); err != nil {
			return tenants.PlacementPlan{}, err
		}
	}
	var row struct {
		ID       int64 `db:"id"`
		Inserted bool  `db:"inserted"`
	}
	dest := p.Destination
	err = tx.GetContext(ctx, &row, placementUpsertSQL+` RETURNING id, `+d.dialect.inserted+` AS inserted`, w.TenantID, w.ID, p.Group, w.Groups[p.Group].Directory, dest.ID,
		dest.Name, dest.Mode, dest.StoreKind, dest.StoreName, p.Name, toJSON(p.Keys), p.Doc, p.Hash, d.now())
	if err != nil {
		return tenants.PlacementPlan{}, err
	}
	// On SQLite, the one writer, a row not read before was inserted.
	fresh := row.Inserted || p.Old == nil
	if !keep {
		if err := d.claimPlacement(ctx, tx, w.TenantID, row.ID, p, fresh); err != nil {
			return tenants.PlacementPlan{}, err
		}
	}
	return tenants.PlacementPlan{Destination: dest.Name, Name: p.Name, Group: p.Group, Paths: p.Keys,
		State: tenants.StatePending}, nil
}

// keepsClaims says the placement's live stored row old already holds exactly
// the claims p wants, so that they need no check and no rewrite.
func (d *DB) keepsClaims(ctx context.Context, tx *sqlx.Tx, tenantID int64, p planner.Placement, old placementRow) (bool, error) {
	if p.Old == nil || !p.Old.Live {
		return false, nil
	}
	held, err := d.heldClaims(ctx, tx, tenantID, old.ID)
	if err != nil {
		return false, err
	}
	return planner.HoldsExactly(held, p.Store, p.Plan), nil
}

// placePipelined is place on PostgreSQL, in statements held back for the
// transaction's next flush (pipeline.go): the placement's upsert and its claims
// go out together, and the clash check — which must leave the placement's own
// claims out, so it names the row by its key when the row is new — is queued
// by settle after the store's queued job is locked (enqueueJobs). Every submit
// of the store takes that lock, so a submit claiming the same keys at the same
// time checks after this one committed and sees its claims: two submits can no
// longer both pass their checks before either committed.
func (d *DB) placePipelined(ctx context.Context, tx *sqlx.Tx, w *tenants.Work, p planner.Placement, old placementRow,
	res *submitted) (tenants.PlacementPlan, error) {
	keep, err := d.keepsClaims(ctx, tx, w.TenantID, p, old)
	if err != nil {
		return tenants.PlacementPlan{}, err
	}
	if !keep {
		if err := planner.SelfClash(p.Plan, w.Name(), p.Destination.Name); err != nil {
			return tenants.PlacementPlan{}, err
		}
	}
	dest := p.Destination
	if _, err := tx.ExecContext(deferred(ctx), placementUpsertSQL, w.TenantID, w.ID, p.Group, w.Groups[p.Group].Directory, dest.ID,
		dest.Name, dest.Mode, dest.StoreKind, dest.StoreName, p.Name, toJSON(p.Keys), p.Doc, p.Hash, d.now()); err != nil {
		return tenants.PlacementPlan{}, err
	}
	if !keep {
		// The row the upsert wrote, named by its key, not by the id read: a
		// placement marked for removal may be deleted by the finish of the job
		// that removed its files after this transaction read it, and the
		// upsert then inserts it anew. (Nothing else inserts the Work's
		// placements meanwhile: a submit holds the Work's row, locked by its
		// upsert, and a re-plan the team's configuration lock.)
		self, selfArgs := `(SELECT id FROM placements WHERE work_id = ? AND group_index = ? AND destination_id = ?)`,
			[]any{w.ID, p.Group, dest.ID}
		if p.Old != nil {
			if err := d.dropClaims(deferred(ctx), tx, w.TenantID, "placement_id", old.ID); err != nil {
				return tenants.PlacementPlan{}, err
			}
		}
		if err := d.insertClaims(deferred(ctx), tx, w.TenantID, self, selfArgs, p); err != nil {
			return tenants.PlacementPlan{}, err
		}
		res.checks = append(res.checks, clashCheckOf{tenantID: w.TenantID, self: self, selfArgs: selfArgs, p: p, workName: w.Name()})
	}
	return tenants.PlacementPlan{Destination: dest.Name, Name: p.Name, Group: p.Group, Paths: p.Keys,
		State: tenants.StatePending}, nil
}

// clashCheckOf is a clash check to queue (settle): the placement, and the SQL
// of its id.
type clashCheckOf struct {
	tenantID int64
	self     string
	selfArgs []any
	p        planner.Placement
	workName string
}

// settle queues res's clash checks, sends what the transaction holds back and
// answers the first conflict (PostgreSQL; on SQLite place checked at once).
func (d *DB) settle(ctx context.Context, tx *sqlx.Tx, res *submitted) error {
	checks, err := d.queueChecks(ctx, tx, res)
	if err != nil {
		return err
	}
	if err := d.flushPipeline(ctx, tx); err != nil {
		return err
	}
	return d.settleClashes(ctx, tx, checks)
}

// queueChecks queues res's clash checks (PostgreSQL: held back until the
// transaction's next flush; their answers fill the checks returned).
func (d *DB) queueChecks(ctx context.Context, tx *sqlx.Tx, res *submitted) ([]*clashCheck, error) {
	var checks []*clashCheck
	for _, c := range res.checks {
		cs, err := d.checkClaimsLater(ctx, tx, c.tenantID, c.self, c.selfArgs, c.p, c.workName)
		if err != nil {
			return nil, err
		}
		checks = append(checks, cs...)
	}
	res.checks = nil
	return checks, nil
}

// placementUpsertSQL stores a placement back to pending with its new plan.
const placementUpsertSQL = `INSERT INTO placements (tenant_id, work_id, group_index, directory, destination_id,
		destination_name, mode, store_kind, store_name, name, paths, plan, plan_hash, intent, state, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'write', 'pending', ?)
		ON CONFLICT (work_id, group_index, destination_id) DO UPDATE SET directory = excluded.directory,
		destination_name = excluded.destination_name, mode = excluded.mode, store_kind = excluded.store_kind,
		store_name = excluded.store_name, name = excluded.name, paths = excluded.paths, plan = excluded.plan,
		plan_hash = excluded.plan_hash, intent = 'write', state = 'pending', generation = placements.generation + 1,
		misplaced = FALSE, attempts = 0, error = '', stuck = FALSE, updated_at = excluded.updated_at`

// markDelete asks the next job of the placement's store to remove its files.
func (d *DB) markDelete(ctx context.Context, tx *sqlx.Tx, r placementRow, misplaced bool) error {
	ctx = deferred(ctx) // nothing is read back: held back for the next flush
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
	if later, ok := ctx.Value(replanLaterKey{}).(*replanLater); ok {
		later.pending = true // its caller re-plans once, at its end (Apply)
		return nil
	}
	d.replans.Add(1)
	rows, all, err := d.worksToPlan(ctx, tx, tenantID, "")
	if err != nil {
		return err
	}
	pc, err := d.loadPlanContext(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	return d.planAgain(ctx, tx, pc, rows, all, false)
}

// worksToPlan reads the tenant's live Works (those whose id is in the
// subquery within, when given, with its args) and every placement of them, in
// one read each, not one read per Work: a re-plan of 10,000 Works spent 70%
// of its 1.8 s in those reads. The placements come without their plans:
// planning compares their hashes.
func (d *DB) worksToPlan(ctx context.Context, tx *sqlx.Tx, tenantID int64, within string, args ...any) ([]workRow, []placementRow, error) {
	cond := ""
	if within != "" {
		cond = " AND id IN " + within
	}
	var rows []workRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+workCols+` FROM works WHERE tenant_id = ? AND deleted = FALSE`+cond+` ORDER BY id`,
		append([]any{tenantID}, args...)...); err != nil || len(rows) == 0 {
		return nil, nil, err
	}
	if within != "" {
		cond = " AND p.work_id IN " + within
	}
	var all []placementRow
	err := tx.SelectContext(ctx, &all, `SELECT `+placementColsNoPlan+` FROM placements p WHERE p.tenant_id = ?`+cond+`
		ORDER BY p.work_id, p.group_index, p.destination_name`, append([]any{tenantID}, args...)...)
	return rows, all, err
}

// planAgain plans rows again against pc, each Work with its placements in
// all: with force, every group anew, a clash failing the whole (replace);
// without, a clash leaving the Work's new placement unmade (replanTenant).
//
// What each Work changes is held back (pipeline.go) and sent a chunk of
// Works at a time, each Work's clash checks queued after its own claims and
// before the next Work's, so that each sees what the Works before it did, as
// when sent one by one: a round trip a Work took 27 s for 10,000 Works with
// PostgreSQL 1 ms away, while every submit of the team waited. A Work whose
// plan is unchanged sends nothing.
//
// Without force a clash is known only once the chunk was sent: the chunk is
// rolled back to its savepoint and planned again with each check made at
// once (as on SQLite, where place checks at once). One savepoint a chunk, not
// a Work: a transaction past 64 subtransactions that wrote slows every
// snapshot of the database.
func (d *DB) planAgain(ctx context.Context, tx *sqlx.Tx, pc *planContext, rows []workRow, all []placementRow, force bool) error {
	byWork := make(map[int64][]placementRow, len(rows))
	for _, p := range all {
		byWork[p.WorkID] = append(byWork[p.WorkID], p)
	}
	what := "re-plan Work %s: %w"
	if force {
		what = "place Work %s again: %w"
	}
	type queued struct {
		name   string
		checks []*clashCheck
	}
	var pending []queued
	planOne := func(ctx context.Context, r workRow) error {
		w := r.domain()
		res, err := d.planWorkRows(ctx, tx, pc, &w, force, false, byWork[w.ID], r.Unscheduled)
		var checks []*clashCheck
		if err == nil {
			// The queued jobs first, as in enqueueJobs.
			if err = d.enqueueAll(ctx, tx, w.TenantID, res.jobs); err == nil {
				checks, err = d.queueChecks(ctx, tx, &res)
			}
		}
		if err != nil {
			return fmt.Errorf(what, w.Name(), err)
		}
		if len(checks) > 0 {
			pending = append(pending, queued{w.Name(), checks})
		}
		return nil
	}
	settle := func() error {
		defer func() { pending = pending[:0] }()
		if err := d.flushPipeline(ctx, tx); err != nil {
			return err
		}
		for _, q := range pending {
			if err := d.settleClashes(ctx, tx, q.checks); err != nil {
				return fmt.Errorf(what, q.name, err)
			}
		}
		return nil
	}
	savepoints := d.isPostgres() && !force
	size := max(replanChunk, len(rows)/replanSavepoints+1)
	for chunk := range slices.Chunk(rows, size) {
		cc := &chunkClaims{tenantID: chunk[0].TenantID, ids: map[int64]bool{}}
		for _, r := range chunk {
			for _, p := range byWork[r.ID] {
				cc.ids[p.ID] = true
			}
		}
		ctx := context.WithValue(ctx, chunkClaimsKey{}, cc)
		if savepoints {
			if _, err := tx.ExecContext(deferred(ctx), `SAVEPOINT replan`); err != nil {
				return err
			}
		}
		for _, r := range chunk {
			if err := planOne(ctx, r); err != nil {
				return err
			}
		}
		err := settle()
		if savepoints && errors.Is(err, tenants.ErrConflict) {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT replan`); err != nil {
				return err
			}
			cc.reset()
			for _, r := range chunk {
				if err := planOne(context.WithValue(ctx, checkNowKey, true), r); err != nil {
					return err
				}
			}
			err = settle()
		}
		if err != nil {
			return err
		}
		if savepoints {
			if _, err := tx.ExecContext(deferred(ctx), `RELEASE SAVEPOINT replan`); err != nil {
				return err
			}
		}
	}
	return nil
}

// replanLater, on a transaction's context, makes replanTenant only note that
// the team must be planned again, for the caller to do once at its end.
type replanLater struct{ pending bool }

type replanLaterKey struct{}

// checkNowKey, on a re-plan's context, makes place check a placement's claims
// at once on PostgreSQL too, so that a clash leaves the placement unmade
// instead of failing the transaction.
type checkNowKeyType struct{}

var checkNowKey checkNowKeyType

// replanSavepoints bounds the savepoints of a re-plan (PostgreSQL: a
// transaction's first 64 subtransactions are cheap for every other session).
const replanSavepoints = 32

// replanChunk is how many Works a re-plan holds back at least before sending
// what they change (PostgreSQL), more past replanSavepoints chunks.
const replanChunk = 500

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
func (s *jobSet) fill(entries []tenants.PlacementPlan, stores []storeKey) {
	for i := range entries {
		if id := s.ids[stores[i]]; id != nil {
			v := *id
			entries[i].Job = &v
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
