package tenants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stateward/stateward/pathing"
)

// Limits of one Work request.
const (
	MaxWorkGroups = 100
	MaxWorkFiles  = 5000
)

// WorkRequest is the JSON body of `POST …/works` and of a webhook: a Work as
// automation submits it. Work() validates it.
type WorkRequest struct {
	Promise        string          `json:"promise"`
	Resource       *ResourceRef    `json:"resource,omitempty"`
	Pipeline       string          `json:"pipeline,omitempty"`
	WorkloadGroups []WorkloadGroup `json:"workloadGroups,omitempty"`
	// Files and DestinationSelectors are shorthand for one group with directory ".".
	Files                []WorkFile        `json:"files,omitempty"`
	DestinationSelectors map[string]string `json:"destinationSelectors,omitempty"`
	// Delete removes the Work that the identity fields name.
	Delete bool `json:"delete,omitempty"`
	// Labels are the Work's own labels (see Work.Labels).
	Labels map[string]string `json:"labels,omitempty"`
}

// SyntaxError reports a body that is not well-formed JSON (HTTP 400), as opposed to
// well-formed JSON with wrong content (*ValidationError / ValidationErrors, 422).
type SyntaxError struct {
	Offset  int64  // byte offset of the problem, when known
	Field   string // JSON path of the value, when known
	Message string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("malformed JSON at %s: %s", e.Field, e.Message)
	}
	if e.Offset > 0 {
		return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Message)
	}
	return "malformed JSON: " + e.Message
}

var workFileShape = object(map[string]*shape{"path": stringShape, "content": stringShape})

var workRequestShape = object(map[string]*shape{
	"promise":  stringShape,
	"resource": object(map[string]*shape{"namespace": stringShape, "name": stringShape}),
	"pipeline": stringShape,
	"labels":   stringMap,
	"workloadGroups": listOf(object(map[string]*shape{
		"directory":            stringShape,
		"destinationSelectors": stringMap,
		"files":                listOf(workFileShape),
	})),
	"files":                listOf(workFileShape),
	"destinationSelectors": stringMap,
	"delete":               boolShape,
})

// DecodeWorkRequest reads one JSON object strictly: malformed JSON or trailing data
// is a *SyntaxError; an unknown field or a value of the wrong type is a
// ValidationErrors naming its JSON path (workloadGroups[0].fils).
func DecodeWorkRequest(r io.Reader) (WorkRequest, error) {
	var req WorkRequest
	body, err := io.ReadAll(r)
	if err != nil {
		return req, fmt.Errorf("reading work request: %w", err)
	}
	raw, err := decodeOneJSON(body)
	if err != nil {
		return req, err
	}
	if _, ok := raw.(map[string]any); !ok {
		return req, Invalid("", "the body must be a JSON object")
	}
	var es ValidationErrors
	workRequestShape.check("", raw, &es)
	if err := es.Err(); err != nil {
		return req, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, Invalid("", "%v", err) // unreachable after the shape check
	}
	return req, nil
}

// decodeOneJSON decodes exactly one JSON value and nothing after it.
func decodeOneJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &SyntaxError{Message: "the body is empty"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxError(err, dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Message: "unexpected data after the JSON object"}
	}
	if err := CheckJSONText(body); err != nil {
		return nil, err
	}
	return v, nil
}

func syntaxError(err error, offset int64) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Message: se.Error()}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &SyntaxError{Offset: offset, Message: "unexpected end of the body"}
	}
	return &SyntaxError{Offset: offset, Message: err.Error()}
}

// Work validates the request and returns the Work it describes, normalized (group
// directory "." when absent). All problems come back at once as ValidationErrors
// whose fields are JSON paths such as `workloadGroups[1].files[0].path`.
func (req WorkRequest) Work() (*Work, error) {
	var es ValidationErrors
	w := &Work{Promise: req.Promise, Pipeline: req.Pipeline, Deleted: req.Delete}
	_ = es.Add(ValidatePromiseName("promise", req.Promise))
	if req.Resource != nil {
		ref := *req.Resource
		w.Resource = &ref
		_ = es.Add(ValidateLabelName("resource.namespace", ref.Namespace))
		_ = es.Add(ValidateName("resource.name", ref.Name))
	}
	if req.Pipeline != "" {
		_ = es.Add(ValidateLabelName("pipeline", req.Pipeline))
	}
	if len(req.Labels) > maxWorkLabels {
		_ = es.Add(Invalid("labels", "at most %d labels (it has %d)", maxWorkLabels, len(req.Labels)))
	} else {
		_ = es.Add(ValidateLabels("labels", req.Labels))
	}
	w.Labels = cloneLabels(req.Labels)
	groups, prefix, err := req.groups()
	if err != nil {
		_ = es.Add(err)
		return nil, es
	}
	w.Groups = validateGroups(groups, prefix, req.Delete, &es)
	if err := capErrors(es).Err(); err != nil {
		return nil, err
	}
	return w, nil
}

// maxWorkLabels bounds a Work's labels (they travel with every write).
const maxWorkLabels = 32

// capErrors keeps the first maxShapeErrors problems and says how many more there are.
func capErrors(es ValidationErrors) ValidationErrors {
	if len(es) <= maxShapeErrors {
		return es
	}
	more := &ValidationError{Message: fmt.Sprintf("and %d more problems", len(es)-maxShapeErrors)}
	return append(es[:maxShapeErrors:maxShapeErrors], more)
}

// groups returns the workload groups and a function naming group i's JSON path,
// resolving the top-level shorthand.
func (req WorkRequest) groups() ([]WorkloadGroup, func(int) string, error) {
	short := len(req.Files) > 0 || len(req.DestinationSelectors) > 0
	if short && len(req.WorkloadGroups) > 0 {
		return nil, nil, Invalid("workloadGroups", "cannot be combined with top-level files or destinationSelectors; put them in a group")
	}
	if short {
		g := WorkloadGroup{Directory: ".", DestinationSelectors: req.DestinationSelectors, Files: req.Files}
		return []WorkloadGroup{g}, func(int) string { return "" }, nil
	}
	return req.WorkloadGroups, func(i int) string { return fmt.Sprintf("workloadGroups[%d].", i) }, nil
}

// validateGroups checks every group and returns normalized copies.
func validateGroups(groups []WorkloadGroup, prefix func(int) string, del bool, es *ValidationErrors) []WorkloadGroup {
	if len(groups) == 0 && !del {
		_ = es.Add(Invalid("workloadGroups", "at least one group with files is required (or top-level files)"))
	}
	if len(groups) > MaxWorkGroups {
		_ = es.Add(Invalid("workloadGroups", "has %d groups; at most %d are allowed", len(groups), MaxWorkGroups))
		return nil
	}
	total := 0
	for _, g := range groups {
		total += len(g.Files)
	}
	if total > MaxWorkFiles {
		_ = es.Add(Invalid("files", "the Work has %d files; at most %d are allowed", total, MaxWorkFiles))
		return nil
	}
	out := make([]WorkloadGroup, len(groups))
	dirs := map[string]int{}
	for i, g := range groups {
		out[i] = validateGroup(g, prefix(i), del, es)
		if j, dup := dirs[out[i].Directory]; dup {
			_ = es.Add(Invalid(prefix(i)+"directory", "%q is already the directory of %sdirectory", out[i].Directory, prefix(j)))
		}
		dirs[out[i].Directory] = i
	}
	return out
}

func validateGroup(g WorkloadGroup, p string, del bool, es *ValidationErrors) WorkloadGroup {
	if g.Directory == "" {
		g.Directory = "."
	}
	if g.Directory != "." {
		_ = es.Add(validateRelPath(p+"directory", g.Directory))
	}
	_ = es.Add(ValidateLabels(p+"destinationSelectors", g.DestinationSelectors))
	if len(g.Files) == 0 && !del {
		_ = es.Add(Invalid(p+"files", "at least one file is required"))
	}
	g.Files = append([]WorkFile(nil), g.Files...)
	g.DestinationSelectors = cloneLabels(g.DestinationSelectors)
	validateFiles(g.Directory, g.Files, p+"files", es)
	return g
}

// validateFiles checks each path and that no two files collide: the same path
// twice, or one file's path being a directory of another.
func validateFiles(dir string, files []WorkFile, field string, es *ValidationErrors) {
	seen := make(map[string]int, len(files))
	dirs := map[string]int{}
	for i, f := range files {
		fp := fmt.Sprintf("%s[%d].path", field, i)
		if err := validateFilePath(fp, dir, f.Path); err != nil {
			_ = es.Add(err)
			continue
		}
		if j, dup := seen[f.Path]; dup {
			_ = es.Add(Invalid(fp, "%q is already the path of %s[%d]", f.Path, field, j))
			continue
		}
		if j, isDir := dirs[f.Path]; isDir {
			_ = es.Add(Invalid(fp, "%q is a directory of %s[%d]", f.Path, field, j))
		}
		for d := parentDir(f.Path); d != "."; d = parentDir(d) {
			if j, isFile := seen[d]; isFile {
				_ = es.Add(Invalid(fp, "%q is under %s[%d], which is a file", f.Path, field, j))
			}
			if _, ok := dirs[d]; !ok {
				dirs[d] = i
			}
		}
		seen[f.Path] = i
	}
}

func validateFilePath(field, dir, p string) error {
	if err := validateRelPath(field, p); err != nil {
		return err
	}
	if dir != "." && !strings.HasPrefix(p, dir+"/") {
		return Invalid(field, "%q is outside its group's directory %q: its path must start with %q", p, dir, dir+"/")
	}
	return nil
}

// validateRelPath accepts a clean relative slash-separated path that stays where it
// is: no "..", no leading "/", no backslash, NUL or control character, no ".git"
// segment in any case. It says exactly which rule a path breaks.
func validateRelPath(field, p string) error {
	switch {
	case p == "":
		return Invalid(field, "is required")
	case strings.HasPrefix(p, "/"):
		return Invalid(field, "%q must be relative, not start with /", p)
	case strings.ContainsRune(p, '\\'):
		return Invalid(field, "%q must not contain a backslash; use /", p)
	case strings.ContainsFunc(p, isControl):
		return Invalid(field, "%q must not contain NUL or control characters", p)
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "..":
			return Invalid(field, "%q must not contain ..", p)
		case strings.EqualFold(strings.TrimRight(seg, ". "), ".git"):
			return Invalid(field, "%q must not contain a .git segment", p)
		case isGitConfigName(seg):
			return Invalid(field, "%q must not name a .gitmodules or .gitattributes file: Git reads them as repository configuration, and hosted remotes refuse pushes that hold a malformed one", p)
		case seg == "" || seg == ".":
			return Invalid(field, "%q is not a clean path (no empty or . segments, no trailing /)", p)
		}
	}
	return nil
}

// isGitConfigName reports whether Git would read a segment as .gitmodules or
// .gitattributes: any case, trailing dots or spaces, or an NTFS short name.
func isGitConfigName(seg string) bool {
	s := strings.ToLower(strings.TrimRight(seg, ". "))
	if s == ".gitmodules" || s == ".gitattributes" {
		return true
	}
	l := strings.ToLower(seg)
	return len(l) == 8 && (strings.HasPrefix(l, "gitmod~") || strings.HasPrefix(l, "gitatt~")) && l[7] >= '1' && l[7] <= '9'
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "."
	}
	return p[:i]
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Name is the Work's name as Kratix forms it, with a deterministic suffix (see
// pathing.WorkName): e.g. redis-my-request-default-instance-configure-1a2b3.
func (w *Work) Name() string {
	if w.Resource == nil {
		return pathing.WorkName(w.Promise, "", "", w.Pipeline)
	}
	return pathing.WorkName(w.Promise, w.Resource.Namespace, w.Resource.Name, w.Pipeline)
}
