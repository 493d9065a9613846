package views

import (
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestWorkPageTrail: a Work page shows the Work's labels, who asked and the
// commits that carried it — linked when the host's commit pages are known,
// plain text otherwise (a bucket version, an unknown host).
func TestWorkPageTrail(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef01234567"
	html := render(t, WorkPage(shell(tenants.RoleViewer, "works"), WorkProps{ID: 3, Name: "redis-a", Promise: "redis",
		Labels: map[string]string{"jira": "JIRA-1", "team": "a"}, RequestedBy: "alice@example.com", CorrelationID: "idem-7",
		Versions: []tenants.WorkVersion{
			{Destination: "prod", StoreName: "gh", Version: sha, URL: "https://github.com/acme/fleet/commit/" + sha, Generation: 2, WrittenAt: t0},
			{Destination: "dev", StoreName: "bucket", Version: "v-17", Generation: 1, WrittenAt: t0},
		}}))
	contains(t, html, `data-testid="work-label">jira=JIRA-1<`, `data-testid="work-label">team=a<`,
		`data-testid="work-requested-by">alice@example.com`, "idem-7",
		`href="https://github.com/acme/fleet/commit/`+sha+`"`, `data-testid="work-commit-link">0123456789ab<`,
		`data-testid="work-commit-version">v-17<`)
	empty := render(t, WorkPage(shell(tenants.RoleViewer, "works"), WorkProps{ID: 3, Name: "redis-a", Promise: "redis"}))
	contains(t, empty, "No version written yet.")
	lacks(t, empty, `data-testid="work-requested-by"`, `data-testid="work-commit"`)
}
