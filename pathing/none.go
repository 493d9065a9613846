package pathing

import (
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v2"
)

// kratixDir holds mode none's state files, one per placement.
const kratixDir = ".kratix"

// none lays files out at S/D/<file> and adds the placement's state file
// S/D/.kratix/<namespace>-<placement>.yaml, as Kratix does
// (internal/controller/workplacement_controller.go generateKratixStateFile).
func (in *input) none() Plan {
	ns := in.namespace
	if in.resource == "" {
		ns = PlatformNamespace
	}
	entries := make([]string, len(in.ordered))
	for i, it := range in.ordered {
		entries[i] = stateFileEntry(in.destPath, it.rel)
	}
	state := File{
		Path:    joinKey(in.root, kratixDir, ns+"-"+in.placement+".yaml"),
		Content: stateFileContent(entries),
	}
	return Plan{Files: in.under(in.root), StateFile: &state}
}

// stateFile is Kratix's StateFile (workplacement_controller.go).
type stateFile struct {
	Files []string `yaml:"files"`
}

// stateFileEntry is how Kratix lists a file in a state file:
// filepath.Join(<destination path> + "/", <file>), so relative to the store path,
// with the Destination path in front ("." adds nothing, "/" keeps a leading "/").
func stateFileEntry(destPath, rel string) string {
	if destPath == "" {
		destPath = "."
	}
	return path.Join(destPath+"/", rel)
}

// stateFileContent renders a state file exactly as Kratix does: gopkg.in/yaml.v2's
// Marshal of StateFile, whose maintained fork go.yaml.in/yaml/v2 this is. Using the
// same encoder (rather than re-implementing its quoting and 80-column folding)
// keeps the bytes equal for every file name. entries are in the Work's order.
func stateFileContent(entries []string) []byte {
	if entries == nil {
		entries = []string{} // Kratix marshals a non-nil slice: "files: []"
	}
	out, err := yaml.Marshal(stateFile{Files: entries})
	if err != nil {
		// Marshal fails only for values that are not plain data; a list of valid
		// UTF-8 strings always encodes.
		panic(fmt.Sprintf("pathing: marshal state file: %v", err))
	}
	return out
}

// ParseStateFile reads a mode none state file (files: [...]), as written by Layout or
// by Kratix, and returns the paths it lists in its order, cleaned and relative to the
// store path: each has the Destination path in front; a leading "/" (Kratix writes
// one for a Destination whose path is "/") is dropped. Join them with the store
// path, or use StateFileKeys, to get store keys. A state file read back from a store
// is untrusted input: an entry that is empty or not a safe relative path (see
// CleanFile) is an error naming it.
func ParseStateFile(content []byte) ([]string, error) {
	var sf stateFile
	if err := yaml.Unmarshal(content, &sf); err != nil {
		return nil, newError(FieldStateFile, shorten(string(content)), "is not a state file (files: [...]): "+err.Error())
	}
	out := make([]string, 0, len(sf.Files))
	for _, f := range sf.Files {
		clean, err := CleanFile(strings.TrimLeft(f, "/"))
		if err != nil {
			return nil, newError(FieldStateFile, f, err.(*PathError).Reason)
		}
		out = append(out, clean)
	}
	return out, nil
}

// StateFileKeys returns the store keys a state file of Destination d lists, in its
// order: ParseStateFile's paths joined with the store path. Every key must lie inside
// S/D, the only place a placement on d writes; a state file listing anything else
// (hand-edited, or listing paths relative to S/D as Stateward did before it followed
// Kratix) is an error, so a caller never deletes a file outside the Destination.
func StateFileKeys(storePath string, d Destination, content []byte) ([]string, error) {
	root, err := Root(storePath, d.Path)
	if err != nil {
		return nil, err
	}
	s, _ := cleanPath(FieldStorePath, storePath) // Root checked it
	paths, err := ParseStateFile(content)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(paths))
	for i, p := range paths {
		keys[i] = joinKey(s, p)
		if err := checkKey(root, keys[i], p); err != nil {
			return nil, newError(FieldStateFile, p, "is not inside the Destination's directory "+quote(root))
		}
	}
	return keys, nil
}
