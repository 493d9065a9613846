package tenants

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// GroupRole maps an identity provider group to a role in one tenant: a person
// whose ID token lists the group at sign-in has the role (or their own, if
// higher). The groups are read again at every sign-in.
type GroupRole struct {
	Group string `json:"group"`
	Role  Role   `json:"role"`
}

// MaxGroupRoles bounds the mappings of one tenant.
const MaxGroupRoles = 100

// ParseGroupRoles reads the settings text: one "group = role" per line; blank lines
// and lines starting with # are skipped. Errors name the field and the line.
func ParseGroupRoles(field, text string) ([]GroupRole, error) {
	var out []GroupRole
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		eq := strings.LastIndex(line, "=")
		if eq < 0 {
			return nil, Invalid(field, "line %d: write group = role, e.g. platform-admins = editor", i+1)
		}
		g := GroupRole{Group: strings.TrimSpace(line[:eq]), Role: Role(strings.TrimSpace(line[eq+1:]))}
		if err := g.validate(field, fmt.Sprintf("line %d: ", i+1)); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, ValidateGroupRoles(field, out)
}

// ValidateGroupRoles checks a whole mapping: valid names and roles, each group once.
func ValidateGroupRoles(field string, gs []GroupRole) error {
	if len(gs) > MaxGroupRoles {
		return Invalid(field, "at most %d group mappings", MaxGroupRoles)
	}
	seen := map[string]bool{}
	for i, g := range gs {
		if err := g.validate(field, fmt.Sprintf("mapping %d: ", i+1)); err != nil {
			return err
		}
		if seen[g.Group] {
			return Invalid(field, "group %q is mapped twice", g.Group)
		}
		seen[g.Group] = true
	}
	return nil
}

func (g GroupRole) validate(field, where string) error {
	if g.Group == "" || len(g.Group) > 256 || strings.IndexFunc(g.Group, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return Invalid(field, "%sa group name is 1-256 characters without control characters", where)
	}
	if _, err := ParseRole(field, string(g.Role)); err != nil {
		return Invalid(field, "%srole %q must be one of owner, editor, viewer", where, g.Role)
	}
	return nil
}

// FormatGroupRoles is the settings text of a mapping, sorted by group.
func FormatGroupRoles(gs []GroupRole) string {
	lines := make([]string, len(gs))
	for i, g := range gs {
		lines[i] = g.Group + " = " + string(g.Role)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Higher returns the more powerful of two roles.
func Higher(a, b Role) Role {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Lower is the weaker of two roles; "" (no role) is weaker than any.
func Lower(a, b Role) Role {
	if b.rank() < a.rank() {
		return b
	}
	return a
}

// GroupsFromClaim reads a groups claim value: a list of strings, or one string.
func GroupsFromClaim(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}
