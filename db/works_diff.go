package db

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/pathing"
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

// plannedRemoval is what removing placement r leaves: nothing of its own (its
// owned directory, the files its state file lists and what it wrote go), and an
// aggregatedYAML file rebuilt without it (or gone with the last placement).
func (d *DB) plannedRemoval(ctx context.Context, tx *sqlx.Tx, pc *planContext, r placementRow) (tenants.PlannedWrite, error) {
	pw, err := d.plannedWrite(ctx, tx, pc, r)
	if err != nil {
		return pw, err
	}
	plan, err := decodePlan(r.Plan)
	if err != nil {
		return pw, err
	}
	pw.Written = jsonStrings(r.WrittenKeys)
	if plan.Target == "" {
		for _, p := range pw.Puts {
			pw.Written = append(pw.Written, p.Path)
		}
		pw.Puts = nil
		return pw, nil
	}
	_, live, err := d.aggregateOn(ctx, tx, r)
	if live == 0 {
		pw.Puts, pw.Written = nil, append(pw.Written, plan.Target)
	}
	return pw, err
}

func (d *DB) plannedWrite(ctx context.Context, tx *sqlx.Tx, pc *planContext, r placementRow) (tenants.PlannedWrite, error) {
	plan, err := decodePlan(r.Plan)
	if err != nil {
		return tenants.PlannedWrite{}, err
	}
	dest := pc.dests[r.DestinationName]
	storePath := pc.storePaths[storeKey{r.StoreKind, r.StoreName}]
	root, err := pathing.Root(storePath, dest.Path)
	if err != nil {
		return tenants.PlannedWrite{}, err
	}
	pw := tenants.PlannedWrite{Placement: r.Name, Destination: r.DestinationName, StorePath: storePath, Root: root,
		Store: tenants.StoreRef{TenantID: r.TenantID, Kind: r.StoreKind, Name: r.StoreName},
		Puts:  plan.Files, OwnedPrefix: plan.OwnedPrefix, Written: jsonStrings(r.WrittenKeys)}
	if plan.StateFile != nil {
		pw.Puts = append(pw.Puts, *plan.StateFile)
		pw.StateFile = plan.StateFile.Path
	}
	if plan.Target != "" {
		content, _, err := d.aggregateOn(ctx, tx, r)
		if err != nil {
			return tenants.PlannedWrite{}, err
		}
		pw.Puts = append(pw.Puts, pathing.File{Path: plan.Target, Content: content})
		pw.Written = nil // the target is shared: nothing of it goes
	}
	return pw, nil
}

// aggregateOn rebuilds the aggregatedYAML file of r's Destination from every live
// placement on it (r's new plan included when r is live) and says how many there
// are: with none the file goes.
func (d *DB) aggregateOn(ctx context.Context, tx *sqlx.Tx, r placementRow) ([]byte, int, error) {
	var rows []placementRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+placementCols+` FROM placements
		WHERE tenant_id = ? AND destination_id = ? AND intent = 'write'`, r.TenantID, r.DestinationID); err != nil {
		return nil, 0, err
	}
	var parts []pathing.AggregatePart
	for _, p := range rows {
		plan, err := decodePlan(p.Plan)
		if err != nil {
			return nil, 0, err
		}
		if plan.Aggregate != nil {
			parts = append(parts, *plan.Aggregate)
		}
	}
	return pathing.Aggregated(parts), len(parts), nil
}
