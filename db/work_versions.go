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
		with, idArgs := idsCTE(chunk)
		args := concat(idArgs, []any{version, proposed, now, tenantID, state, version, proposed})
		if _, err := tx.ExecContext(ctx, with+insertVersionsSQL, args...); err != nil {
			return err
		}
	}
	return nil
}

// insertVersionsSQL follows idsCTE: each placement of ids is looked up by its
// key (CROSS JOIN keeps SQLite from reordering), never found among the team's
// placements in a state (placements_state_work), which SQLite's statistics
// chose at a million Works: every row of the team's 10,000 read per chunk.
const insertVersionsSQL = `INSERT INTO work_versions (tenant_id, work_id, placement_id, generation, version, proposed, written_at)
	SELECT p.tenant_id, p.work_id, p.id, p.generation, ?, ?, ? FROM ids CROSS JOIN placements p
	WHERE p.id = ids.id AND p.tenant_id = ? AND p.state = ? AND p.version = ? AND NOT EXISTS (SELECT 1 FROM work_versions v
	WHERE v.placement_id = p.id AND v.generation = p.generation AND v.proposed = ?)`

// pruneVersions keeps the last versionsKept versions of each placement of ids.
func (d *DB) pruneVersions(ctx context.Context, tx *sqlx.Tx, tenantID int64, ids []int64) error {
	for chunk := range slices.Chunk(ids, 500) {
		with, idArgs := idsCTE(chunk)
		if _, err := tx.ExecContext(ctx, with+pruneVersionsSQL, concat(idArgs, []any{tenantID, versionsKept})...); err != nil {
			return err
		}
	}
	return nil
}

// pruneVersionsSQL follows idsCTE: the versions of each placement of ids on
// work_versions_placement, not the team's on work_versions_work (SQLite's
// choice at a million Works: 29 ms a chunk where this takes 2).
const pruneVersionsSQL = `DELETE FROM work_versions WHERE id IN (SELECT w.id FROM ids CROSS JOIN work_versions w
	WHERE w.placement_id = ids.id AND w.tenant_id = ? AND w.id <= (SELECT v.id FROM work_versions v
	WHERE v.placement_id = w.placement_id ORDER BY v.id DESC LIMIT 1 OFFSET ?))`

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
		with, args := idsCTE(chunk)
		var rows []trailRow
		if err := sqlx.SelectContext(ctx, q, &rows, with+jobWorksSQL, append(args, job.TenantID)...); err != nil {
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

// jobWorksSQL follows idsCTE: each Work of ids by its key, not the team's
// Works on works_trigger (SQLite's choice at a million Works, 2 – 4 ms a chunk
// of 500 where this takes 0.7; a re-assert reads 5,000 a store).
var jobWorksSQL = `SELECT t.slug, ` + trailCols + ` FROM ids CROSS JOIN works w CROSS JOIN tenants t
	WHERE w.id = ids.id AND w.tenant_id = ? AND t.id = w.tenant_id`

// idsCTE is a WITH clause naming ids as the table ids(id), and its arguments:
// a statement after it joins its rows by key with "FROM ids CROSS JOIN …", which
// SQLite runs in that order, so that a team's rows are never scanned for a few
// of them however its statistics read (TestPlansWithRealisticStatistics).
// PostgreSQL would type a bare parameter in VALUES as text; the CAST says bigint.
func idsCTE(ids []int64) (string, []any) {
	var b strings.Builder
	b.WriteString("WITH ids(id) AS (VALUES ")
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(CAST(? AS BIGINT))")
		args[i] = id
	}
	b.WriteString(") ")
	return b.String(), args
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
