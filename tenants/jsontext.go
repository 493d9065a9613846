package tenants

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckJSONText refuses what encoding/json would silently rewrite: a string with
// invalid UTF-8 or a lone surrogate escape (decoded as U+FFFD), and an object with
// the same key twice (the last would win). The error is a *SyntaxError naming the
// JSON path of the value, e.g. workloadGroups[0].files[1].content. Malformed JSON
// is left to the decoder's own error (nil here).
func CheckJSONText(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*jsonFrame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF, or malformed: the decoder reports it
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].advance()
			}
			continue
		}
		raw := body[start:dec.InputOffset()]
		if k, ok := tok.(string); ok && top != nil && top.object && !top.hasKey {
			if err := checkString(raw, k, top.keyPath(k)); err != nil {
				return err
			}
			if top.keys[k] {
				return &SyntaxError{Offset: dec.InputOffset(), Field: top.keyPath(k), Message: fmt.Sprintf("duplicate key %q", k)}
			}
			top.keys[k], top.key, top.hasKey = true, k, true
			continue
		}
		path := top.childPath()
		switch t := tok.(type) {
		case json.Delim: // '{' or '['
			stack = append(stack, &jsonFrame{path: path, object: t == '{', index: -1, keys: map[string]bool{}})
			continue
		case string:
			if err := checkString(raw, t, path); err != nil {
				return err
			}
		}
		if top != nil {
			top.advance()
		}
	}
}

// checkString reports a string value whose decoding replaced bytes with U+FFFD.
func checkString(raw []byte, decoded, field string) error {
	if !utf8.Valid(raw) {
		return &SyntaxError{Field: field, Message: "invalid UTF-8; send the text as UTF-8"}
	}
	if strings.ContainsRune(decoded, utf8.RuneError) && !bytes.ContainsRune(raw, utf8.RuneError) &&
		!bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`)) {
		return &SyntaxError{Field: field, Message: "a \\u escape is a lone UTF-16 surrogate, not a character"}
	}
	return nil
}

// jsonFrame is one open object or array while walking the tokens.
type jsonFrame struct {
	path   string
	object bool
	index  int    // arrays: the current element
	key    string // objects: the current key
	hasKey bool   // objects: a key was read and its value is next
	keys   map[string]bool
}

// advance marks the end of one value in f.
func (f *jsonFrame) advance() {
	if f.object {
		f.hasKey = false
	}
}

func (f *jsonFrame) keyPath(k string) string {
	if f.path == "" {
		return k
	}
	return f.path + "." + k
}

// childPath is the path of the value about to be read inside f ("" at the top).
func (f *jsonFrame) childPath() string {
	if f == nil {
		return ""
	}
	if f.object {
		return f.keyPath(f.key)
	}
	f.index++
	return fmt.Sprintf("%s[%d]", f.path, f.index)
}
