package tenants

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// FieldChange is one field an apply changes, as `kubectl diff` shows it: the
// field's path in the Kratix document (`spec.url`, `metadata.labels.env`) and its
// old and new value, null where the field is not set. A secret value is never
// shown: for a Secret's keys and a store's credentials, Old and New are the
// marker SecretHidden (or null where there is no value) and Secret says what
// happens to it: "added", "changed" or "removed".
type FieldChange struct {
	Field  string `json:"field"`
	Old    any    `json:"old"`
	New    any    `json:"new"`
	Secret string `json:"secret,omitempty"`
}

// SecretHidden stands for a secret value in a FieldChange.
const SecretHidden = "(hidden)"

// ObjectState is what a diff compares of one object: its Kratix document as flat
// fields, and its secret values, compared but never shown.
type ObjectState struct {
	Fields  map[string]any
	Secrets map[string]string
}

// KratixState is the state of an object from its Kratix document (see
// KratixObject) and its secret values, keyed by the field they show as.
func KratixState(kratix any, secrets map[string]string) ObjectState {
	st := ObjectState{Fields: map[string]any{}, Secrets: secrets}
	b, err := json.Marshal(kratix)
	if err != nil {
		return st
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		flatten("", v, st.Fields)
	}
	return st
}

func flatten(prefix string, v any, out map[string]any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		for i, e := range t {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	case nil:
	default:
		out[prefix] = t
	}
}

// DiffStates lists the fields that differ from old to new, by field name. A
// zero ObjectState is an object that does not exist.
func DiffStates(old, new ObjectState) []FieldChange {
	changes := []FieldChange{}
	for _, f := range unionKeys(old.Fields, new.Fields) {
		o, oldOK := old.Fields[f]
		n, newOK := new.Fields[f]
		if oldOK && newOK && o == n {
			continue
		}
		changes = append(changes, FieldChange{Field: f, Old: o, New: n})
	}
	for _, f := range unionKeys(old.Secrets, new.Secrets) {
		o, oldOK := old.Secrets[f]
		n, newOK := new.Secrets[f]
		c := FieldChange{Field: f}
		switch {
		case oldOK && newOK && o == n:
			continue
		case !oldOK:
			c.New, c.Secret = SecretHidden, "added"
		case !newOK:
			c.Old, c.Secret = SecretHidden, "removed"
		default:
			c.Old, c.New, c.Secret = SecretHidden, SecretHidden, "changed"
		}
		changes = append(changes, c)
	}
	slices.SortStableFunc(changes, func(a, b FieldChange) int {
		switch {
		case a.Field < b.Field:
			return -1
		case a.Field > b.Field:
			return 1
		}
		return 0
	})
	return changes
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
