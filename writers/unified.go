package writers

import (
	"fmt"
	"strings"
)

// unifiedContext is the number of unchanged lines shown around a change.
const unifiedContext = 3

// maxDiffEdits bounds the work and memory of one diff: two files further apart
// than this many line edits are shown as all of the old lines removed and all of
// the new added.
const maxDiffEdits = 500

// unifiedDiff renders the change from old to new of key as a unified diff (as
// `diff -u` and `git diff` write it), "" when they are equal.
func unifiedDiff(key string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b := splitLines(string(old)), splitLines(string(new))
	ops := diffLines(a, b)
	var out strings.Builder
	fmt.Fprintf(&out, "--- a/%s\n+++ b/%s\n", key, key)
	for _, h := range hunks(ops) {
		writeHunk(&out, h, a, b)
	}
	return out.String()
}

// splitLines splits s after each "\n"; the last line keeps no newline when s does
// not end in one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// op is one step of an edit script: keep a[i] (= b[j]), delete a[i] or insert b[j].
type op struct {
	kind byte // ' ', '-' or '+'
	i, j int  // line indexes in a and b before this step
}

// diffLines returns a shortest edit script from a to b (Myers' algorithm), or,
// beyond maxDiffEdits, the script that deletes all of a and inserts all of b.
func diffLines(a, b []string) []op {
	trace, ok := myers(a, b)
	if !ok {
		var ops []op
		for i := range a {
			ops = append(ops, op{'-', i, 0})
		}
		for j := range b {
			ops = append(ops, op{'+', len(a), j})
		}
		return ops
	}
	return backtrack(trace, a, b)
}

// myers runs the forward pass and keeps, for each round d, the furthest reaching
// points of the rounds before it.
func myers(a, b []string) ([][]int, bool) {
	n, m := len(a), len(b)
	limit := min(n+m, maxDiffEdits)
	offset := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int
	for d := 0; d <= limit; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1]
			} else {
				x = v[offset+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[offset+k] = x
			if x >= n && y >= m {
				return trace, true
			}
		}
	}
	return nil, false
}

// backtrack turns the trace of myers into an edit script, first step first.
func backtrack(trace [][]int, a, b []string) []op {
	x, y := len(a), len(b)
	offset := (len(trace[0])-3)/2 + 1
	var rev []op
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[offset+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			rev = append(rev, op{' ', x, y})
		}
		if d > 0 {
			if x == prevX {
				rev = append(rev, op{'+', x, prevY})
			} else {
				rev = append(rev, op{'-', prevX, y})
			}
		}
		x, y = prevX, prevY
	}
	ops := make([]op, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	return ops
}

// hunks groups an edit script into runs of changes with their context.
func hunks(ops []op) [][]op {
	var out [][]op
	start := -1
	last := -1 // index of the last change in the current hunk
	for i, o := range ops {
		if o.kind == ' ' {
			continue
		}
		if start >= 0 && i-last-1 > 2*unifiedContext {
			out = append(out, ops[start:min(len(ops), last+1+unifiedContext)])
			start = -1
		}
		if start < 0 {
			start = max(0, i-unifiedContext)
		}
		last = i
	}
	if start >= 0 {
		out = append(out, ops[start:min(len(ops), last+1+unifiedContext)])
	}
	return out
}

func writeHunk(out *strings.Builder, h []op, a, b []string) {
	var oldLen, newLen int
	for _, o := range h {
		if o.kind != '+' {
			oldLen++
		}
		if o.kind != '-' {
			newLen++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(h[0].i, oldLen), hunkRange(h[0].j, newLen))
	for _, o := range h {
		line := ""
		switch o.kind {
		case '+':
			line = b[o.j]
		default:
			line = a[o.i]
		}
		out.WriteByte(o.kind)
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange is "start,count" with 1-based lines; an empty range names the line
// before it, as diff -u does.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}
