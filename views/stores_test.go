package views

import (
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

func sampleStores() StoresProps {
	return StoresProps{
		Git: []tenants.GitStateStore{{Name: "main-repo", URL: "https://github.com/org/state.git", Branch: "main", Path: "clusters",
			Status: tenants.Status{Ready: &no, Message: "authentication required", LastChecked: &t0}}},
		Bucket: []tenants.BucketStateStore{{Name: "archive", Endpoint: "s3.example.com:9000", BucketName: "kratix",
			Status: tenants.Status{Ready: &yes, LastChecked: &t0}}},
	}
}

func TestStoresPage(t *testing.T) {
	html := render(t, StoresPage(shell(tenants.RoleEditor, "stores"), sampleStores()))
	contains(t, html, "/t/platform/stores/new?kind=git", "/t/platform/stores/new?kind=bucket", `href="/t/platform/import"`,
		`action="/t/platform/stores/git/main-repo/check"`, `action="/t/platform/stores/bucket/archive/check"`,
		"https://s3.example.com:9000/kratix", `data-copy="https://github.com/org/state.git (main)"`,
		"authentication required", "not ready", "st-ok", `<td class="mono">clusters</td>`)
	if a, m := strings.Index(html, "archive"), strings.Index(html, "main-repo"); a > m {
		t.Errorf("stores not sorted by name")
	}
	empty := render(t, StoresPage(shell(tenants.RoleEditor, "stores"), StoresProps{}))
	contains(t, empty, "No State Stores yet", "add a Git repository or an S3 bucket, or import Kratix YAML")
}

func TestStorePageAndStatus(t *testing.T) {
	g := sampleStores().Git[0]
	g.Status = tenants.Status{}
	html := render(t, StorePage(shell(tenants.RoleEditor, "stores"), StoreProps{Git: &g, UsedBy: []string{"dev", "prod"}}))
	contains(t, html, `hx-get="/t/platform/stores/git/main-repo/status"`, `hx-trigger="every 2s"`, `aria-live="polite"`,
		"unknown", `href="/t/platform/stores/git/main-repo/edit"`, `data-testid="delete-refused"`, "dev, prod",
		`href="/t/platform/destinations/prod"`)
	lacks(t, html, `action="/t/platform/stores/git/main-repo/delete"`)

	g.Status = tenants.Status{Ready: &no, Message: "line one\nremote: Permission denied", LastChecked: &t0}
	html = render(t, StorePage(shell(tenants.RoleEditor, "stores"), StoreProps{Git: &g}))
	contains(t, html, `action="/t/platform/stores/git/main-repo/delete"`, `hx-confirm="Delete the store “main-repo”?`,
		`<pre class="message mono" data-testid="status-message">line one`)
	lacks(t, html, `hx-trigger="every 2s"`)

	frag := render(t, StoreStatus(StoreStatusProps{Status: tenants.Status{Ready: &yes}, URL: "/s"}))
	if !strings.HasPrefix(frag, `<div class="store-status"`) || strings.Contains(frag, "hx-get") {
		t.Errorf("known status fragment = %s, want a wrapper without polling", frag)
	}
}

func gitWithSecrets() tenants.GitStateStore {
	return tenants.GitStateStore{Name: "main-repo", URL: "git@github.com:org/state.git", Branch: "prod", AuthMethod: tenants.AuthSSH,
		AuthorEmail: "bot@example.com", CABundle: "-----BEGIN CERTIFICATE-----",
		Credentials: tenants.GitCredentials{Username: "user-SECRET-1", Password: "pw-SECRET-2",
			SSHPrivateKey: "key-SECRET-3", KnownHosts: "hosts-SECRET-4"}}
}

func TestGitStoreFormNeverShowsSecrets(t *testing.T) {
	for _, edit := range []bool{false, true} {
		p := GitStoreFormProps{Store: gitWithSecrets(), Edit: edit, ValidateURL: "/v",
			Errors: tenants.ValidationErrors{{Field: "password", Message: "is required for basicAuth"}, {Field: "spec.url", Message: "bad url"}}}
		html := render(t, GitStoreFormPage(shell(tenants.RoleEditor, "stores"), p))
		lacks(t, html, "SECRET")
		contains(t, html, `value="git@github.com:org/state.git"`, `value="prod"`, `value="bot@example.com"`,
			`type="password"`, `name="sshPrivateKey"`, `name="knownHosts"`, `name="spec.caBundle"`, `name="spec.insecure"`,
			"Allow http://", "trailing newline", `data-testid="error-summary"`)
		contains(t, fieldHTML(t, html, "password"), "is required for basicAuth")
		contains(t, fieldHTML(t, html, "spec.url"), "bad url", `hx-post="/v"`)
		lacks(t, fieldHTML(t, html, "password"), "hx-post")
		name := fieldHTML(t, html, "metadata.name")
		if edit {
			contains(t, html, "Leave blank to keep the current secret", `action="/t/platform/stores/git/main-repo"`)
			contains(t, name, "readonly")
		} else {
			contains(t, html, `action="/t/platform/stores/git"`)
			lacks(t, name, "readonly")
		}
	}
}

func TestBucketStoreFormNeverShowsSecrets(t *testing.T) {
	p := BucketStoreFormProps{Edit: true, Store: tenants.BucketStateStore{Name: "b", Endpoint: "minio:9000", BucketName: "kratix",
		Region: "eu-west-1", Insecure: true, AuthMethod: tenants.AuthAccessKey,
		Credentials: tenants.BucketCredentials{AccessKeyID: "AKIA-SECRET", SecretAccessKey: "sk-SECRET"}},
		Errors: tenants.ValidationErrors{{Field: "spec.endpoint", Message: "must not include a scheme"}}}
	html := render(t, BucketStoreFormPage(shell(tenants.RoleEditor, "stores"), p))
	lacks(t, html, "SECRET")
	contains(t, html, `value="minio:9000"`, `value="kratix"`, `value="eu-west-1"`, `name="accessKeyID"`, `name="secretAccessKey"`,
		`value="IAM"`, "checked", "Leave blank to keep the current secret")
	contains(t, fieldHTML(t, html, "spec.endpoint"), "must not include a scheme")
}

func TestFieldNamed(t *testing.T) {
	fs := GitStoreFields(GitStoreFormProps{Store: gitWithSecrets(), Errors: tenants.ValidationErrors{{Field: "spec.branch", Message: "bad"}}})
	f, ok := FieldNamed(fs, "spec.branch")
	if !ok || f.Error != "bad" || f.Value != "prod" {
		t.Errorf("FieldNamed(spec.branch) = %+v, %v", f, ok)
	}
	if _, ok := FieldNamed(fs, "nope"); ok {
		t.Error("FieldNamed(nope) found a field")
	}
	for _, name := range []string{"metadata.name", "spec.url", "spec.path", "spec.authMethod", "password", "sshPrivateKey",
		"knownHosts", "spec.gitAuthor.email"} {
		if _, ok := FieldNamed(fs, name); !ok {
			t.Errorf("Git form has no field %q", name)
		}
	}
}

func TestEscaping(t *testing.T) {
	xss := `<script>alert("x")</script>`
	p := sampleStores()
	p.Git[0].Name = xss
	p.Git[0].Status.Message = xss
	html := render(t, StoresPage(shell(tenants.RoleEditor, "stores"), p))
	lacks(t, html, "<script>alert")
	contains(t, html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")

	d := sampleDest()
	d.Labels = map[string]string{"env": xss}
	html = render(t, DestinationPage(shell(tenants.RoleEditor, "destinations"), DestinationProps{Dest: d}))
	lacks(t, html, "<script>alert")
	html = render(t, Field(FieldProps{Name: "x", Value: `"><script>alert(1)</script>`}))
	lacks(t, html, "<script>alert")
	s := shell(tenants.RoleEditor, "stores")
	s.Email = xss
	lacks(t, render(t, OverviewPage(s, OverviewProps{})), "<script>alert")
}
