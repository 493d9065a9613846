package tenants

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// shape describes what a decoded JSON value (from a request body or a Kratix YAML
// document) must look like, so that unknown fields and wrong types are reported
// with their full path ("spec.pathh", "workloadGroups[1].files[0].path"):
// encoding/json names neither precisely. JSON null is accepted anywhere and means
// "absent", as Kubernetes treats it.
type shape struct {
	kind   shapeKind
	fields map[string]*shape // shapeObject: the known fields
	elem   *shape            // shapeArray element, shapeMap value
}

type shapeKind int

const (
	shapeAny    shapeKind = iota // accepted as is (read elsewhere or ignored)
	shapeString                  // a JSON string
	shapeBool                    // true or false
	shapeObject                  // an object with known fields only
	shapeArray                   // a list of elem
	shapeMap                     // an object with any keys and elem values
)

var (
	anyShape    = &shape{kind: shapeAny}
	stringShape = &shape{kind: shapeString}
	boolShape   = &shape{kind: shapeBool}
	stringMap   = &shape{kind: shapeMap, elem: stringShape}
)

func object(fields map[string]*shape) *shape { return &shape{kind: shapeObject, fields: fields} }

func listOf(elem *shape) *shape { return &shape{kind: shapeArray, elem: elem} }

// maxShapeErrors caps how many problems one check reports, so that a body of
// thousands of bad entries gives a readable answer.
const maxShapeErrors = 20

// check appends to es every place where v does not fit s.
func (s *shape) check(path string, v any, es *ValidationErrors) {
	if v == nil || s.kind == shapeAny || len(*es) >= maxShapeErrors {
		return
	}
	switch s.kind {
	case shapeString:
		if _, ok := v.(string); !ok {
			*es = append(*es, &ValidationError{Field: path, Message: "must be a string" + quoteHint(v)})
		}
	case shapeBool:
		if _, ok := v.(bool); !ok {
			*es = append(*es, &ValidationError{Field: path, Message: "must be true or false"})
		}
	case shapeArray:
		s.checkArray(path, v, es)
	case shapeObject, shapeMap:
		s.checkObject(path, v, es)
	}
}

func (s *shape) checkArray(path string, v any, es *ValidationErrors) {
	list, ok := v.([]any)
	if !ok {
		*es = append(*es, &ValidationError{Field: path, Message: "must be a list"})
		return
	}
	for i, item := range list {
		s.elem.check(path+"["+strconv.Itoa(i)+"]", item, es)
	}
}

func (s *shape) checkObject(path string, v any, es *ValidationErrors) {
	m, ok := v.(map[string]any)
	if !ok {
		*es = append(*es, &ValidationError{Field: path, Message: "must be an object"})
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // stable error order
	for _, k := range keys {
		if s.kind == shapeMap {
			s.elem.check(path+"["+k+"]", m[k], es)
			continue
		}
		child, known := s.fields[k]
		if !known {
			*es = append(*es, &ValidationError{Field: joinField(path, k), Message: "unknown field" + s.suggest(k)})
			continue
		}
		child.check(joinField(path, k), m[k], es)
	}
}

// suggest names the known field closest to a misspelt one, if any is close.
func (s *shape) suggest(k string) string {
	best, bestDist := "", 3
	for f := range s.fields {
		if d := editDistance(k, f); d < bestDist || (d == bestDist && f < best) {
			best, bestDist = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// quoteHint explains the usual cause of a number or boolean where a string belongs:
// an unquoted YAML value such as `version: 1.0` or `enabled: yes`.
func quoteHint(v any) string {
	switch v.(type) {
	case json.Number, float64, bool:
		return fmt.Sprintf(", not %v (quote it)", v)
	}
	return ""
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
