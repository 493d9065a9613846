package views

import (
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestSmallDashboardFixes covers the small items of the first-hour review: the
// favicon, "ready" once per store, links from Import results, what a version is,
// and the audit page.
func TestSmallDashboardFixes(t *testing.T) {
	sh := shell(tenants.RoleEditor, "stores")
	sh.Icon = "/static/favicon.1.svg"
	p := sampleStores()
	p.Bucket[0].Status.Message = "ready"
	html := render(t, StoresPage(sh, p))
	contains(t, html, `<link rel="icon" type="image/svg+xml" href="/static/favicon.1.svg">`)
	row := html[strings.Index(html, ">archive<"):]
	row = row[:strings.Index(row, "</tr>")]
	if n := strings.Count(row, ">ready<"); n != 1 {
		t.Errorf("the ready store shows ready %d times:\n%s", n, row)
	}

	imp := render(t, ImportPage(shell(tenants.RoleEditor, "import"), ImportProps{Results: []ImportResult{
		{Index: 1, Kind: tenants.KindGit, Name: "default", Action: "created"},
		{Index: 2, Kind: tenants.KindDestination, Name: "worker-1", Action: "created"},
		{Index: 3, Kind: "Secret", Name: "creds", Action: "created"},
	}}))
	contains(t, imp, `href="/t/platform/stores/git/default" data-testid="import-link"`,
		`href="/t/platform/destinations/worker-1" data-testid="import-link"`)
	lacks(t, imp, `aria-current="page">Destinations`)

	work := render(t, WorkPage(shell(tenants.RoleEditor, "works"), WorkProps{ID: 1, Name: "w", Promise: "redis", Final: true,
		Placements: []PlacementRow{{Destination: "b", State: tenants.StateWritten, Version: "abc123def456abc123", StoreKind: tenants.KindBucket},
			{Destination: "g", State: tenants.StateWritten, Version: "0123456789abcdef0123", StoreKind: tenants.KindGit}}}))
	contains(t, work, "content sha256", "not an S3 object version id", ">commit<")

	audit := render(t, AuditPage(shell(tenants.RoleViewer, "audit"), AuditProps{Events: []tenants.AuditEvent{
		{ID: 2, At: t0, Actor: tenants.Actor{Kind: tenants.ActorTrigger, ID: 4, Name: "ci"}, Action: "write",
			Object: tenants.AuditObject{Kind: tenants.AuditWork, ID: 9, Name: "redis-default-x"}, Detail: "placed on dev"},
		{ID: 1, At: t0, Actor: tenants.Actor{Kind: tenants.ActorToken, ID: 3, Name: "ci-bot"}, Action: "create",
			Object: tenants.AuditObject{Kind: tenants.KindDestination, Name: "dev"}},
	}, NextURL: "/t/platform/audit?before=1"}))
	contains(t, audit, `href="/t/platform/triggers/4"`, `href="/t/platform/works/9"`, `href="/t/platform/destinations/dev"`,
		"API token", "ci-bot", "placed on dev", `href="/t/platform/audit?before=1"`, `aria-current="page">Audit log`)
}
