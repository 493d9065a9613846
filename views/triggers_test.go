package views

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

const (
	hookURL = "https://stateward.example.com/hooks/tok_abc"
	secret  = "whsec_s3cr3t"
)

func TestTriggersPage(t *testing.T) {
	empty := render(t, TriggersPage(shell(tenants.RoleViewer, "triggers"), TriggersProps{}))
	contains(t, empty, "No triggers yet")
	lacks(t, empty, `data-testid="create-trigger"`)
	html := render(t, TriggersPage(shell(tenants.RoleEditor, "triggers"), TriggersProps{
		Triggers: []tenants.Trigger{
			{ID: 1, Name: "ci", Promise: "redis", RequireSignature: true, RatePerSecond: 2.5},
			{ID: 2, Name: "old", RevokedAt: &t0, LastUsedAt: &t0},
		},
		Name: "dup", Rate: "x", RequireSignature: true,
		Errors: tenants.ValidationErrors{{Field: "ratePerSecond", Message: "must be a number"}},
	}))
	contains(t, html, `href="/t/platform/triggers/1"`, "redis", "required", "2.5/s", "unlimited", "any", "revoked", "never",
		`data-testid="create-trigger"`, `action="/t/platform/triggers"`, `name="name"`, `value="dup"`, `name="promise"`,
		`name="ratePerSecond"`, `name="requireSignature"`, `value="true" checked`, "must be a number")
	lacks(t, html, secret)
}

func TestTriggerCreatedPage(t *testing.T) {
	tr := tenants.Trigger{ID: 3, Name: "ci", RequireSignature: true}
	html := render(t, TriggerCreatedPage(shell(tenants.RoleEditor, "triggers"), TriggerCreatedProps{
		Trigger: tr, URL: hookURL, Secret: secret, Slug: "platform"}))
	contains(t, html, `data-testid="trigger-url"`, `data-testid="trigger-secret"`, `data-copy="`+hookURL+`"`,
		`data-copy="`+secret+`"`, "shown only this once", `data-testid="signature-required"`,
		"curl -sS -X POST &#39;"+hookURL+"&#39; -H &#39;Content-Type: application/json&#39; -H &#34;Stateward-Signature: t=$t,v1=$sig&#34; --data-binary @work.json",
		"-hmac &#39;"+secret+"&#39; -r | cut -d&#39; &#39; -f1)",
		hookURL+"?promise=redis&amp;namespace=default&amp;name=trigger-example&amp;file=redis.yaml",
		"Content-Type: application/yaml", "cat &gt; redis.yaml &lt;&lt;&#39;EOF&#39;",
		"cat redis.yaml; } | openssl dgst", "v1=$sig&#34; --data-binary @redis.yaml",
		`printf &#39;%s&#39; &#39;{&#34;promise&#34;:&#34;redis&#34;,&#34;resource&#34;:{&#34;namespace&#34;:&#34;default&#34;,&#34;name&#34;:&#34;trigger-example&#34;},&#34;delete&#34;:true}&#39;;`,
		`&#34;destinationSelectors&#34;: {&#34;environment&#34;: &#34;dev&#34;}`, "Idempotency-Key", `href="/t/platform/triggers/3"`)
	// A trigger that requires a signature shows no unsigned request: pasted as
	// shown, every example answers 202 (TestTriggerExamplesRunAsShown runs them).
	if n, signed := examples(html); n != 5 || signed != 3 {
		t.Errorf("got %d examples, %d signed; want 5 (work.json, write, redis.yaml, YAML, delete), the 3 requests signed", n, signed)
	}

	pinned := render(t, TriggerCreatedPage(Shell{}, TriggerCreatedProps{
		Trigger: tenants.Trigger{ID: 3, Name: "ci", Promise: "postgres"}, URL: hookURL, Secret: secret, Slug: "platform"}))
	contains(t, pinned, "?promise=postgres&amp;", `&#34;promise&#34;: &#34;postgres&#34;`, `href="/t/platform/triggers/3"`,
		"curl -sS -X POST &#39;"+hookURL+"&#39; -H &#39;Content-Type: application/json&#39; --data-binary @work.json",
		"-H &#39;Content-Type: application/yaml&#39; --data-binary @redis.yaml")
	lacks(t, pinned, `data-testid="signature-required"`)
	if n, signed := examples(pinned); n != 6 || signed != 1 {
		t.Errorf("got %d examples, %d signed; want 6 (work.json, write, signed write, redis.yaml, YAML, delete), one signed", n, signed)
	}
}

func TestTriggerPage(t *testing.T) {
	work := int64(4)
	tr := tenants.Trigger{ID: 3, Name: "ci", Promise: "redis", CreatedAt: t0}
	p := TriggerProps{Trigger: tr, Deliveries: []DeliveryRow{
		{At: t0, SourceIP: "10.0.0.1", Status: 202, WorkID: &work},
		{At: t0, SourceIP: "10.0.0.2", Status: 401, Error: "bad <signature>"},
		{At: t0, SourceIP: "10.0.0.3", Status: 503, Error: "database busy"},
	}}
	html := render(t, TriggerPage(shell(tenants.RoleEditor, "triggers"), p))
	contains(t, html, `data-testid="trigger-fields"`, "redis", `data-testid="url-note"`, "Rotating the secret keeps the URL",
		"revoke this trigger and create a new one", `data-testid="deliveries"`, "10.0.0.1",
		`<span class="badge st-ok" data-testid="delivery-status">202</span>`,
		`<span class="badge st-warn" data-testid="delivery-status">401</span>`,
		`<span class="badge st-bad" data-testid="delivery-status">503</span>`,
		`href="/t/platform/works/4"`, "bad &lt;signature&gt;",
		`action="/t/platform/triggers/3/rotate"`, "old one stays valid for 24 h",
		`action="/t/platform/triggers/3/revoke"`, "Its URL stops working at once")
	lacks(t, html, `data-testid="new-secret"`, `data-testid="trigger-secret"`, "bad <signature>")
	if n := strings.Count(html, `data-testid="delivery"`); n != 3 {
		t.Errorf("got %d deliveries, want 3", n)
	}

	p.NewSecret = secret
	rotated := render(t, TriggerPage(shell(tenants.RoleEditor, "triggers"), p))
	contains(t, rotated, `data-testid="new-secret"`, `data-copy="`+secret+`"`, "-hmac &#39;"+secret+"&#39;",
		"curl -sS -X POST &#34;$TRIGGER_URL&#34;")

	p.NewSecret, p.Trigger.RevokedAt = "", &t0
	revoked := render(t, TriggerPage(shell(tenants.RoleEditor, "triggers"), p))
	lacks(t, revoked, "/rotate", "/revoke")
	contains(t, revoked, ">revoked</span>")
	viewer := render(t, TriggerPage(shell(tenants.RoleViewer, "triggers"), TriggerProps{Trigger: tr}))
	lacks(t, viewer, "/rotate", "/revoke")
	contains(t, viewer, `data-testid="no-deliveries"`)
}

// examples counts a page's examples and those that sign their request.
func examples(html string) (n, signed int) {
	for _, m := range regexp.MustCompile(`(?s)data-testid="example">(.*?)</pre>`).FindAllStringSubmatch(html, -1) {
		n++
		if strings.Contains(m[1], "Stateward-Signature: t=$t,v1=$sig") {
			signed++
		}
	}
	return n, signed
}
