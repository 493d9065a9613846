package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/stateward/stateward/pathing"
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

// EncodePlan returns p as the database stores it (placements.plan) and its
// hash: the same plan always gives the same bytes, so an unchanged placement is
// recognised by its hash.
func EncodePlan(p pathing.Plan) (string, string) {
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

// DecodePlan reads a plan stored by EncodePlan.
func DecodePlan(s string) (pathing.Plan, error) {
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

// EncodeFiles returns files as the database stores them (canaries.files).
func EncodeFiles(files []pathing.File) string {
	b, _ := json.Marshal(toFileDocs(files)) // strings and slices always encode
	return string(b)
}

// DecodeFiles reads files stored by EncodeFiles.
func DecodeFiles(s string) ([]pathing.File, error) {
	var docs []fileDoc
	err := json.Unmarshal([]byte(s), &docs)
	return fromFileDocs(docs), err
}
