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
	// Docs are the placement's non-empty YAML documents in file order.
	Docs []Doc
}

// Doc is one YAML document, without its "---" separator and trailing newlines.
type Doc struct {
	// File is the clean path of the file it came from, relative to the output root.
	File    string
	Content []byte
}

// aggregated gives this placement's documents and the one key they end up in.
func (in *input) aggregated() Plan {
	part := &AggregatePart{Placement: in.placement}
	for _, it := range in.files {
		for _, doc := range splitDocuments(it.content) {
			part.Docs = append(part.Docs, Doc{File: it.rel, Content: doc})
		}
	}
	return Plan{Aggregate: part, Target: joinKey(in.root, in.filename)}
}

// splitDocuments splits a YAML stream at its document markers ("---" lines, also with
// content after "--- ", and "..." lines), drops a leading byte order mark and trailing
// newlines, and drops empty documents: those holding only blank lines, comments and
// directives. It does not parse YAML: a marker line at column 0 ends a document in
// every YAML stream, including inside block scalars.
func splitDocuments(content []byte) [][]byte {
	content = bytes.TrimPrefix(content, []byte("\ufeff"))
	var docs [][]byte
	var cur []string
	flush := func() {
		if doc := strings.TrimRight(strings.Join(cur, "\n"), "\r\n"); !isEmptyDoc(doc) {
			docs = append(docs, []byte(doc))
		}
		cur = cur[:0]
	}
	for _, line := range strings.Split(string(content), "\n") {
		rest, marker := documentMarker(strings.TrimSuffix(line, "\r"))
		if !marker {
			cur = append(cur, line)
			continue
		}
		flush()
		if rest != "" {
			cur = append(cur, rest)
		}
	}
	flush()
	return docs
}

// documentMarker reports whether line starts or ends a document, and the content
// that follows a "---" on the same line.
func documentMarker(line string) (string, bool) {
	for _, m := range []string{"---", "..."} {
		rest, ok := strings.CutPrefix(line, m)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if m == "..." || strings.HasPrefix(rest, "#") {
			rest = ""
		}
		return rest, true
	}
	return "", false
}

func isEmptyDoc(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line[0] != '#' && line[0] != '%' {
			return false
		}
	}
	return true
}

// Aggregated builds the aggregatedYAML file of a Destination from the parts of all
// its live placements: every document ordered by placement name, then file path, then
// position in the file, joined by "\n---\n" and ending in a newline (empty when there
// are no documents). The result depends only on the set of parts, not their order.
func Aggregated(parts []AggregatePart) []byte {
	type entry struct {
		placement, file string
		index           int
		content         []byte
	}
	var entries []entry
	for _, p := range parts {
		for i, d := range p.Docs {
			entries = append(entries, entry{p.Placement, d.File, i, d.Content})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.placement, b.placement), strings.Compare(a.file, b.file),
			cmp.Compare(a.index, b.index), bytes.Compare(a.content, b.content))
	})
	var out bytes.Buffer
	for i, e := range entries {
		if i > 0 {
			out.WriteString("\n---\n")
		}
		out.Write(e.content)
	}
	if out.Len() > 0 {
		out.WriteByte('\n')
	}
	return out.Bytes()
}
