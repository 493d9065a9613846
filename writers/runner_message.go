package writers

import (
	"fmt"
	"slices"
	"strings"
)

// message names what the Batch changes, as Kratix does for one placement
// ("Update from: <placement>", "Delete from: <placement>") and as a summary for
// several.
func (jb *jobBatch) message() string {
	names := append(slices.Clone(jb.writes), jb.deletes...)
	slices.Sort(names)
	names = slices.Compact(names)
	switch {
	case len(names) == 1 && len(jb.writes) == 1:
		return "Update from: " + names[0]
	case len(names) == 1:
		return "Delete from: " + names[0]
	case len(names) > 1:
		return fmt.Sprintf("Update %d placements: %s", len(names), summarize(names, 3))
	}
	return "Update canary files of: " + summarize(jb.canaryDests, 3)
}

// summarize lists the first n names and says how many more there are.
func summarize(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
