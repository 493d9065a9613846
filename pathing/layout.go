package pathing

import (
	"slices"
	"strings"
)

// Mode is a Destination's filepath mode: how a Work's files are laid out under S/D.
type Mode string

// The filepath modes. The zero value means ModeNested, as in Kratix.
const (
	ModeNested     Mode = "nestedByMetadata"
	ModeAggregated Mode = "aggregatedYAML"
	ModeNone       Mode = "none"
	ModeLegacy     Mode = "legacy"
)

// DefaultFilename is the aggregatedYAML file name when a Destination sets none.
const DefaultFilename = "aggregated.yaml"

// Destination is what the layout needs to know of a Destination.
type Destination struct {
	// Name is the Destination's name; only the legacy layout puts it in paths.
	Name string
	// Path is the destination path inside the store; "", "." and "/" mean the root.
	Path string
	// Mode is the filepath mode; empty means ModeNested.
	Mode Mode
	// Filename is the aggregatedYAML file, relative to S/D; empty means DefaultFilename.
	Filename string
}

// File is a path and its content. As Layout input, Path is relative to the pipeline
// output root; as output it is a full key inside the store. Layout shares Content
// slices with its input rather than copying them.
type File struct {
	Path    string
	Content []byte
}

// Group is one workload group of a Work: the identity of the Work and the files the
// group holds.
type Group struct {
	Promise string
	// Namespace and Resource name the resource request; both empty means promise
	// dependencies, exactly one empty is an error.
	Namespace, Resource string
	// Pipeline is optional.
	Pipeline string
	// Directory is the group's directory ("" means "."). Files must lie under it
	// ("foo/x.yaml" in group "foo") and keep that prefix in their keys.
	Directory string
	Files     []File
}

// Plan is what one placement writes, as full store keys.
type Plan struct {
	// Files are the keys and contents to write (nestedByMetadata, legacy, none),
	// sorted by key.
	Files []File
	// OwnedPrefix (nestedByMetadata, legacy) is a directory ending in "/" that the
	// placement owns wholly: every existing key under it that is not in Files is stale.
	OwnedPrefix string
	// StateFile (none) is S/D/.kratix/<namespace>-<placement>.yaml listing the files
	// written in the Work's order, as Kratix does: relative to S, with D in front
	// (see ParseStateFile).
	StateFile *File
	// Aggregate (aggregatedYAML) is this placement's contribution to Target; the
	// writer rebuilds Target from every live placement with Aggregated.
	Aggregate *AggregatePart
	// Target (aggregatedYAML) is the one key S/D/<filename>.
	Target string
}

// Claim is one key a plan wants in its store. An owned directory (Dir) is
// claimed by its path without the trailing "/"; a Shared claim (an
// aggregatedYAML target) may be held by several placements at once.
type Claim struct {
	Key         string
	Dir, Shared bool
}

// Claims returns every key the plan wants in its store, in this order: Files,
// StateFile, the owned directory (Dir), Target (Shared). It is the one place a
// placement's keys are computed: Keys, the key claims kept in the database and
// the writers' own-key check all derive from it.
func (p Plan) Claims() []Claim {
	out := make([]Claim, 0, len(p.Files)+2)
	for _, f := range p.Files {
		out = append(out, Claim{Key: f.Path})
	}
	if p.StateFile != nil {
		out = append(out, Claim{Key: p.StateFile.Path})
	}
	if dir := strings.TrimSuffix(p.OwnedPrefix, "/"); dir != "" {
		out = append(out, Claim{Key: dir, Dir: true})
	}
	if p.Target != "" {
		out = append(out, Claim{Key: p.Target, Shared: true})
	}
	return out
}

// Keys returns every key the plan writes: Files, then StateFile, then Target
// (its Claims but the owned directory).
func (p Plan) Keys() []string {
	return p.keys(func(c Claim) bool { return !c.Dir })
}

// OwnKeys returns the keys the plan writes alone: Files and StateFile (its
// Claims but the owned directory and the shared Target).
func (p Plan) OwnKeys() []string {
	return p.keys(func(c Claim) bool { return !c.Dir && !c.Shared })
}

func (p Plan) keys(keep func(Claim) bool) []string {
	keys := make([]string, 0, len(p.Files)+1)
	for _, c := range p.Claims() {
		if keep(c) {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

// Layout computes where the placement named placementName of group g on Destination d
// writes, in a store whose path is storePath. It fails with a *PathError naming the
// first offending input; see the package comment for the layouts and the rules.
func Layout(storePath string, d Destination, placementName string, g Group) (Plan, error) {
	in, err := prepare(storePath, d, placementName, g)
	if err != nil {
		return Plan{}, err
	}
	var plan Plan
	switch in.mode {
	case ModeNested:
		plan = in.owned(in.nestedDir())
	case ModeLegacy:
		plan = in.owned(in.legacyDir())
	case ModeNone:
		plan = in.none()
	case ModeAggregated:
		plan = in.aggregated()
	}
	if err := in.verify(plan); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// input is a validated, cleaned Layout request.
type input struct {
	root, placement, destName, filename string
	destPath                            string // as given (mode none's state file uses it)
	mode                                Mode
	promise, namespace, resource        string
	pipeline, dir                       string
	files                               []item // sorted by rel
	ordered                             []item // in the Work's order
}

// item is one input file: rel is its clean path, orig the path as given.
type item struct {
	rel, orig string
	content   []byte
}

func prepare(storePath string, d Destination, placementName string, g Group) (*input, error) {
	in := &input{placement: placementName, destName: d.Name, destPath: d.Path, promise: g.Promise,
		namespace: g.Namespace, resource: g.Resource, pipeline: g.Pipeline}
	var err error
	if in.root, err = Root(storePath, d.Path); err != nil {
		return nil, err
	}
	if in.mode, err = resolveMode(d.Mode); err != nil {
		return nil, err
	}
	if err = in.checkDestination(d); err != nil {
		return nil, err
	}
	if err = in.checkIdentity(); err != nil {
		return nil, err
	}
	if in.dir, err = cleanDirectory(g.Directory); err != nil {
		return nil, err
	}
	if in.ordered, err = in.cleanFiles(g.Files); err != nil {
		return nil, err
	}
	in.files = slices.Clone(in.ordered)
	slices.SortFunc(in.files, func(a, b item) int { return strings.Compare(a.rel, b.rel) })
	return in, nil
}

func resolveMode(m Mode) (Mode, error) {
	switch m {
	case "":
		return ModeNested, nil
	case ModeNested, ModeAggregated, ModeNone, ModeLegacy:
		return m, nil
	}
	return "", newError(FieldMode, string(m), "must be nestedByMetadata, aggregatedYAML, none or legacy")
}

func (in *input) checkDestination(d Destination) error {
	if err := checkName(FieldPlacement, in.placement); err != nil {
		return err
	}
	if in.mode == ModeLegacy {
		if err := checkName(FieldDestName, d.Name); err != nil {
			return err
		}
	}
	if in.mode != ModeAggregated {
		return nil
	}
	name := d.Filename
	if name == "" {
		name = DefaultFilename
	}
	clean, err := CleanFile(name)
	if err != nil {
		return newError(FieldFilename, name, err.(*PathError).Reason)
	}
	in.filename = clean
	return nil
}

func (in *input) checkIdentity() error {
	if err := checkName(FieldPromise, in.promise); err != nil {
		return err
	}
	if in.pipeline != "" {
		if err := checkName(FieldPipeline, in.pipeline); err != nil {
			return err
		}
	}
	if in.namespace == "" && in.resource == "" {
		return nil
	}
	if err := checkName(FieldNamespace, in.namespace); err != nil {
		return err
	}
	return checkName(FieldResource, in.resource)
}

// cleanDirectory validates a group directory; "" and "." give ".".
func cleanDirectory(dir string) (string, error) {
	if strings.HasPrefix(dir, "/") {
		return "", newError(FieldDirectory, dir, reasonAbsolute)
	}
	clean, err := cleanPath(FieldDirectory, dir)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return ".", nil
	}
	return clean, nil
}

// cleanFiles validates every file and rejects duplicates and a file that is also
// another file's directory. It keeps the Work's order.
func (in *input) cleanFiles(files []File) ([]item, error) {
	items := make([]item, 0, len(files))
	seen := make(map[string]string, len(files))
	for _, f := range files {
		it, err := in.cleanFile(f)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[it.rel]; dup {
			return nil, newError(FieldFile, f.Path, "duplicate of file "+quote(first))
		}
		seen[it.rel] = f.Path
		items = append(items, it)
	}
	for _, it := range items {
		if err := fileUnderFile(it, seen); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func (in *input) cleanFile(f File) (item, error) {
	rel, err := CleanFile(f.Path)
	if err != nil {
		return item{}, err
	}
	if in.dir != "." && !strings.HasPrefix(rel, in.dir+"/") {
		return item{}, newError(FieldFile, f.Path, "is not under the group's directory "+quote(in.dir))
	}
	first, _, _ := strings.Cut(rel, "/")
	if in.mode == ModeNone && strings.EqualFold(first, kratixDir) {
		return item{}, newError(FieldFile, f.Path, reasonKratixDir)
	}
	return item{rel: rel, orig: f.Path, content: f.Content}, nil
}

// fileUnderFile rejects "a/b" when "a" is a file too: no store can hold both.
func fileUnderFile(it item, seen map[string]string) error {
	for i := range len(it.rel) {
		if it.rel[i] != '/' {
			continue
		}
		if other, ok := seen[it.rel[:i]]; ok {
			return newError(FieldFile, it.orig, "is inside file "+quote(other))
		}
	}
	return nil
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(shorten(s), `"`, `\"`) + `"`
}

// nestedDir is the group directory of the nestedByMetadata layout (no trailing "/").
func (in *input) nestedDir() string {
	id := GroupID(in.dir)
	if in.resource == "" {
		return joinKey(in.root, dependenciesDir, in.promise, in.pipeline, id)
	}
	return joinKey(in.root, resourcesDir, in.namespace, in.promise, in.resource, in.pipeline, id)
}

// legacyDir is the promise or resource directory of the legacy layout.
func (in *input) legacyDir() string {
	if in.resource == "" {
		return joinKey(in.root, in.destName, dependenciesDir, in.promise)
	}
	return joinKey(in.root, in.destName, resourcesDir, in.namespace, in.promise, in.resource)
}

// owned lays files out under dir, which the placement owns wholly.
func (in *input) owned(dir string) Plan {
	return Plan{Files: in.under(dir), OwnedPrefix: dir + "/"}
}

func (in *input) under(dir string) []File {
	out := make([]File, len(in.files))
	for i, it := range in.files {
		out[i] = File{Path: joinKey(dir, it.rel), Content: it.content}
	}
	return out
}

// verify re-checks every key the plan holds: inside S/D, clean, and clear of the
// canary files.
func (in *input) verify(p Plan) error {
	canaries := canaryKeys(in.root, in.destName, in.mode)
	for i, f := range p.Files {
		if err := verifyKey(in.root, f.Path, in.files[i].orig, canaries); err != nil {
			return err
		}
	}
	if p.StateFile != nil {
		if err := verifyKey(in.root, p.StateFile.Path, in.placement, canaries); err != nil {
			return newError(FieldPlacement, in.placement, err.(*PathError).Reason)
		}
	}
	if p.Target != "" {
		if err := verifyKey(in.root, p.Target, in.filename, canaries); err != nil {
			return newError(FieldFilename, in.filename, err.(*PathError).Reason)
		}
	}
	return nil
}

func verifyKey(root, key, input string, canaries [2]string) error {
	if err := checkKey(root, key, input); err != nil {
		return err
	}
	for _, c := range canaries {
		if key == c || strings.HasPrefix(key, c+"/") || strings.HasPrefix(c, key+"/") {
			return newError(FieldFile, input, "collides with the canary file "+quote(c))
		}
	}
	return nil
}
