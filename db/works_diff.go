package db

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
)

// PlanWrites is a dry run of SubmitWork that also says what each placement's
// write would leave in its store: the input of a diff against what the store holds
// now. writes follows the answer's Placements, then its Deletes. Nothing is kept.
func (d *DB) PlanWrites(ctx context.Context, tenantID int64, w *tenants.Work) (SubmitResult, []tenants.PlannedWrite, error) {
	var res SubmitResult
	var writes []tenants.PlannedWrite
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if res, err = d.submit(ctx, tx, tenantID, w, true); err != nil {
			return err
		}
		if writes, err = d.plannedWrites(ctx, tx, tenantID, w.ID, res); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return res, writes, err
}

// plannedWrites reads, inside the dry run's transaction, the placements just
// planned (and those marked for removal) and what each would leave.
func (d *DB) plannedWrites(ctx context.Context, tx *sqlx.Tx, tenantID, workID int64, res SubmitResult) ([]tenants.PlannedWrite, error) {
	pc, err := d.loadPlanContext(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	rows, err := d.workPlacements(ctx, tx, tenantID, workID)
	if err != nil {
		return nil, err
	}
	byName := map[string]placementRow{}
	for _, r := range rows {
		byName[r.Intent+"/"+r.Name] = r
	}
	out := make([]tenants.PlannedWrite, 0, len(res.Placements)+len(res.Deletes))
	for _, e := range res.Placements {
		r, ok := byName[intentWrite+"/"+e.Name]
		if !ok {
			return nil, errors.New("planned placement " + e.Name + " not found")
		}
		pw, err := d.plannedWrite(ctx, tx, pc, r)
		if err != nil {
			return nil, err
		}
		out = append(out, pw)
	}
	for _, e := range res.Deletes {
		r, ok := byName[intentDelete+"/"+e.Name]
		if !ok {
			return nil, errors.New("placement to remove " + e.Name + " not found")
		}
		pw, err := d.plannedRemoval(ctx, tx, pc, r)
		if err != nil {
			return nil, err
		}
		out = append(out, pw)
	}
	return out, nil
}

// planned is the row as planner.PlannedWrite reads it.
func (r placementRow) planned() planner.Planned {
	return planner.Planned{Name: r.Name, Destination: r.DestinationName, Doc: r.Plan, Written: jsonStrings(r.WrittenKeys),
		Store: tenants.StoreRef{TenantID: r.TenantID, Kind: r.StoreKind, Name: r.StoreName}}
}

func (d *DB) plannedRemoval(ctx context.Context, tx *sqlx.Tx, pc *planContext, r placementRow) (tenants.PlannedWrite, error) {
	return pc.team.PlannedRemoval(r.planned(), func() ([]byte, int, error) { return d.aggregateOn(ctx, tx, r) })
}

func (d *DB) plannedWrite(ctx context.Context, tx *sqlx.Tx, pc *planContext, r placementRow) (tenants.PlannedWrite, error) {
	return pc.team.PlannedWrite(r.planned(), func() ([]byte, int, error) { return d.aggregateOn(ctx, tx, r) })
}

// aggregateOn rebuilds the aggregatedYAML file of r's Destination from every live
// placement on it (r's new plan included when r is live) and says how many there
// are: with none the file goes.
func (d *DB) aggregateOn(ctx context.Context, tx *sqlx.Tx, r placementRow) ([]byte, int, error) {
	var docs []string
	if err := tx.SelectContext(ctx, &docs, `SELECT plan FROM placements
		WHERE tenant_id = ? AND destination_id = ? AND intent = 'write'`, r.TenantID, r.DestinationID); err != nil {
		return nil, 0, err
	}
	return planner.AggregateOf(docs)
}
