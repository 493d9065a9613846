package pathing

import (
	"encoding/json"
	"strings"
)

// kratixDir holds mode none's state files, one per placement.
const kratixDir = ".kratix"

// none lays files out at S/D/<file> and adds the placement's state file.
func (in *input) none() Plan {
	ns := in.namespace
	if in.resource == "" {
		ns = PlatformNamespace
	}
	state := File{
		Path:    joinKey(in.root, kratixDir, ns+"-"+in.placement+".yaml"),
		Content: stateFileContent(in.files),
	}
	return Plan{Files: in.under(in.root), StateFile: &state}
}

// stateFileContent renders `files:` as a YAML block list in the style Kratix writes
// (sigs.k8s.io/yaml), "files: []" when empty. items are already sorted.
func stateFileContent(items []item) []byte {
	if len(items) == 0 {
		return []byte("files: []\n")
	}
	var b strings.Builder
	b.WriteString("files:\n")
	for _, it := range items {
		b.WriteString("- ")
		b.WriteString(yamlString(it.rel))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// yamlString writes s as a plain YAML scalar when that is unambiguous and as a
// double-quoted (JSON) string otherwise. Plain is used only for [A-Za-z0-9._/-]
// strings starting with a letter that are not a YAML 1.1 boolean or null, so a
// plain scalar can never be read back as a number, boolean, null or anything but s.
func yamlString(s string) string {
	if isPlainSafe(s) {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func isPlainSafe(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && !strings.ContainsRune("._/-", rune(c)) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
