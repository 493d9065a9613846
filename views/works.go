package views

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stateward/stateward/tenants"
)

// WorkFields are the Work form's simple fields (the file rows are rendered
// separately), in order.
func WorkFields(p WorkFormProps) []FieldProps {
	es := p.Errors
	return []FieldProps{
		{Name: "promise", Label: "Promise", Value: p.Promise, Error: es.For("promise"), Required: true, Mono: true,
			Placeholder: "redis", Autocomplete: "off"},
		{Name: "resource.namespace", Label: "Resource namespace", Value: p.Namespace, Mono: true,
			Error: es.For("resource.namespace"), Placeholder: "default", Autocomplete: "off"},
		{Name: "resource.name", Label: "Resource name", Value: p.Resource, Mono: true,
			Error: es.For("resource.name"), Placeholder: "my-request", Autocomplete: "off"},
		{Name: "pipeline", Label: "Pipeline", Value: p.Pipeline, Error: es.For("pipeline"), Mono: true,
			Placeholder: "optional", Autocomplete: "off", Help: "Adds a level to the paths; one Work per pipeline."},
		{Name: "destinationSelectors", Label: "Destination selectors", Value: p.Selectors, Mono: true,
			Error: es.For("destinationSelectors"), Placeholder: "environment=dev,team=a", Autocomplete: "off",
			Help: "Comma-separated key=value labels a Destination must all have. Empty: every Destination " +
				"without strict label matching."},
		{Name: "labels", Label: "Labels", Value: p.Labels, Mono: true,
			Error: es.For("labels"), Placeholder: "jira=OPS-123", Autocomplete: "off",
			Help: "Comma-separated key=value labels of the Work itself: commit message templates can use them."},
	}
}

// fileRow is one rendered file row with the errors that belong to it.
type fileRow struct {
	Path, Content string
	Errors        []string
}

// fileRowPrefix is the error key prefix of the i-th file of the form's group.
func fileRowPrefix(i int) string { return "workloadGroups[0].files[" + strconv.Itoa(i) + "]" }

// workFileRows are the form's file rows, one empty row when there are none.
func workFileRows(p WorkFormProps) []fileRow {
	files := p.Files
	if len(files) == 0 {
		files = []WorkFileInput{{}}
	}
	rows := make([]fileRow, len(files))
	for i, f := range files {
		rows[i] = fileRow{Path: f.Path, Content: f.Content}
	}
	for _, e := range p.Errors {
		if row, part := workErrorRow(e.Field, len(rows)); row >= 0 {
			rows[row].Errors = append(rows[row].Errors, rowErrorText(part, e.Message))
		}
	}
	return rows
}

// workErrorRow is the one mapping from a Work's internal field names
// (workloadGroups[0].files[1].path) to the Work form: the file row an error
// belongs to and the part of the row it names ("path", "content"; "" for the
// whole row), or row -1 for an error about anything else. Write (errors next to
// the rows) and Preview plan (WorkErrorText) both name fields through it.
func workErrorRow(field string, rows int) (row int, part string) {
	for i := range rows {
		if rest, ok := strings.CutPrefix(field, fileRowPrefix(i)); ok && (rest == "" || rest[0] == '.') {
			return i, strings.TrimPrefix(rest, ".")
		}
	}
	return -1, ""
}

// rowErrorText prefixes a row's message with the part it is about ("path: …").
func rowErrorText(part, msg string) string {
	if part != "" {
		return part + ": " + msg
	}
	return msg
}

// WorkErrorText is the Work form's errors in one line for the plan panel, each
// field named as the form names it: a file row's error as "file 1: path: …",
// any other by its label ("Promise …").
func WorkErrorText(es tenants.ValidationErrors, files int) string {
	rows := max(files, 1)
	var out []string
	for _, e := range es {
		if row, part := workErrorRow(e.Field, rows); row >= 0 {
			out = append(out, "file "+strconv.Itoa(row+1)+": "+rowErrorText(part, e.Message))
			continue
		}
		out = append(out, summaryItems(tenants.ValidationErrors{e}, WorkFields(WorkFormProps{}))[0].Message)
	}
	return strings.Join(out, "; ")
}

// workSummaryErrors are the errors not shown next to a file row.
func workSummaryErrors(p WorkFormProps) tenants.ValidationErrors {
	n := max(len(p.Files), 1)
	var out tenants.ValidationErrors
	for _, e := range p.Errors {
		if !rowError(e.Field, n) {
			out = append(out, e)
		}
	}
	return out
}

func rowError(field string, rows int) bool {
	row, _ := workErrorRow(field, rows)
	return row >= 0
}

// planFileCount is "1 file", "3 files" for one planned placement.
func planFileCount(pp PlanPlacement) string { return plural(len(pp.Paths), "file", "files") }

// plural is "1 file", "3 files".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// selectorText shows a group's selectors as "env=dev, team=a", or "none".
func selectorText(sel map[string]string) string {
	if len(sel) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(sel))
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ", ")
}

// groupLabel names an unscheduled group by its index and directory.
func groupLabel(u tenants.Unscheduled) string {
	return "Group " + strconv.Itoa(u.Group) + " (directory " + orDefault(u.Directory, ".") + ")"
}

// shortVersion is the first 12 characters of a commit SHA or object version.
// sortedLabels are labels as "key=value", sorted.
func sortedLabels(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func shortVersion(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

// workResourceText is a Work page's resource: ns/name, or what its absence means.
func workResourceText(p WorkProps) string {
	if p.Resource == "" {
		return "— promise dependencies: written to every matching Destination"
	}
	return p.Namespace + "/" + p.Resource
}

// workDeleteConfirm names the Work and how many Destinations lose its files.
func workDeleteConfirm(p WorkProps) string {
	dests := map[string]bool{}
	for _, pl := range p.Placements {
		dests[pl.Destination] = true
	}
	return "Delete the Work “" + p.Name + "”? Its files will be removed from " +
		plural(len(dests), "Destination", "Destinations") + "."
}

func workPath(s Shell, id int64, action ...string) string {
	return tpath(s, append([]string{"works", i64(id)}, action...)...)
}

// placementNote explains a placement's extra state, if any.
func placementNote(pl PlacementRow) string {
	switch {
	case pl.Deleting:
		return "its files are being removed"
	case pl.Misplaced:
		return "no longer matches the selectors"
	}
	return ""
}

// destinationsBase is /t/{slug}/destinations/ for the placement fragment, which
// has no Shell: taken from its StatusURL (/t/{slug}/works/{id}/placements), else
// relative to the Work's page (/t/{slug}/works/{id}).
func destinationsBase(p WorkProps) string {
	if i := strings.LastIndex(p.StatusURL, "/works/"); i >= 0 {
		return p.StatusURL[:i] + "/destinations/"
	}
	return "../destinations/"
}

// compactTree joins chains of directories that hold only one directory
// ("clusters/dev/resources/…/5058f/") so that a plan's deep keys read on one line.
func compactTree(nodes []*TreeNode) []*TreeNode {
	for _, n := range nodes {
		for n.Dir && len(n.Children) == 1 && n.Children[0].Dir {
			c := n.Children[0]
			n.Name, n.Path, n.Children = n.Name+"/"+c.Name, c.Path, c.Children
		}
		compactTree(n.Children)
	}
	return nodes
}

// worksCount says how many Works the list holds and what this page shows.
func worksCount(p WorksProps) string {
	what := plural(p.Total, "Work", "Works")
	if p.TotalCapped {
		what = "More than " + what
	}
	if p.Filter != (WorkFilter{}) {
		what += " match"
	}
	if p.Total > len(p.Works) {
		return what + " — showing " + itoa(len(p.Works)) + ", most recently updated first"
	}
	return what
}

// worksFirstURL is the first page of the list with the same filter.
func worksFirstURL(s Shell, f WorkFilter) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": f.Search, "state": f.State, "destination": f.Destination, "trigger": f.Trigger} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if len(v) == 0 {
		return tpath(s, "works")
	}
	return tpath(s, "works") + "?" + v.Encode()
}

// workStateLabel names a state filter of the Works list.
func workStateLabel(st string) string {
	switch st {
	case "waiting":
		return "waiting (placed nowhere)"
	case "pending":
		return "pending or writing"
	case "retrying":
		return "retrying (the store failed; trying again)"
	case "failed":
		return "failed (refused; not retried)"
	case "proposed", "rejected":
		return st + " (pull-request stores)"
	case "written":
		return "written everywhere"
	case "deleting":
		return "deleting"
	}
	return st
}

// workWaitingText counts a Work's workload groups placed nowhere.
func workWaitingText(w WorkRow) string {
	if w.Written+w.Pending+w.Writing+w.Retrying+w.Failed+w.Proposed+w.Rejected == 0 {
		return "placed nowhere"
	}
	return plural(w.Waiting, "group", "groups") + " placed nowhere"
}

// unscheduledLead introduces the groups of a Work that found no Destination.
func unscheduledLead(us []tenants.Unscheduled) string {
	if len(us) == 1 {
		return "its workload group found no Destination it can be written to."
	}
	return itoa(len(us)) + " workload groups found no Destination they can be written to."
}

// noPlacementsWhy ends the "not placed" line of a Work's placements.
func noPlacementsWhy(p WorkProps) string {
	if len(p.Unscheduled) > 0 {
		return " — it waits (see above)."
	}
	return "."
}

// versionKind says what a placement's version is: a commit or a content hash.
func versionKind(storeKind string) string {
	if storeKind == tenants.KindBucket {
		return "content sha256"
	}
	return "commit"
}

// versionTitle is the whole version and what it means.
func versionTitle(pl PlacementRow) string {
	if pl.StoreKind == tenants.KindBucket {
		return pl.Version + " — SHA-256 of the content Stateward wrote (buckets have no commits; this is not an S3 object version id)"
	}
	return pl.Version
}

// awaitingReview reports whether every placement still moving is proposed:
// the Work waits for a person to merge a pull request, not for a write.
func awaitingReview(p WorkProps) bool {
	seen := false
	for _, pl := range p.Placements {
		switch {
		case pl.State == tenants.StateProposed:
			seen = true
		case !tenants.FinalState(pl.State):
			return false
		}
	}
	return seen
}

// isRetrying reports whether a placement state is retrying (its write failed for
// a reason that may pass, and is tried again).
func isRetrying(state string) bool { return state == tenants.StateRetrying }
