package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/stateward/stateward/tenants"
)

func (r placementRow) view() tenants.PlacementView {
	var pr *tenants.PlacementPR
	if r.PRNumber != 0 {
		pr = &tenants.PlacementPR{Number: r.PRNumber, URL: r.PRURL}
	}
	return tenants.PlacementView{PullRequest: pr, ID: r.ID, WorkID: r.WorkID, Name: r.Name, Destination: r.DestinationName, Group: r.GroupIndex,
		Directory: r.Directory, StoreKind: r.StoreKind, StoreName: r.StoreName, Paths: nonNil(jsonStrings(r.Paths)),
		State: r.State, Deleting: r.Intent == intentDelete, Misplaced: r.Misplaced, Version: r.Version, Error: r.Error,
		Attempts: r.Attempts, Job: r.JobID, UpdatedAt: r.UpdatedAt, WrittenAt: r.WrittenAt}
}

// WorkView is one Work with its placements (GET …/works/{id}).

// Work finds one Work of a tenant with its placements.
func (d *DB) Work(ctx context.Context, tenantID, id int64) (tenants.WorkView, error) {
	var r workRow
	err := d.r.GetContext(ctx, &r, `SELECT `+workCols+` FROM works WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return tenants.WorkView{}, mapErr(err, "Work", "#"+itoa(id))
	}
	w := r.domain()
	v := tenants.WorkView{ID: w.ID, Name: w.Name(), Promise: w.Promise, Resource: w.Resource, Pipeline: w.Pipeline,
		Deleted: w.Deleted, Groups: w.Groups, TriggerID: w.TriggerID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		Placements: []tenants.PlacementView{}, Unscheduled: []tenants.Unscheduled{}}
	_ = json.Unmarshal([]byte(r.Unscheduled), &v.Unscheduled)
	v.Labels, v.CorrelationID = nonNilLabels(w.Labels), w.CorrelationID
	v.RequestedBy, v.RequesterName = w.Requester.By, w.Requester.Name
	if v.Versions, err = d.workVersions(ctx, tenantID, id); err != nil {
		return tenants.WorkView{}, err
	}
	var rows []placementRow
	err = d.r.SelectContext(ctx, &rows, `SELECT `+placementColsNoPlan+` FROM placements p
		WHERE p.tenant_id = ? AND p.work_id = ? ORDER BY p.group_index, p.destination_name`, tenantID, id)
	if err != nil {
		return tenants.WorkView{}, err
	}
	for _, pr := range rows {
		v.Placements = append(v.Placements, pr.view())
	}
	return v, d.nextAttempts(ctx, tenantID, v.Placements)
}

// nextAttempts fills in, for every retrying placement of ps, when its store's job
// tries again (the queued job's run_after) and the error of the last try.
func (d *DB) nextAttempts(ctx context.Context, tenantID int64, ps []tenants.PlacementView) error {
	due := map[storeKey]*time.Time{}
	for i, p := range ps {
		if p.State != tenants.StateRetrying {
			continue
		}
		k := storeKey{p.StoreKind, p.StoreName}
		at, ok := due[k]
		if !ok {
			var t time.Time
			err := d.r.GetContext(ctx, &t, `SELECT run_after FROM jobs WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
				AND state = 'queued'`, tenantID, k.kind, k.name)
			switch {
			case err == nil:
				at = &t
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			due[k] = at
		}
		ps[i].NextAttemptAt, ps[i].LastError = at, p.Error
	}
	return nil
}

// Works lists a tenant's Works, most recently updated first.
func (d *DB) Works(ctx context.Context, tenantID int64) ([]tenants.WorkSummary, error) {
	var rows []workRow
	if err := d.r.SelectContext(ctx, &rows, `SELECT id, tenant_id, promise, res_namespace, res_name, pipeline,
		'[]' AS workload_groups, unscheduled, trigger_id, deleted, created_at, updated_at
		FROM works WHERE tenant_id = ? ORDER BY updated_at DESC, id DESC`, tenantID); err != nil {
		return nil, err
	}
	var counts []struct {
		WorkID int64  `db:"work_id"`
		State  string `db:"state"`
		N      int    `db:"n"`
	}
	if err := d.r.SelectContext(ctx, &counts, `SELECT work_id, state, COUNT(*) AS n FROM placements
		WHERE tenant_id = ? GROUP BY work_id, state`, tenantID); err != nil {
		return nil, err
	}
	byWork := map[int64]map[string]int{}
	for _, c := range counts {
		if byWork[c.WorkID] == nil {
			byWork[c.WorkID] = map[string]int{}
		}
		byWork[c.WorkID][c.State] = c.N
	}
	out := make([]tenants.WorkSummary, len(rows))
	for i, r := range rows {
		out[i] = r.summary(byWork[r.ID])
	}
	return out, nil
}

func (r workRow) summary(states map[string]int) tenants.WorkSummary {
	w := r.domain()
	s := tenants.WorkSummary{ID: w.ID, Name: w.Name(), Promise: w.Promise, Resource: w.Resource, Pipeline: w.Pipeline,
		Deleted: w.Deleted, States: map[string]int{}, UpdatedAt: w.UpdatedAt, TriggerID: w.TriggerID}
	for st, n := range states {
		s.States[st] = n
		s.Placements += n
	}
	var un []tenants.Unscheduled
	_ = json.Unmarshal([]byte(r.Unscheduled), &un)
	s.Unscheduled = len(un)
	return s
}

// DestinationPlacements is one page of what is placed on a Destination, for its
// dashboard page: at most limit placements by name, the most recently changed
// ones, and how many there are in all. Every query is one index range, so the
// page stays fast with 100,000 placements on the Destination.
func (d *DB) DestinationPlacements(ctx context.Context, tenantID int64, destination string, limit, recent int) (
	page, latest []tenants.PlacementView, total int, err error) {
	var rows, recentRows []placementRow
	if err = d.r.SelectContext(ctx, &rows, `SELECT `+placementColsNoPlan+` FROM placements p
		WHERE p.tenant_id = ? AND p.destination_name = ? ORDER BY p.name LIMIT ?`, tenantID, destination, limit); err != nil {
		return nil, nil, 0, err
	}
	if err = d.r.SelectContext(ctx, &recentRows, `SELECT `+placementColsNoPlan+` FROM placements p
		WHERE p.tenant_id = ? AND p.destination_name = ? ORDER BY p.updated_at DESC LIMIT ?`, tenantID, destination, recent); err != nil {
		return nil, nil, 0, err
	}
	err = d.r.GetContext(ctx, &total, `SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND destination_name = ?`, tenantID, destination)
	return views(rows), views(recentRows), total, err
}

// RecentPlacements lists a tenant's most recently changed placements.
func (d *DB) RecentPlacements(ctx context.Context, tenantID int64, limit int) ([]tenants.PlacementView, error) {
	var rows []placementRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+placementColsNoPlan+` FROM placements p
		WHERE p.tenant_id = ? ORDER BY p.updated_at DESC, p.id DESC LIMIT ?`, tenantID, limit)
	return views(rows), err
}

func views(rows []placementRow) []tenants.PlacementView {
	out := make([]tenants.PlacementView, len(rows))
	for i, r := range rows {
		out[i] = r.view()
	}
	return out
}

// Jobs lists a tenant's most recent jobs, newest first.
func (d *DB) Jobs(ctx context.Context, tenantID int64, limit int) ([]tenants.JobView, error) {
	var rows []jobRow
	err := d.r.SelectContext(ctx, &rows, `SELECT `+jobCols+` FROM jobs WHERE tenant_id = ? ORDER BY id DESC LIMIT ?`, tenantID, limit)
	out := make([]tenants.JobView, len(rows))
	for i, r := range rows {
		out[i] = tenants.JobView{ID: r.ID, StoreKind: r.StoreKind, StoreName: r.StoreName, State: r.State, Attempts: r.Attempts,
			RunAfter: r.RunAfter, LastError: r.LastError, Version: r.Version, CreatedAt: r.CreatedAt, Finished: r.FinishedAt}
	}
	return out, err
}

// JobCounts counts all tenants' jobs by state (for metrics).
func (d *DB) JobCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running') GROUP BY state`)
	out := map[string]int{tenants.JobQueued: 0, tenants.JobRunning: 0}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, err
}

// Outstanding counts a tenant's placements and canary files not written yet
// (pending, writing, retrying or failed): zero means the stores hold what was asked.
func (d *DB) Outstanding(ctx context.Context, tenantID int64) (int, error) {
	var n int
	err := d.r.GetContext(ctx, &n, `SELECT (SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND state <> 'written')
		+ (SELECT COUNT(*) FROM canaries WHERE tenant_id = ? AND state <> 'written')`, tenantID, tenantID)
	return n, err
}

// PlacementCounts counts a tenant's placements waiting to be written (pending,
// writing or retrying) and those failed for good since since, for the Overview.
// A waiting count above MaxCount means "more than MaxCount".
func (d *DB) PlacementCounts(ctx context.Context, tenantID int64, since time.Time) (waiting, failed int, err error) {
	var c struct {
		Waiting int `db:"waiting"`
		Failed  int `db:"failed"`
	}
	// Two index ranges (tenant, state, …), not a pass over every placement; the
	// waiting count stops past MaxCount. The failed ones have an index of their
	// own (placements_failed, migration 0059): SQLite, with or without
	// statistics, counted them along (tenant, updated_at) — every placement of
	// the last day, 100,000 rows read for none failed (27 ms).
	err = d.r.GetContext(ctx, &c, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM placements WHERE tenant_id = ? AND state IN ('pending', 'writing', 'retrying')
			LIMIT `+strconv.Itoa(MaxCount+1)+`) w) AS waiting,
		(`+failedCountSQL+`) AS failed`, tenantID, tenantID, since)
	return c.Waiting, c.Failed, err
}

// failedCountSQL counts a tenant's placements failed since a time.
const failedCountSQL = `SELECT COUNT(*) FROM placements WHERE tenant_id = ? AND state = 'failed' AND updated_at >= ?`

// PlacementStateCounts counts every tenant's placements by state (for metrics).
func (d *DB) PlacementStateCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT state, COUNT(*) AS n FROM placements GROUP BY state`)
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, err
}
