package db

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// planDoc is a pathing.Plan as stored in placements.plan. Contents are strings:
// they arrive as JSON strings, so they are valid UTF-8.
type planDoc struct {
	Files       []fileDoc `json:"files,omitempty"`
	OwnedPrefix string    `json:"ownedPrefix,omitempty"`
	StateFile   *fileDoc  `json:"stateFile,omitempty"`
	Aggregate   *aggDoc   `json:"aggregate,omitempty"`
	Target      string    `json:"target,omitempty"`
}

type fileDoc struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// aggDoc is a pathing.AggregatePart. Its files are stored under "docs", the name
// they had when a part held split YAML documents, so older rows still decode.
type aggDoc struct {
	Placement string    `json:"placement"`
	Files     []fileDoc `json:"docs"`
}

func toFileDocs(files []pathing.File) []fileDoc {
	out := make([]fileDoc, len(files))
	for i, f := range files {
		out[i] = fileDoc{Path: f.Path, Content: string(f.Content)}
	}
	return out
}

func fromFileDocs(docs []fileDoc) []pathing.File {
	out := make([]pathing.File, len(docs))
	for i, f := range docs {
		out[i] = pathing.File{Path: f.Path, Content: []byte(f.Content)}
	}
	return out
}

// encodePlan returns the stored JSON of p and its hash.
func encodePlan(p pathing.Plan) (string, string) {
	doc := planDoc{Files: toFileDocs(p.Files), OwnedPrefix: p.OwnedPrefix, Target: p.Target}
	if p.StateFile != nil {
		doc.StateFile = &fileDoc{Path: p.StateFile.Path, Content: string(p.StateFile.Content)}
	}
	if p.Aggregate != nil {
		doc.Aggregate = &aggDoc{Placement: p.Aggregate.Placement, Files: toFileDocs(p.Aggregate.Files)}
	}
	b, _ := json.Marshal(doc) // strings and slices always encode
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:])
}

func decodePlan(s string) (pathing.Plan, error) {
	var doc planDoc
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return pathing.Plan{}, err
	}
	p := pathing.Plan{Files: fromFileDocs(doc.Files), OwnedPrefix: doc.OwnedPrefix, Target: doc.Target}
	if doc.StateFile != nil {
		p.StateFile = &pathing.File{Path: doc.StateFile.Path, Content: []byte(doc.StateFile.Content)}
	}
	if doc.Aggregate != nil {
		p.Aggregate = &pathing.AggregatePart{Placement: doc.Aggregate.Placement, Files: fromFileDocs(doc.Aggregate.Files)}
	}
	return p, nil
}

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
}

const placementCols = `id, tenant_id, work_id, group_index, directory, destination_id, destination_name, mode,
	store_kind, store_name, name, paths, plan, plan_hash, intent, state, generation, job_id, version, error,
	misplaced, attempts, written_keys, written_prefix, stuck, updated_at, written_at`

// placementColsNoPlan selects every column but the plan (for views).
const placementColsNoPlan = `p.id, p.tenant_id, p.work_id, p.group_index, p.directory, p.destination_id,
	p.destination_name, p.mode, p.store_kind, p.store_name, p.name, p.paths, '' AS plan, p.plan_hash, p.intent,
	p.state, p.generation, p.job_id, p.version, p.error, p.misplaced, p.attempts, p.written_keys,
	p.written_prefix, p.stuck, p.updated_at, p.written_at`

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
	plan, err := decodePlan(r.Plan)
	return tenants.PlacementWrite{
		ID: r.ID, Name: r.Name, Destination: r.DestinationName, Mode: r.Mode, Delete: r.Intent == intentDelete,
		Plan: plan, WrittenKeys: jsonStrings(r.WrittenKeys), WrittenPrefix: r.WrittenPrefix,
		Written: r.WrittenAt != nil, Generation: r.Generation, Stuck: r.Stuck, Error: r.Error,
	}, err
}

// Placement intents.
const (
	intentWrite  = "write"
	intentDelete = "delete"
)
