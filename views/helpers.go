package views

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/stateward/stateward/tenants"
)

// tpath returns /t/{slug}/ followed by the path-escaped elements, or "/" outside a
// team.
func tpath(s Shell, elems ...string) string {
	if s.Current == nil {
		return "/"
	}
	var b strings.Builder
	b.WriteString("/t/")
	b.WriteString(url.PathEscape(s.Current.Slug))
	b.WriteString("/")
	for i, e := range elems {
		if i > 0 {
			b.WriteString("/")
		}
		b.WriteString(url.PathEscape(e))
	}
	return b.String()
}

func slug(s Shell) string {
	if s.Current == nil {
		return ""
	}
	return s.Current.Slug
}

func teamPath(slug string) string { return "/t/" + url.PathEscape(slug) + "/" }

// isOwner reports whether the shell's person may manage members and settings.
func isOwner(s Shell) bool { return s.Role.Allows(tenants.RoleOwner) }

// canEdit reports whether the shell's person may change stores and destinations.
func canEdit(s Shell) bool { return s.Role.Allows(tenants.RoleEditor) }

// KindSegment is the URL path segment of a store kind: "git" or "bucket".
func KindSegment(kind string) string {
	if kind == tenants.KindBucket {
		return "bucket"
	}
	return "git"
}

// KindFromSegment is the store kind for a URL path segment ("git" or "bucket"), or
// "" for anything else.
func KindFromSegment(seg string) string {
	switch seg {
	case "git":
		return tenants.KindGit
	case "bucket":
		return tenants.KindBucket
	}
	return ""
}

// StoreRefValue is the value of the Destination form's store select for a store.
func StoreRefValue(kind, name string) string { return kind + "/" + name }

// ParseStoreRef splits a store select value back into kind and name.
func ParseStoreRef(v string) (kind, name string) {
	kind, name, _ = strings.Cut(v, "/")
	return kind, name
}

func storePath(s Shell, kind, name string, action ...string) string {
	return tpath(s, append([]string{"stores", KindSegment(kind), name}, action...)...)
}

func kindLabel(kind string) string {
	if kind == tenants.KindBucket {
		return "Bucket"
	}
	return "Git"
}

// storeRow is one line of the merged store table.
type storeRow struct {
	Kind, Name, Location, Path string
	Status                     tenants.Status
}

func storeRows(p StoresProps) []storeRow {
	rows := make([]storeRow, 0, len(p.Git)+len(p.Bucket))
	for _, g := range p.Git {
		loc := g.URL
		if g.Branch != "" {
			loc += " (" + g.Branch + ")"
		}
		rows = append(rows, storeRow{tenants.KindGit, g.Name, loc, g.Path, g.Status})
	}
	for _, b := range p.Bucket {
		rows = append(rows, storeRow{tenants.KindBucket, b.Name, bucketLocation(b), b.Path, b.Status})
	}
	slices.SortFunc(rows, func(a, b storeRow) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	})
	return rows
}

func bucketLocation(b tenants.BucketStateStore) string {
	scheme := "https://"
	if b.Insecure {
		scheme = "http://"
	}
	return scheme + b.Endpoint + "/" + b.BucketName
}

// statusWord and statusClass describe a store's readiness: a store whose last
// write failed (transport, credentials) is failing whatever its last check said.
func statusWord(st tenants.Status) string {
	switch {
	case st.WriteFailing():
		return "writes failing"
	case !st.Known():
		return "unknown"
	case st.Failing():
		return "not ready"
	}
	return "ready"
}

func statusClass(st tenants.Status) string {
	switch {
	case st.Troubled():
		return "badge st-bad"
	case !st.Known():
		return "badge st-warn"
	}
	return "badge st-ok"
}

// stateClass is the badge class of a placement state.
func stateClass(state string) string {
	switch state {
	case tenants.StateWritten:
		return "badge st-ok"
	case tenants.StateFailed, tenants.StateRejected:
		return "badge st-bad"
	case tenants.StateProposed:
		return "badge st-info"
	}
	return "badge st-warn"
}

// stateTitle explains a placement state a word does not (the badge's tooltip).
func stateTitle(state string) string {
	switch state {
	case tenants.StateProposed:
		return "awaiting review: in the store's open pull request, written when it is merged"
	case tenants.StateRejected:
		return "its pull request was closed without merging; submit the Work again to propose it again"
	case tenants.StateRetrying:
		return "the store failed; trying again"
	}
	return ""
}

func stateIcon(state string) string {
	switch state {
	case tenants.StateWritten:
		return "✓"
	case tenants.StateFailed, tenants.StateRejected:
		return "✗"
	case tenants.StateRetrying:
		return "↻"
	case tenants.StateProposed:
		return "◷"
	}
	return "⟳"
}

// absTime is the tooltip and no-JavaScript text of a time.
func absTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// shortSHA shortens a commit SHA for display; other versions are shown whole.
func shortSHA(v string) string {
	if len(v) == 40 && strings.Trim(v, "0123456789abcdef") == "" {
		return v[:10]
	}
	return v
}

// workIdentity is "promise", "promise · ns/name" and so on, for lists.
func workResource(w tenants.Work) string {
	if w.Resource == nil {
		return "—"
	}
	return w.Resource.Namespace + "/" + w.Resource.Name
}

// workName is the name Kratix gives a Work (tenants.Work.Name: one fact, one place).
func workName(w tenants.Work) string { return w.Name() }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// longText reports whether a message deserves a block of its own.
func longText(s string) bool { return len(s) > 80 || strings.Contains(s, "\n") }

// flashRole is the ARIA role of a flash: errors interrupt, the rest wait.
func flashRole(f *Flash) string {
	if f.Kind == FlashError {
		return "alert"
	}
	return "status"
}

func flashClass(f *Flash) string {
	if f.Kind == FlashError {
		return "flash flash-error"
	}
	return "flash flash-ok"
}

// navItem is one entry of the team navigation.
type navItem struct{ Key, Label, Href string }

func navItems(s Shell) []navItem {
	return []navItem{
		{"overview", "Overview", tpath(s)},
		{"stores", "State Stores", tpath(s, "stores")},
		{"destinations", "Destinations", tpath(s, "destinations")},
		{"works", "Works", tpath(s, "works")},
		{"triggers", "Triggers", tpath(s, "triggers")},
		{"members", "Members", tpath(s, "members")},
		{"tokens", "Tokens", tpath(s, "tokens")},
		{"settings", "Settings", tpath(s, "settings")},
		{"audit", "Audit log", tpath(s, "audit")},
	}
}

// navLabel is the active section's label, for the collapsed phone menu.
func navLabel(s Shell) string {
	for _, it := range navItems(s) {
		if it.Key == s.Nav {
			return it.Label
		}
	}
	if s.Title != "" {
		return s.Title
	}
	return s.Current.Name
}

func pageTitle(s Shell) string {
	t := s.Title
	if s.Current != nil {
		t += " · " + s.Current.Name
	}
	if t == "" {
		return "Stateward"
	}
	return t + " · Stateward"
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// apiBase is base + the team's JSON API prefix.
func apiBase(s Shell, base string) string {
	return strings.TrimRight(base, "/") + "/api/v1/tenants/" + url.PathEscape(slug(s)) + "/"
}

func curlExample(s Shell, p TokensProps) string {
	return `curl -H "Authorization: Bearer ` + p.NewToken + `" ` + apiBase(s, p.BaseURL) + "destinations"
}

func storeKind(p StoreProps) string {
	if p.Bucket != nil {
		return tenants.KindBucket
	}
	return tenants.KindGit
}

func storeName(p StoreProps) string {
	switch {
	case p.Git != nil:
		return p.Git.Name
	case p.Bucket != nil:
		return p.Bucket.Name
	}
	return ""
}

func storeStatus(p StoreProps) tenants.Status {
	switch {
	case p.Git != nil:
		return p.Git.Status
	case p.Bucket != nil:
		return p.Bucket.Status
	}
	return tenants.Status{}
}

// storeInUse says why a store cannot be deleted.
func storeInUse(p StoreProps) string {
	n := len(p.UsedBy)
	what := "1 Destination"
	if n != 1 {
		what = strconv.Itoa(n) + " Destinations"
	}
	return "Cannot delete: used by " + what + " (" + strings.Join(p.UsedBy, ", ") + "). Point them at another store or delete them first."
}

func formTitle(edit bool, what, name string) string {
	if edit {
		return "Edit " + what + " " + name
	}
	return "New " + what
}

func submitLabel(edit bool) string {
	if edit {
		return "Save changes"
	}
	return "Create"
}

// storeFormAction is the default target of a store form: the kind's collection
// when creating, the store itself when editing.
func storeFormAction(s Shell, kind string, edit bool, name string) string {
	if edit {
		return storePath(s, kind, name)
	}
	return tpath(s, "stores", KindSegment(kind))
}

func queryEscape(s string) string { return url.QueryEscape(s) }

func cleanupText(c string) string {
	if c == tenants.CleanupAll {
		return "all — delete every file Stateward wrote here"
	}
	return "none — leave the files in the store"
}

// destDeleteConfirm names what deleting a Destination removes, by its cleanup
// policy.
func destDeleteConfirm(p DestinationProps) string {
	d := p.Dest
	files := strconv.Itoa(len(p.Files)) + " placed files"
	if len(p.Files) == 1 {
		files = "1 placed file"
	}
	what := "Its " + files + " stay in the store (cleanup: none)."
	if d.Cleanup == tenants.CleanupAll {
		what = "Its " + files + " will be deleted from the store (cleanup: all)."
	}
	return "Delete the Destination “" + d.Name + "”? " + what + " Works placed on it are re-planned."
}

func rateText(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// actionClass is the badge of an import action: only changes stand out.
func actionClass(action string) string {
	if action == "unchanged" || action == "skipped" {
		return "badge"
	}
	return "badge badge-accent"
}

// dryRunText explains a dry-run Destination wherever one is shown.
const dryRunText = `Dry-run Destination (label ` + tenants.DryRunLabel + `: "true"): it receives only Works ` +
	`whose destinationSelectors include ` + tenants.DryRunLabel + `: "true"; ordinary Works never go here.`

// worksOnDestination is the Works list filtered to one Destination.
func worksOnDestination(s Shell, dest string) templ.SafeURL {
	return templ.SafeURL(tpath(s, "works") + "?destination=" + url.QueryEscape(dest))
}

// pendingCount is the Overview's count of writes waiting, "10000+" where the
// count stopped.
func pendingCount(p OverviewProps) string {
	if p.WorksPendingCapped {
		return itoa(p.WorksPending) + "+"
	}
	return itoa(p.WorksPending)
}

// pushIntervalText is a Git store's push interval as its page shows it: the
// spec's, or the default it gets and why.
func pushIntervalText(g tenants.GitStateStore) string {
	d := g.EffectivePushInterval().String()
	switch {
	case g.PushInterval != "":
		return d
	case d == tenants.GitHubPushInterval.String():
		return d + " (default on github.com and for GitHub Apps)"
	}
	return d + " (default)"
}
