package pathing

import (
	"fmt"
	"unicode/utf8"
)

// Field names carried by PathError, so that callers can map an error to the input
// field that caused it (a 422 with "field").
const (
	FieldStorePath   = "statestore.path"
	FieldDestPath    = "destination.path"
	FieldDestName    = "destination.name"
	FieldMode        = "destination.filepath.mode"
	FieldFilename    = "destination.filepath.filename"
	FieldPlacement   = "placement"
	FieldPromise     = "promise"
	FieldNamespace   = "resource.namespace"
	FieldResource    = "resource.name"
	FieldPipeline    = "pipeline"
	FieldDirectory   = "directory"
	FieldFile        = "file"
	FieldStateFile   = "stateFile"
	maxErrorValueLen = 200
)

// PathError reports an input that cannot be laid out safely. Field is one of the
// Field* constants, Value the offending input exactly as given, Reason what is wrong.
type PathError struct {
	Field  string
	Value  string
	Reason string
}

// Error names the field and the (possibly shortened) value, e.g.
// `file "../x": path escapes the destination directory`.
func (e *PathError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Field, shorten(e.Value), e.Reason)
}

func newError(field, value, reason string) *PathError {
	return &PathError{Field: field, Value: value, Reason: reason}
}

// shorten keeps error messages readable when a value is huge.
func shorten(s string) string {
	if len(s) <= maxErrorValueLen {
		return s
	}
	cut := maxErrorValueLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
