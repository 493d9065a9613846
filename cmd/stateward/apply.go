package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// source is the YAML of `-f`: the files in walk order and where each document
// of the joined body came from, to name files in messages.
type source struct {
	body  []byte
	files []string // per document index - 1: the file it came from
}

// readSource reads -f: "-" is stdin, a directory is walked recursively with names
// sorted per directory (as Kratix walks a pipeline's output), taking *.yaml and
// *.yml; all documents go into one body, so that Secret binding and "last one
// wins" work as within one file.
func readSource(path string, stdin io.Reader) (source, error) {
	var s source
	if path == "" {
		return s, usageError("-f is required: a file, a folder or - for stdin")
	}
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return s, err
		}
		s.add("stdin", b)
		return s, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return s, usageError("-f: %v", err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return s, usageError("-f: %v", err)
		}
		s.add(path, b)
		return s, nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // .git and friends
			}
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(p)); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.add(p, b)
		return nil
	})
	if err != nil {
		return s, usageError("-f: %v", err)
	}
	if len(s.files) == 0 {
		return s, usageError("-f %s: no *.yaml or *.yml documents in it", path)
	}
	return s, nil
}

func (s *source) add(name string, b []byte) {
	if len(s.body) > 0 {
		s.body = append(s.body, "---\n"...)
	}
	s.body = append(s.body, b...)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		s.body = append(s.body, '\n')
	}
	for range countDocuments(b) {
		s.files = append(s.files, name)
	}
}

// countDocuments counts the documents the server will number: parts between
// "---" lines that hold more than blank and comment lines.
func countDocuments(b []byte) int {
	n, content := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if line == "---" || strings.HasPrefix(line, "--- ") || line == "---\r" {
			if content {
				n++
			}
			content = false
			continue
		}
		if t != "" && !strings.HasPrefix(t, "#") && t != "..." {
			content = true
		}
	}
	if content {
		n++
	}
	return n
}

func (s source) fileOf(index int) string {
	if index >= 1 && index <= len(s.files) {
		return s.files[index-1]
	}
	return ""
}

// applyAnswer is the answer of POST …/apply.
type applyAnswer struct {
	DryRun  bool `json:"dryRun"`
	Results []struct {
		Index   int             `json:"index"`
		Kind    string          `json:"kind"`
		Name    string          `json:"name"`
		Action  string          `json:"action"`
		Message string          `json:"message"`
		Diff    json.RawMessage `json:"diff"`
	} `json:"results"`
	Warnings []struct {
		Index   int    `json:"index"`
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"warnings"`
}

// postApply sends the body; a dry run must come back marked as one, since a
// server that does not know dryRun would have applied it for real.
func postApply(ctx context.Context, c *client, s source, dry, diff bool) (applyAnswer, error) {
	q := url.Values{}
	if dry {
		q.Set("dryRun", "true")
	}
	if diff {
		q.Set("diff", "true")
	}
	var ans applyAnswer
	if _, err := c.call(ctx, http.MethodPost, "/apply", q, s.body, "application/yaml", &ans); err != nil {
		return ans, annotateFiles(err, s)
	}
	if dry && !ans.DryRun {
		return ans, exitWith(exitServer, "the server did not answer as a dry run (no \"dryRun\": true), so it may have applied the documents: it is older than this CLI")
	}
	return ans, nil
}

// annotateFiles adds the file name after each "document N" of an error.
func annotateFiles(err error, s source) error {
	ee, ok := err.(exitError)
	if !ok || ee.err == nil || len(s.files) == 0 {
		return err
	}
	msg := ee.err.Error()
	for i := len(s.files); i >= 1; i-- {
		msg = strings.ReplaceAll(msg, fmt.Sprintf("document %d ", i), fmt.Sprintf("document %d [%s] ", i, s.fileOf(i)))
	}
	return exitError{code: ee.code, err: fmt.Errorf("%s", msg)}
}

// changed tells whether an apply result would change (or changed) something.
func changed(action string) bool { return action != "unchanged" && action != "skipped" }

// applyCmd: stateward apply -f DIR|FILE|- [--dry-run] [--diff] [--tenant T]
func applyCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 0 {
		return usageError("usage: stateward apply -f DIR|FILE|- [--dry-run] [--diff] [--tenant SLUG]")
	}
	if err := checkFlags(e.flags, append(remoteFlags, "filename", "dry-run", "diff")...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	c, s, err := sourceAndClient(e)
	if err != nil {
		return err
	}
	dry, diff := e.flags["dry-run"] == "true", e.flags["diff"] == "true"
	if diff && !dry {
		// Show what will change, then change it.
		ans, err := postApply(ctx, c, s, true, true)
		if err != nil {
			return err
		}
		printDiffs(e.stdout, ans)
	}
	ans, err := postApply(ctx, c, s, dry, diff && dry)
	if err != nil {
		return err
	}
	printWarnings(e.stderr, ans, s)
	for _, r := range ans.Results {
		line := fmt.Sprintf("%s/%s %s", strings.ToLower(r.Kind), r.Name, r.Action)
		if ans.DryRun {
			line += " (dry run)"
		}
		if r.Message != "" {
			line += ": " + r.Message
		}
		fmt.Fprintln(e.stdout, line)
		if dry && diff && changed(r.Action) {
			printDiff(e.stdout, r.Diff)
		}
	}
	return nil
}

// diffCmd: stateward diff -f DIR — exit 1 when applying would change something.
func diffCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 0 {
		return usageError("usage: stateward diff -f DIR|FILE|- [--tenant SLUG]")
	}
	if err := checkFlags(e.flags, append(remoteFlags, "filename")...); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	c, s, err := sourceAndClient(e)
	if err != nil {
		return err
	}
	ans, err := postApply(ctx, c, s, true, true)
	if err != nil {
		return err
	}
	printWarnings(e.stderr, ans, s)
	if printDiffs(e.stdout, ans) > 0 {
		return exitError{code: exitChanges}
	}
	return nil
}

func sourceAndClient(e cliEnv) (*client, source, error) {
	s, err := readSource(e.flags["filename"], e.stdin)
	if err != nil {
		return nil, s, err
	}
	c, err := e.client()
	return c, s, err
}

// printDiffs prints every result that would change something, with its fields,
// and returns how many there are.
func printDiffs(w io.Writer, ans applyAnswer) int {
	n := 0
	for _, r := range netResults(ans) {
		if !changed(r.action) {
			continue
		}
		n++
		fmt.Fprintf(w, "%s/%s would be %s\n", strings.ToLower(r.kind), r.name, r.action)
		printDiff(w, r.diff)
	}
	return n
}

// netResult is what an apply does to one object, whatever number of documents
// named it.
type netResult struct {
	kind, name, action string
	diff               json.RawMessage
}

type fieldChange struct {
	Field  string `json:"field"`
	Old    any    `json:"old"`
	New    any    `json:"new"`
	Secret string `json:"secret,omitempty"`
}

// netResults folds the results of documents that name the same object (the
// server applies them in order, the last one wins) into one per object: each
// field from its first old value to its last new one, fields that end where they
// started dropped, so that a folder with a duplicate diffs clean right after it
// was applied.
func netResults(ans applyAnswer) []netResult {
	var order []string
	groups := map[string][]int{}
	for i, r := range ans.Results {
		k := r.Kind + "/" + r.Name
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	out := make([]netResult, 0, len(order))
	for _, k := range order {
		idx := groups[k]
		first, last := ans.Results[idx[0]], ans.Results[idx[len(idx)-1]]
		nr := netResult{kind: first.Kind, name: first.Name, action: last.Action, diff: last.Diff}
		if len(idx) == 1 {
			out = append(out, nr)
			continue
		}
		created, anyChange := false, false
		var lists [][]fieldChange
		for _, i := range idx {
			r := ans.Results[i]
			created = created || r.Action == "created"
			anyChange = anyChange || changed(r.Action)
			var fc []fieldChange
			if r.Diff != nil && json.Unmarshal(r.Diff, &fc) == nil {
				lists = append(lists, fc)
			}
		}
		switch {
		case created:
			nr.action = "created"
		case anyChange:
			nr.action = "updated"
		}
		if len(lists) == len(idx) { // every document carried its field changes
			net := composeChanges(lists)
			nr.diff, _ = json.Marshal(net)
			if !created && len(net) == 0 {
				nr.action = "unchanged"
			}
		}
		out = append(out, nr)
	}
	return out
}

func composeChanges(lists [][]fieldChange) []fieldChange {
	var fields []string
	net := map[string]*fieldChange{}
	for _, l := range lists {
		for _, c := range l {
			if n, ok := net[c.Field]; ok {
				n.New = c.New
				if c.Secret != "" {
					n.Secret = c.Secret
				}
				continue
			}
			c := c
			net[c.Field] = &c
			fields = append(fields, c.Field)
		}
	}
	out := []fieldChange{}
	for _, f := range fields {
		c := net[f]
		if c.Secret == "" && reflect.DeepEqual(c.Old, c.New) {
			continue
		}
		out = append(out, *c)
	}
	return out
}

func printWarnings(w io.Writer, ans applyAnswer, s source) {
	for _, wn := range ans.Warnings {
		where := ""
		if f := s.fileOf(wn.Index); f != "" {
			where = " [" + f + "]"
		}
		fmt.Fprintf(w, "Warning: document %d%s %s %s: %s\n", wn.Index, where, wn.Kind, wn.Name, wn.Message)
	}
}

// printDiff renders a result's diff, whatever its JSON shape: a list of
// {field|path, old|from, new|to} or a map from field to a change, each as
// "  field: old → new"; anything else as indented JSON.
func printDiff(w io.Writer, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var list []map[string]any
	if json.Unmarshal(raw, &list) == nil {
		for _, ch := range list {
			field := firstOf(ch, "field", "path", "name")
			fmt.Fprintf(w, "  %s: %s\n", field, change(ch))
		}
		return
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ch, ok := m[k].(map[string]any); ok {
				fmt.Fprintf(w, "  %s: %s\n", k, change(ch))
			} else {
				fmt.Fprintf(w, "  %s: %s\n", k, show(m[k]))
			}
		}
		return
	}
	var out bytes.Buffer
	_ = json.Indent(&out, raw, "  ", "  ")
	fmt.Fprintf(w, "  %s\n", out.String())
}

func change(ch map[string]any) string {
	if sec, ok := ch["secret"].(string); ok && sec != "" {
		return "secret value " + sec // never shown
	}
	old, hasOld := pick(ch, "old", "from")
	nw, hasNew := pick(ch, "new", "to")
	switch {
	case hasOld || hasNew:
		return show(old) + " → " + show(nw)
	case ch["change"] != nil:
		return show(ch["change"])
	}
	b, _ := json.Marshal(ch)
	return string(b)
}

func pick(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	return nil, false
}

func firstOf(m map[string]any, keys ...string) string {
	v, _ := pick(m, keys...)
	return show(v)
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
