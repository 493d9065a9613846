package views

import (
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

func TestWorksPage(t *testing.T) {
	empty := render(t, WorksPage(shell(tenants.RoleViewer, "works"), WorksProps{}))
	contains(t, empty, "No Works yet — submit one with POST /api/v1/tenants/platform/works or a webhook trigger")
	lacks(t, empty, `href="/t/platform/works/new"`)
	trig := int64(9)
	html := render(t, WorksPage(shell(tenants.RoleEditor, "works"), WorksProps{Works: []WorkRow{{
		Work:    tenants.Work{ID: 4, Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "my-request"}, Pipeline: "configure", UpdatedAt: t0, TriggerID: &trig},
		Written: 2, Pending: 1, Writing: 1, Failed: 3, TriggerName: "ci",
	}}}))
	contains(t, html, `href="/t/platform/works/4"`, "default/my-request", "configure", "✓ 2", "⟳ 2", "✗ 3",
		`title="`+(&tenants.Work{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "my-request"}, Pipeline: "configure"}).Name()+`"`, `data-testid="new-work"`, `href="/t/platform/works/new"`,
		"via trigger", `href="/t/platform/triggers/9"`, ">ci</a>")
	lacks(t, html, `data-testid="work-waiting"`)

	// A Work placed nowhere stands out; the filter form keeps its values and the
	// pager carries them.
	waiting := render(t, WorksPage(shell(tenants.RoleEditor, "works"), WorksProps{
		Works:  []WorkRow{{Work: tenants.Work{ID: 5, Promise: "redis", UpdatedAt: t0}, Waiting: 1}},
		Filter: WorkFilter{Search: "red", State: "waiting"}, Total: 120, States: []string{"failed", "waiting"},
		Destinations: []string{"dev"}, NextURL: "/t/platform/works?before=abc&q=red&state=waiting", Paged: true,
	}))
	contains(t, waiting, `data-testid="work-waiting"`, "waiting: placed nowhere", `class="row-bad"`,
		`name="q" value="red"`, `<option value="waiting" selected>`, "120 Works match — showing 1",
		`href="/t/platform/works?before=abc&amp;q=red&amp;state=waiting"`, `href="/t/platform/works?q=red&amp;state=waiting"`)
}

func sampleForm() WorkFormProps {
	return WorkFormProps{
		Promise: "redis", Namespace: "default", Resource: "my-request", Selectors: "env=dev",
		Files: []WorkFileInput{{"redis.yaml", "kind: ConfigMap"}, {"../evil.yaml", "</textarea><script>alert(1)</script>"}},
		Errors: tenants.ValidationErrors{
			{Field: "promise", Message: "promise is taken"},
			{Field: "workloadGroups[0].files[1].path", Message: "must not contain '..'"},
			{Field: "workloadGroups[0].directory", Message: "bad directory"},
		},
	}
}

func TestWorkNewPage(t *testing.T) {
	html := render(t, WorkNewPage(shell(tenants.RoleEditor, "works"), sampleForm()))
	contains(t, html, `action="/t/platform/works"`, `data-testid="work-form"`,
		`name="promise"`, `name="resource.namespace"`, `name="resource.name"`, `name="pipeline"`, `name="destinationSelectors"`,
		`name="filePath" value="redis.yaml"`, `name="filePath" value="../evil.yaml"`, `name="fileContent"`, `rows="10"`,
		`hx-post="/t/platform/works/plan"`, `hx-target="#plan"`, `hx-swap="outerHTML"`, `data-testid="preview-plan"`,
		`data-testid="write"`, `id="file-row-template"`, `data-add-row="file-rows"`, `data-remove-row`,
		"every</em> matching Destination", "exactly <strong>one</strong>", "sticky",
		`id="plan"`, "Press Preview plan to see where these files go",
		"&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
	lacks(t, html, "<script>alert(1)")

	rows := strings.Split(html, `data-testid="file-row"`)
	if len(rows) != 4 { // before, two rows, the template's row
		t.Fatalf("got %d file rows, want 2 plus the template", len(rows)-1)
	}
	if strings.Contains(rows[1], "field-error\" data-testid") || !strings.Contains(rows[2], "path: must not contain &#39;..&#39;") {
		t.Errorf("the path error is not next to its row:\n%s", rows[2])
	}
	summary := html[strings.Index(html, `data-testid="error-summary"`):strings.Index(html, `class="with-preview"`)]
	contains(t, summary, "promise is taken", "bad directory")
	lacks(t, summary, "must not contain")

	empty := render(t, WorkNewPage(shell(tenants.RoleEditor, "works"), WorkFormProps{Action: "/x", PlanURL: "/y"}))
	if n := strings.Count(empty, `data-testid="file-row"`); n != 2 {
		t.Errorf("empty form: %d file rows, want 1 plus the template", n)
	}
	contains(t, empty, `action="/x"`, `hx-post="/y"`)
	lacks(t, empty, `data-testid="error-summary"`)
}

func TestPlanPanel(t *testing.T) {
	html := render(t, PlanPanel(&WorkPlan{
		Placements: []PlanPlacement{{Destination: "dev-1", Paths: []string{"clusters/dev-1/resources/default/redis/my-request/5058f/redis.yaml"}}},
		Deletes:    []PlanPlacement{{Destination: "old", Paths: []string{"clusters/old/x.yaml"}, Misplaced: true}},
		Unscheduled: []tenants.Unscheduled{{Group: 0, Directory: ".", Selectors: map[string]string{"env": "prod"},
			Reason: "no Destination has the labels env=prod"}},
	}))
	contains(t, html, `id="plan"`, `data-testid="plan"`, `aria-live="polite"`, `data-testid="plan-placement"`, "dev-1",
		"5058f/", "redis.yaml", `data-testid="unscheduled"`, "no Destination has the labels env=prod", "env=prod",
		`data-testid="plan-deletes"`, "clusters/old/x.yaml", "no longer matches the selectors")
	lacks(t, html, "Press Preview plan")

	errHTML := render(t, PlanPanel(&WorkPlan{Error: "<b>bad</b> selectors"}))
	contains(t, errHTML, `data-testid="plan-error"`, "&lt;b&gt;bad&lt;/b&gt; selectors")
	contains(t, render(t, PlanPanel(nil)), "Press Preview plan to see where these files go")
}

func sampleWork(final bool) WorkProps {
	trig := int64(9)
	return WorkProps{
		ID: 4, Name: "redis-default-my-request", Promise: "redis", Namespace: "default", Resource: "my-request",
		TriggerID: &trig, TriggerName: "ci", UpdatedAt: t0, Final: final,
		StatusURL: "/t/platform/works/4/placements",
		Placements: []PlacementRow{
			{Destination: "dev-1", Name: "redis-default-my-request.dev-1-5058f", State: tenants.StateWritten,
				Paths: []string{"a/redis.yaml", "a/svc.yaml"}, Version: "0123456789abcdef0123456789abcdef01234567", UpdatedAt: t0},
			{Destination: "dev-2", State: tenants.StateFailed, Paths: []string{"b/redis.yaml"}, Misplaced: true,
				Error: "! [remote rejected] main -> main (<script>hook</script> declined)"},
		},
		Unscheduled: []tenants.Unscheduled{{Group: 1, Directory: "extra", Reason: "no Destination matches"}},
	}
}

func TestWorkPage(t *testing.T) {
	html := render(t, WorkPage(shell(tenants.RoleEditor, "works"), sampleWork(false)))
	contains(t, html, "redis-default-my-request", "default/my-request", "trigger", `href="/t/platform/triggers/9"`,
		`data-testid="placements"`, `id="placements"`, `href="/t/platform/destinations/dev-1"`, "2 files", "a/svc.yaml",
		`data-testid="placement"`, `data-testid="state"`, "✓</span> written", "✗</span> failed",
		">0123456789ab</span>", `title="0123456789abcdef0123456789abcdef01234567"`, `data-copy="0123456789abcdef0123456789abcdef01234567"`,
		`<pre class="message mono" data-testid="placement-error">! [remote rejected] main -&gt; main (&lt;script&gt;hook&lt;/script&gt; declined)</pre>`,
		"no longer matches the selectors", `data-testid="unscheduled"`, "no Destination matches",
		`action="/t/platform/works/4/rewrite"`, `action="/t/platform/works/4/delete"`,
		"hx-confirm=\"Delete the Work “redis-default-my-request”? Its files will be removed from 2 Destinations.\"")
	lacks(t, html, "<script>hook")
	if n := strings.Count(html, `data-testid="placement"`); n != 2 {
		t.Errorf("got %d placement rows, want 2", n)
	}

	viewer := render(t, WorkPage(shell(tenants.RoleViewer, "works"), sampleWork(true)))
	lacks(t, viewer, "/rewrite", "/delete")
	contains(t, render(t, WorkPage(shell(tenants.RoleEditor, "works"), WorkProps{ID: 1, Name: "redis", Promise: "redis"})),
		"promise dependencies: written to every matching Destination", "not recorded (written before the audit log existed)", `data-testid="no-placements"`)
}

func TestWorkPlacementsPolling(t *testing.T) {
	tests := []struct {
		name  string
		final bool
		poll  bool
	}{
		{"pending polls", false, true},
		{"final stops", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := render(t, WorkPlacements(sampleWork(tt.final)))
			contains(t, html, `id="placements"`, `aria-live="polite"`, `href="/t/platform/destinations/dev-2"`)
			for _, attr := range []string{`hx-get="/t/platform/works/4/placements"`, `hx-trigger="every 2s"`, `hx-swap="outerHTML"`} {
				if got := strings.Contains(html, attr); got != tt.poll {
					t.Errorf("has %s = %v, want %v", attr, got, tt.poll)
				}
			}
			if strings.Contains(html, "<html") {
				t.Error("the fragment renders the layout")
			}
		})
	}
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

func TestPlanPanelDiff(t *testing.T) {
	diff := &tenants.FileDiff{Added: []string{"s/d/new.yaml"},
		Changed: []tenants.ChangedFile{{Path: "s/d/b.yaml", Unified: "--- a/s/d/b.yaml\n+++ b/s/d/b.yaml\n@@ -1 +1 @@\n-<b>1</b>\n+b: 2\n"}},
		Removed: []string{"s/d/old.yaml"}}
	html := render(t, PlanPanel(&WorkPlan{Summary: "1 added, 1 changed, 1 removed on 1 Destination",
		Placements: []PlanPlacement{{Destination: "dev", Paths: []string{"s/d/new.yaml", "s/d/b.yaml"}, Diff: diff},
			{Destination: "same", Paths: []string{"s/e/a.yaml"}, Diff: &tenants.FileDiff{}}}}))
	contains(t, html, `data-testid="plan-summary"`, "1 added, 1 changed, 1 removed on 1 Destination",
		`data-testid="diff-added"`, "+ s/d/new.yaml", `data-testid="diff-changed"`, "~ s/d/b.yaml", "-&lt;b&gt;1&lt;/b&gt;",
		`data-testid="diff-removed"`, "s/d/old.yaml", "The store already holds exactly these files.")
	contains(t, render(t, PlanPanel(&WorkPlan{DiffError: "cannot read", Placements: []PlanPlacement{{Destination: "dev"}}})),
		`data-testid="plan-diff-error"`, "cannot read")
}

func TestImportPageWarnings(t *testing.T) {
	html := render(t, ImportPage(shell(tenants.RoleEditor, ""), ImportProps{
		Results:  []ImportResult{{Index: 1, Kind: "Destination", Name: "dev", Action: "created"}},
		Warnings: []ImportError{{Index: 1, Kind: "Destination", Name: "dev", Message: `referenced BucketStateStore "default" does not exist yet`}},
	}))
	contains(t, html, `data-testid="import-warnings"`, "document 1 (Destination", "does not exist yet", `data-testid="import-results"`)
}

// TestWorkErrorText: the plan panel names a file row's error as the form does
// ("file 2: path: …"), other fields by their label; row 11's error is not row 2's.
func TestWorkErrorText(t *testing.T) {
	es := tenants.ValidationErrors{
		{Field: "workloadGroups[0].files[1].path", Message: "must not contain .."},
		{Field: "workloadGroups[0].files[10].content", Message: "is not YAML"},
		{Field: "promise", Message: "is required"},
	}
	want := "file 2: path: must not contain ..; file 11: content: is not YAML; Promise is required"
	if got := WorkErrorText(es, 11); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	rows := workFileRows(WorkFormProps{Files: make([]WorkFileInput, 11), Errors: es})
	if len(rows[1].Errors) != 1 || rows[1].Errors[0] != "path: must not contain .." || len(rows[10].Errors) != 1 {
		t.Errorf("row errors: row 2 %q, row 11 %q", rows[1].Errors, rows[10].Errors)
	}
}
