package db

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// versionsKept bounds the versions remembered per placement.
const versionsKept = 50

// recordVersions remembers, in FinishJob's transaction, the version (commit or
// bucket content version) that carried each placement's generation the job
// wrote or proposed: the first one only (a later write that changes nothing of
// it is not its version), the last versionsKept per placement.
func (d *DB) recordVersions(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, res tenants.JobResult) error {
	if res.Err != "" {
		return nil
	}
	var written, proposed []int64
	for _, o := range res.Placements {
		switch {
		case o.Error != "" || o.Delete:
		case o.Proposed:
			proposed = append(proposed, o.ID)
		default:
			written = append(written, o.ID)
		}
	}
	if err := d.insertVersions(ctx, tx, job.TenantID, written, res.Version, false); err != nil {
		return err
	}
	if err := d.insertVersions(ctx, tx, job.TenantID, proposed, res.Head, true); err != nil {
		return err
	}
	return d.pruneVersions(ctx, tx, job.TenantID, append(written, proposed...))
}

// insertVersions records version for the placements ids that now hold it
// (their generation was not submitted again meanwhile) and have no version
// recorded for that generation yet.
func (d *DB) insertVersions(ctx context.Context, tx *sqlx.Tx, tenantID int64, ids []int64, version string, proposed bool) error {
	if version == "" {
		return nil
	}
	state := tenants.StateWritten
	if proposed {
		state = tenants.StateProposed
	}
	now := d.now()
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`INSERT INTO work_versions (tenant_id, work_id, placement_id, generation, version, proposed, written_at)
			SELECT p.tenant_id, p.work_id, p.id, p.generation, ?, ?, ? FROM placements p
			WHERE p.tenant_id = ? AND p.id IN (?) AND p.state = ? AND p.version = ? AND NOT EXISTS (SELECT 1 FROM work_versions v
			WHERE v.placement_id = p.id AND v.generation = p.generation AND v.proposed = ?)`,
			version, proposed, now, tenantID, chunk, state, version, proposed)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// pruneVersions keeps the last versionsKept versions of each placement of ids.
func (d *DB) pruneVersions(ctx context.Context, tx *sqlx.Tx, tenantID int64, ids []int64) error {
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`DELETE FROM work_versions WHERE tenant_id = ? AND placement_id IN (?) AND id <= (SELECT v.id
			FROM work_versions v WHERE v.placement_id = work_versions.placement_id ORDER BY v.id DESC LIMIT 1 OFFSET ?)`,
			tenantID, chunk, versionsKept)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

type versionRow struct {
	Placement   string    `db:"name"`
	Destination string    `db:"destination_name"`
	StoreKind   string    `db:"store_kind"`
	StoreName   string    `db:"store_name"`
	Generation  int64     `db:"generation"`
	Version     string    `db:"version"`
	Proposed    bool      `db:"proposed"`
	WrittenAt   time.Time `db:"written_at"`
	URL         string    `db:"url"`
	PullRequest string    `db:"pull_request"`
}

// workVersions lists the versions that carried a Work's placements, newest
// first, each with its commit's page when the store's host is known.
func (d *DB) workVersions(ctx context.Context, tenantID, workID int64) ([]tenants.WorkVersion, error) {
	var rows []versionRow
	err := d.r.SelectContext(ctx, &rows, `SELECT p.name, p.destination_name, p.store_kind, p.store_name, v.generation, v.version,
		v.proposed, v.written_at, COALESCE(g.url, '') AS url, COALESCE(g.pull_request, '') AS pull_request
		FROM work_versions v JOIN placements p ON p.tenant_id = v.tenant_id AND p.id = v.placement_id
		LEFT JOIN git_stores g ON g.tenant_id = p.tenant_id AND g.name = p.store_name AND p.store_kind = ?
		WHERE v.tenant_id = ? AND v.work_id = ? ORDER BY v.id DESC`, tenants.KindGit, tenantID, workID)
	if err != nil {
		return nil, err
	}
	out := make([]tenants.WorkVersion, len(rows))
	for i, r := range rows {
		out[i] = tenants.WorkVersion{Placement: r.Placement, Destination: r.Destination, StoreKind: r.StoreKind,
			StoreName: r.StoreName, Generation: r.Generation, Version: r.Version, Proposed: r.Proposed, WrittenAt: r.WrittenAt}
		if r.URL != "" {
			var pr struct {
				Provider string `json:"provider"`
			}
			_ = json.Unmarshal([]byte(r.PullRequest), &pr)
			out[i].URL = tenants.CommitURL(r.URL, pr.Provider, r.Version)
		}
	}
	return out, nil
}

type trailRow struct {
	workRow
	Team string `db:"slug"`
}

// jobWorks fills in, for every placement of the job (writes and peers), what
// its Work says of who asked for it: one query per job (per 500 Works), not one
// per placement.
func (d *DB) jobWorks(ctx context.Context, q sqlx.QueryerContext, job *tenants.Job) error {
	seen := map[int64]bool{}
	var ids []int64
	for _, ws := range [][]tenants.PlacementWrite{job.Writes, job.Peers} {
		for _, w := range ws {
			if !seen[w.Work.ID] {
				seen[w.Work.ID] = true
				ids = append(ids, w.Work.ID)
			}
		}
	}
	trails := make(map[int64]tenants.WorkTrail, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		query, args, err := sqlx.In(`SELECT t.slug, `+trailCols+` FROM works w JOIN tenants t ON t.id = w.tenant_id
			WHERE w.tenant_id = ? AND w.id IN (?)`, job.TenantID, chunk)
		if err != nil {
			return err
		}
		var rows []trailRow
		if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
			return err
		}
		for _, r := range rows {
			w := r.domain()
			trails[w.ID] = tenants.WorkTrail{ID: w.ID, Team: r.Team, Name: w.Name(), Promise: w.Promise, Labels: w.Labels,
				Requester: w.Requester, CorrelationID: w.CorrelationID}
		}
	}
	for _, ws := range [][]tenants.PlacementWrite{job.Writes, job.Peers} {
		for i := range ws {
			if t, ok := trails[ws[i].Work.ID]; ok {
				ws[i].Work = t
			}
		}
	}
	return nil
}

// trailCols are the Work's columns a trail needs, in workRow's form: its
// documents (workload_groups, the bulk of a row) and unscheduled groups read
// as empty. A re-assert reads the trails of every Work of the store, and
// decoded every document of each.
var trailCols = strings.NewReplacer("w.workload_groups", "'' AS workload_groups", "w.unscheduled", "'' AS unscheduled").
	Replace(prefixCols("w.", workCols))

// prefixCols qualifies each column of a column list with prefix ("w.").
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
