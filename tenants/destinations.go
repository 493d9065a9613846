package tenants

import (
	"sort"
	"strings"
	"time"

	"github.com/stateward/stateward/pathing"
)

// Filepath modes; "legacy" is Stateward's extra value for the layout the Kratix docs
// page still describes.
const (
	ModeNested     = "nestedByMetadata"
	ModeAggregated = "aggregatedYAML"
	ModeNone       = "none"
	ModeLegacy     = "legacy"
)

// Cleanup policies for a deleted Destination.
const (
	CleanupNone = "none"
	CleanupAll  = "all"
)

// DryRunLabel marks a dry-run Destination when its value is "true": it receives only
// the Works whose selectors include the label (Kratix's v1alpha1.DryRunLabel,
// api/v1alpha1/work_types.go; scheduler.go getDestinationsForWorkloadGroup).
const DryRunLabel = "kratix.io/dry-run"

// DefaultAggregatedFilename is the file aggregatedYAML writes unless told otherwise.
const DefaultAggregatedFilename = "aggregated.yaml"

// Destination is a place a GitOps agent reads from: a path in a State Store, with
// labels that scheduling matches against.
type Destination struct {
	ID                int64
	TenantID          int64
	Name              string
	Labels            map[string]string
	Path              string
	StoreKind         string
	StoreName         string
	StrictMatchLabels bool
	Mode              string
	Filename          string
	Cleanup           string
	InitWorkloads     bool
	Status            Status
	// Waiting, when set, says why nothing can be written to the Destination yet:
	// its State Store, or that store's Secret, does not exist (objects apply in any
	// order). Read from the database, never saved; scheduling holds new
	// placements back until it clears.
	Waiting   string
	UpdatedAt time.Time
}

// IsDryRun reports whether d is a dry-run Destination (label kratix.io/dry-run: "true").
func (d *Destination) IsDryRun() bool { return d.Labels[DryRunLabel] == "true" }

// Normalize fills defaults the way Kratix does.
func (d *Destination) Normalize() {
	d.Path = strings.TrimSpace(d.Path)
	if d.Mode == "" {
		d.Mode = ModeNested
	}
	if d.Mode == ModeAggregated && d.Filename == "" {
		d.Filename = DefaultAggregatedFilename
	}
	if d.Mode != ModeAggregated {
		d.Filename = ""
	}
	if d.Cleanup == "" {
		d.Cleanup = CleanupNone
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
}

// Validate checks every field of a Destination.
func (d *Destination) Validate() error {
	var es ValidationErrors
	_ = es.Add(ValidateName("metadata.name", d.Name))
	_ = es.Add(ValidateLabels("metadata.labels", d.Labels))
	if d.Path == "" {
		_ = es.Add(Invalid("spec.path", "is required; use \".\" for the root of the State Store"))
	} else {
		_ = es.Add(validateStorePath("spec.path", d.Path))
	}
	switch {
	case d.StoreKind == "" && d.StoreName == "":
		// One missing reference is one problem, not one per part of it.
		_ = es.Add(Invalid("spec.stateStoreRef", "is required (its kind and name)"))
	case d.StoreKind == "":
		_ = es.Add(Invalid("spec.stateStoreRef.kind", "is required (GitStateStore or BucketStateStore)"))
	case d.StoreKind != KindGit && d.StoreKind != KindBucket:
		_ = es.Add(Invalid("spec.stateStoreRef.kind", "%q must be GitStateStore or BucketStateStore", d.StoreKind))
	}
	if d.StoreName != "" || d.StoreKind != "" {
		_ = es.Add(ValidateName("spec.stateStoreRef.name", d.StoreName))
	}
	switch d.Mode {
	case ModeNested, ModeAggregated, ModeNone, ModeLegacy:
	default:
		_ = es.Add(Invalid("spec.filepath.mode", "must be nestedByMetadata, aggregatedYAML, none or legacy"))
	}
	if d.Mode == ModeAggregated {
		f := d.Filename
		if strings.ContainsAny(f, "/\\\x00") || f == "." || f == ".." || strings.HasPrefix(f, ".") {
			_ = es.Add(Invalid("spec.filepath.filename", "%q must be a plain file name", f))
		}
	}
	switch d.Cleanup {
	case CleanupNone, CleanupAll:
	default:
		_ = es.Add(Invalid("spec.cleanup", "must be none or all"))
	}
	return es.Err()
}

// SortedLabels returns the labels as "k=v" strings in key order, for display.
func (d *Destination) SortedLabels() []string {
	out := make([]string, 0, len(d.Labels))
	for k, v := range d.Labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ParseLabelSelector parses "env=dev,team=a" (the dashboard's filter) into a map.
func ParseLabelSelector(field, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, Invalid(field, "%q: use key=value", part)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, ValidateLabels(field, out)
}

// Matches reports whether every selector label is on the Destination (equality,
// subset: Kubernetes matchLabels).
func Matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Overlaps reports whether two Destinations on one store would write into each
// other's directories: equal paths, or one nested in the other (Kratix only catches
// equal strings). Legacy Destinations add their name below the path, so two legacy
// Destinations at "." do not collide.
func (d *Destination) Overlaps(o *Destination) bool {
	a, errA := pathing.DestinationDir(d.Pathing())
	b, errB := pathing.DestinationDir(o.Pathing())
	if errA != nil || errB != nil {
		return true
	}
	return pathing.Overlap(a, b)
}

// Pathing is the Destination as package pathing sees it (the one conversion).
func (d *Destination) Pathing() pathing.Destination {
	return pathing.Destination{Name: d.Name, Path: d.Path, Mode: pathing.Mode(d.Mode), Filename: d.Filename}
}
