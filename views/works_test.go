package views

import (
	"testing"

	"github.com/stateward/stateward/tenants"
)

func TestWorksPage(t *testing.T) {
	empty := render(t, WorksPage(shell(tenants.RoleViewer, "works"), WorksProps{}))
	contains(t, empty, "No Works yet — submit one with POST /api/v1/tenants/platform/works or a webhook trigger")
	html := render(t, WorksPage(shell(tenants.RoleViewer, "works"), WorksProps{Works: []WorkRow{{
		Work:    tenants.Work{ID: 4, Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "my-request"}, Pipeline: "configure", UpdatedAt: t0},
		Written: 2, Pending: 1, Writing: 1, Failed: 3,
	}}}))
	contains(t, html, `href="/t/platform/works/4"`, "default/my-request", "configure", "✓ 2", "⟳ 2", "✗ 3",
		`title="redis-default-my-request-configure"`)
}

func TestTriggersPage(t *testing.T) {
	empty := render(t, TriggersPage(shell(tenants.RoleViewer, "triggers"), TriggersProps{}))
	contains(t, empty, "No triggers yet")
	html := render(t, TriggersPage(shell(tenants.RoleViewer, "triggers"), TriggersProps{Triggers: []tenants.Trigger{
		{ID: 1, Name: "ci", Promise: "redis", RequireSignature: true, RatePerSecond: 2.5},
		{ID: 2, Name: "old", RevokedAt: &t0, LastUsedAt: &t0},
	}}))
	contains(t, html, "ci", "redis", "required", "2.5/s", "unlimited", "any", "revoked", "never")
}

func TestImportPage(t *testing.T) {
	html := render(t, ImportPage(shell(tenants.RoleEditor, ""), ImportProps{
		Results: []ImportResult{{Index: 0, Kind: tenants.KindGit, Name: "default", Action: "created"}},
		Errors:  []ImportError{{Index: 2, Kind: "Destination", Name: "dev", Field: "spec.path", Message: "is required"}},
	}))
	contains(t, html, `action="/t/platform/import"`, `enctype="multipart/form-data"`, `type="file"`, `name="file"`,
		`name="yaml"`, `data-testid="import-results"`, "created", `data-testid="import-errors"`, "spec.path", "is required",
		"kind: GitStateStore")
}
