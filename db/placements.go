package db

import (
	"encoding/json"
	"time"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/tenants"
)

// placementRow is one row of placements.
type placementRow struct {
	ID              int64      `db:"id"`
	TenantID        int64      `db:"tenant_id"`
	WorkID          int64      `db:"work_id"`
	GroupIndex      int        `db:"group_index"`
	Directory       string     `db:"directory"`
	DestinationID   int64      `db:"destination_id"`
	DestinationName string     `db:"destination_name"`
	Mode            string     `db:"mode"`
	StoreKind       string     `db:"store_kind"`
	StoreName       string     `db:"store_name"`
	Name            string     `db:"name"`
	Paths           string     `db:"paths"`
	Plan            string     `db:"plan"`
	PlanHash        string     `db:"plan_hash"`
	Intent          string     `db:"intent"`
	State           string     `db:"state"`
	Generation      int64      `db:"generation"`
	JobID           *int64     `db:"job_id"`
	Version         string     `db:"version"`
	Error           string     `db:"error"`
	Misplaced       bool       `db:"misplaced"`
	Attempts        int        `db:"attempts"`
	WrittenKeys     string     `db:"written_keys"`
	WrittenPrefix   string     `db:"written_prefix"`
	Stuck           bool       `db:"stuck"`
	UpdatedAt       time.Time  `db:"updated_at"`
	WrittenAt       *time.Time `db:"written_at"`
	PRNumber        int        `db:"pr_number"`
	PRURL           string     `db:"pr_url"`
	// Versioned: a version is recorded for the row's generation (work_versions);
	// read by loadKept only (versionedCol), false elsewhere.
	Versioned bool `db:"versioned"`
}

// versionedCol reads placementRow.Versioned: whether the placement's generation
// has its version recorded (not a proposed one), looked up by the placement. A
// scalar subquery, not EXISTS: PostgreSQL made the EXISTS a hashed subplan,
// reading every version of every team (200,000 rows, 190 ms) for each store's
// read; this one it looks up by work_versions_placement, as SQLite does.
const versionedCol = `(SELECT 1 FROM work_versions v WHERE v.placement_id = placements.id
	AND v.generation = placements.generation AND v.proposed = FALSE LIMIT 1) IS NOT NULL AS versioned`

const placementCols = `id, tenant_id, work_id, group_index, directory, destination_id, destination_name, mode,
	store_kind, store_name, name, paths, plan, plan_hash, intent, state, generation, job_id, version, error,
	misplaced, attempts, written_keys, written_prefix, stuck, updated_at, written_at, pr_number, pr_url`

// placementColsNoPlan selects every column but the plan (for views).
const placementColsNoPlan = `p.id, p.tenant_id, p.work_id, p.group_index, p.directory, p.destination_id,
	p.destination_name, p.mode, p.store_kind, p.store_name, p.name, p.paths, '' AS plan, p.plan_hash, p.intent,
	p.state, p.generation, p.job_id, p.version, p.error, p.misplaced, p.attempts, p.written_keys,
	p.written_prefix, p.stuck, p.updated_at, p.written_at, p.pr_number, p.pr_url`

func jsonStrings(s string) []string {
	var out []string
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// write is the row as the writers see it.
func (r placementRow) write() (tenants.PlacementWrite, error) {
	plan, err := planner.DecodePlan(r.Plan)
	return tenants.PlacementWrite{
		ID: r.ID, Name: r.Name, Destination: r.DestinationName, Mode: r.Mode, Delete: r.Intent == intentDelete,
		Plan: plan, WrittenKeys: jsonStrings(r.WrittenKeys), WrittenPrefix: r.WrittenPrefix,
		Written: r.WrittenAt != nil, Generation: r.Generation, Stuck: r.Stuck, Error: r.Error,
		Settled: r.Versioned && r.Intent == intentWrite && r.State == tenants.StateWritten && r.Error == "" && r.Attempts == 0, Version: r.Version,
		Work: tenants.WorkTrail{ID: r.WorkID},
	}, err
}

// Placement intents.
const (
	intentWrite  = "write"
	intentDelete = "delete"
)
