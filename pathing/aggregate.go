package pathing

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
)

// AggregatePart is one placement's contribution to an aggregatedYAML file.
type AggregatePart struct {
	// Placement is the placement's name (see PlacementName); parts are ordered by it.
	Placement string
	// Files are the placement's files, whole, in the Work's order; Path is relative
	// to the pipeline output root.
	Files []File
}

// aggregated gives this placement's files and the one key they end up in.
func (in *input) aggregated() Plan {
	part := &AggregatePart{Placement: in.placement, Files: make([]File, len(in.ordered))}
	for i, it := range in.ordered {
		part.Files[i] = File{Path: it.rel, Content: it.content}
	}
	return Plan{Aggregate: part, Target: joinKey(in.root, in.filename)}
}

// Aggregated builds the aggregatedYAML file of a Destination from the parts of all
// its live placements exactly as Kratix does (internal/controller/
// workplacement_controller.go getAllWorkplacementsForDestination and
// combineAllWorkloads): placements ordered by name, each placement's files whole in
// the Work's order, joined by "\n---\n", nothing added at the end. A file's content
// is not split or trimmed, so a file ending in a newline leaves a blank line before
// the next "---". No parts give an empty file; Kratix then deletes it, and so must
// the caller. The result depends only on the set of parts, not their order.
func Aggregated(parts []AggregatePart) []byte {
	sorted := slices.Clone(parts)
	slices.SortStableFunc(sorted, func(a, b AggregatePart) int {
		return cmp.Or(strings.Compare(a.Placement, b.Placement), compareFiles(a.Files, b.Files))
	})
	var out bytes.Buffer
	first := true
	for _, p := range sorted {
		for _, f := range p.Files {
			if !first {
				out.WriteString("\n---\n")
			}
			first = false
			out.Write(f.Content)
		}
	}
	return out.Bytes()
}

// compareFiles orders two parts of the same placement name (which the writer never
// gives) so that the result still does not depend on the order of parts.
func compareFiles(a, b []File) int {
	return slices.CompareFunc(a, b, func(x, y File) int {
		return cmp.Or(strings.Compare(x.Path, y.Path), bytes.Compare(x.Content, y.Content))
	})
}
