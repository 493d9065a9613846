package views

import (
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

func sampleDest() tenants.Destination {
	return tenants.Destination{Name: "worker-cluster", Labels: map[string]string{"env": "dev", "team": "a"}, Path: "worker-cluster",
		StoreKind: tenants.KindGit, StoreName: "main-repo", Mode: tenants.ModeNested, Cleanup: tenants.CleanupAll,
		InitWorkloads: true, Status: tenants.Status{Ready: &yes}}
}

func TestDestinationsPage(t *testing.T) {
	html := render(t, DestinationsPage(shell(tenants.RoleEditor, "destinations"),
		DestinationsProps{Destinations: []tenants.Destination{sampleDest()}, Selector: "env=dev"}))
	contains(t, html, `method="get"`, `name="selector"`, `value="env=dev"`, `href="/t/platform/destinations/new"`,
		`href="/t/platform/import"`, `class="chip mono"`, ">env=dev<", ">team=a<", `href="/t/platform/destinations?selector=env%3Ddev"`,
		`href="/t/platform/stores/git/main-repo"`, "nestedByMetadata")
	if strings.Index(html, ">env=dev<") > strings.Index(html, ">team=a<") {
		t.Error("labels not sorted")
	}
	empty := render(t, DestinationsPage(shell(tenants.RoleEditor, "destinations"), DestinationsProps{}))
	contains(t, empty, "No Destinations yet", `data-testid="empty"`)
	bad := render(t, DestinationsPage(shell(tenants.RoleEditor, "destinations"), DestinationsProps{Selector: "env", SelectorError: "use key=value"}))
	contains(t, bad, "use key=value", "No Destination matches")
}

func TestDestinationFormPage(t *testing.T) {
	p := DestinationFormProps{
		Dest:       sampleDest(),
		Stores:     []StoreRef{{tenants.KindGit, "main-repo"}, {tenants.KindBucket, "archive"}},
		PreviewURL: "/t/platform/destinations/preview", ValidateURL: "/t/platform/destinations/validate",
		Errors: tenants.ValidationErrors{{Field: "spec.path", Message: "overlaps prod"}, {Field: "metadata.labels", Message: "bad label"}},
		Preview: PreviewProps{
			Paths: []PreviewPath{
				{Path: "clusters/worker-cluster/resources/default/redis/my-request/5058f/redis.yaml", Kind: "resource", Owned: true},
				{Path: "clusters/worker-cluster/dependencies/kratix-canary-namespace.yaml", Kind: "canary"},
			},
			OwnedDirs: []string{"clusters/worker-cluster/resources/default/redis/my-request/5058f/"},
		},
	}
	html := render(t, DestinationFormPage(shell(tenants.RoleEditor, "destinations"), p))
	contains(t, html,
		`hx-post="/t/platform/destinations/preview"`, `hx-trigger="input changed delay:300ms, change"`, `hx-target="#preview"`,
		`id="preview"`, `data-testid="preview"`, `name="labelKey" value="env"`, `name="labelValue" value="dev"`,
		`<template id="label-row-template">`, `data-add-row="label-rows"`,
		`value="GitStateStore/main-repo" selected`, `value="BucketStateStore/archive"`,
		`name="samplePromise"`, `value="redis"`, `value="default"`, `value="my-request"`, `name="samplePipeline"`,
		`name="spec.strictMatchLabels"`, `name="spec.initWorkloads.enabled" aria-describedby`, `name="spec.filepath.filename"`,
		"for the store root", "bad label", `action="/t/platform/destinations"`)
	contains(t, fieldHTML(t, html, "spec.path"), "overlaps prod")
	// The preview tree: folders collapsible, the owned directory highlighted.
	contains(t, html, `<details open><summary class="mono">5058f/`, `class="dir owned"`, "owned by the placement",
		`data-path="clusters/worker-cluster/resources/default/redis/my-request/5058f/redis.yaml"`, "kratix-canary-namespace.yaml")
	if c := strings.Count(html, `class="dir`); c != 8 {
		t.Errorf("%d directories in the preview, want 8", c)
	}

	p.Edit = true
	edit := render(t, DestinationFormPage(shell(tenants.RoleEditor, "destinations"), p))
	contains(t, edit, `<input type="hidden" name="spec.filepath.mode" value="nestedByMetadata">`,
		`action="/t/platform/destinations/worker-cluster"`)
	contains(t, fieldHTML(t, edit, "spec.filepath.mode"), "disabled")
	contains(t, fieldHTML(t, edit, "metadata.name"), "readonly")
}

func TestPreviewPanelFragment(t *testing.T) {
	html := render(t, PreviewPanel(PreviewProps{Error: "path overlaps"}))
	if !strings.HasPrefix(html, `<section id="preview"`) {
		t.Errorf("fragment must be the #preview element itself, got %.40s", html)
	}
	contains(t, html, "path overlaps", `aria-live="polite"`)
	contains(t, render(t, LabelRow("k", "v")), `name="labelKey" value="k"`, `name="labelValue" value="v"`, "data-remove-row")
}

func TestDestinationPage(t *testing.T) {
	p := DestinationProps{
		Dest: sampleDest(),
		Files: []PlacedFile{
			{Path: "worker-cluster/resources/default/redis/my-request/5058f/redis.yaml", Work: "redis-default-my-request", WorkID: 3, State: tenants.StateWritten},
			{Path: "worker-cluster/dependencies/redis/5058f/crd.yaml", Work: "redis", WorkID: 2, State: tenants.StateFailed},
		},
		OwnedDirs: []string{"worker-cluster/dependencies/redis/5058f"},
		Writes:    []ActivityItem{{WorkID: 3, Work: "redis-default-my-request", State: tenants.StateFailed, Error: "remote: rejected", At: t0}},
	}
	html := render(t, DestinationPage(shell(tenants.RoleEditor, "destinations"), p))
	contains(t, html, `data-testid="placed-files"`, "redis.yaml", "crd.yaml", `class="dir owned"`, "redis-default-my-request",
		`href="/t/platform/destinations/worker-cluster/edit"`, `action="/t/platform/destinations/worker-cluster/delete"`,
		`hx-confirm="Delete the Destination “worker-cluster”? Its 2 placed files will be deleted from the store (cleanup: all).`,
		"remote: rejected", "✗", ">env=dev<")
}

func TestDryRunDestinationShown(t *testing.T) {
	dry := sampleDest()
	dry.Name = "dry"
	dry.Labels = map[string]string{tenants.DryRunLabel: "true"}
	list := render(t, DestinationsPage(shell(tenants.RoleEditor, "destinations"),
		DestinationsProps{Destinations: []tenants.Destination{sampleDest(), dry}}))
	if c := strings.Count(list, `data-testid="dry-run-badge"`); c != 1 {
		t.Errorf("%d dry-run badges in the list, want 1 (only on %q)", c, dry.Name)
	}
	page := render(t, DestinationPage(shell(tenants.RoleEditor, "destinations"), DestinationProps{Dest: dry}))
	contains(t, page, `data-testid="dry-run"`, "receives only Works whose destinationSelectors include kratix.io/dry-run")
	plain := render(t, DestinationPage(shell(tenants.RoleEditor, "destinations"), DestinationProps{Dest: sampleDest()}))
	if strings.Contains(plain, "receives only Works") {
		t.Error("an ordinary Destination is described as a dry-run one")
	}
	contains(t, render(t, PreviewPanel(PreviewProps{DryRun: true, Paths: []PreviewPath{{Path: "a.yaml"}}})),
		`data-testid="preview-dry-run"`)
}
