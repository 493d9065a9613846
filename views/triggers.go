package views

import (
	"net/url"
	"strings"

	"github.com/stateward/stateward/tenants"
)

// TriggerFields are the trigger create form's fields.
func TriggerFields(p TriggersProps) []FieldProps {
	es := p.Errors
	return []FieldProps{
		{Name: "name", Label: "Name", Value: p.Name, Error: es.For("name"), Required: true, Placeholder: "ci-pipeline",
			Autocomplete: "off", Help: "Unique in this team; shown on the Works it writes."},
		{Name: "promise", Label: "Pinned promise", Value: p.Promise, Error: es.For("promise"), Mono: true,
			Placeholder: "any", Autocomplete: "off", Help: "Only Works of this promise are accepted; empty for any."},
		{Name: "ratePerSecond", Label: "Rate limit (requests/second)", Value: p.Rate, Error: es.For("ratePerSecond"),
			Placeholder: "unlimited", Autocomplete: "off", Help: "Empty or 0 for no limit."},
		{Name: "requireSignature", Label: "Require a signature", Type: "checkbox", Checked: p.RequireSignature,
			Error: es.For("requireSignature"),
			Help: "Refuse requests without a valid Stateward-Signature header (HMAC-SHA256 of the secret). " +
				"Unchecked is a risk: anyone who learns the URL can write and delete this team's Works through it."},
	}
}

// triggerPath is /t/{slug}/triggers/{id}[/action], with slug as a fallback when
// the shell has no team.
func triggerPath(s Shell, slug string, id int64, action ...string) string {
	if s.Current == nil && slug != "" {
		return teamPath(slug) + strings.Join(append([]string{"triggers", i64(id)}, action...), "/")
	}
	return tpath(s, append([]string{"triggers", i64(id)}, action...)...)
}

// shq quotes s for a POSIX shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// The examples write a Work of their own (resource default/trigger-example), so that
// trying them never replaces a Work made by hand or by the README's first session.

// examplePromise is the trigger's pinned promise, or redis.
func examplePromise(t tenants.Trigger) string { return orDefault(t.Promise, "redis") }

// workJSONExample writes the example work.json with a heredoc.
func workJSONExample(t tenants.Trigger) string {
	return `cat > work.json <<'EOF'
{
  "promise": "` + examplePromise(t) + `",
  "resource": {"namespace": "default", "name": "trigger-example"},
  "destinationSelectors": {"environment": "dev"},
  "files": [
    {"path": "redis.yaml", "content": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trigger-example\ndata:\n  maxmemory: 100mb\n"}
  ]
}
EOF`
}

// unsignedCurl posts work.json as it is.
func unsignedCurl(hookURL string) string {
	return "curl -sS -X POST " + shq(hookURL) + " -H 'Content-Type: application/json' --data-binary @work.json"
}

// signedCurl posts work.json with a Stateward-Signature header; urlExpr is
// already quoted for the shell.
func signedCurl(urlExpr, secret string) string {
	return `body=$(cat work.json)
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac ` + shq(secret) + ` -r | cut -d' ' -f1)
curl -sS -X POST ` + urlExpr + ` -H 'Content-Type: application/json' -H "Stateward-Signature: t=$t,v1=$sig" --data-binary "$body"`
}

// yamlCurl posts one YAML file, its identity in the query.
func yamlCurl(hookURL string, t tenants.Trigger) string {
	q := "?promise=" + url.QueryEscape(examplePromise(t)) + "&namespace=default&name=trigger-example&file=redis.yaml"
	return "curl -sS -X POST " + shq(hookURL+q) + " -H 'Content-Type: application/yaml' --data-binary @redis.yaml"
}

// deleteCurl removes the example Work again.
func deleteCurl(hookURL string, t tenants.Trigger) string {
	body := `{"promise":"` + examplePromise(t) + `","resource":{"namespace":"default","name":"trigger-example"},"delete":true}`
	return "curl -sS -X POST " + shq(hookURL) + " -H 'Content-Type: application/json' --data-binary " + shq(body)
}

// rotatedURL stands for the trigger URL in examples shown after a rotation: the
// URL itself is not stored and cannot be shown again.
const rotatedURL = `"$TRIGGER_URL"`

// statusCodeClass colours an HTTP status: 2xx green, 4xx amber, 5xx red.
func statusCodeClass(code int) string {
	switch {
	case code >= 500:
		return "badge st-bad"
	case code >= 400:
		return "badge st-warn"
	case code >= 200 && code < 300:
		return "badge st-ok"
	}
	return "badge"
}

func triggerRotateConfirm(t tenants.Trigger) string {
	return "Rotate the secret of the trigger “" + t.Name + "”? A new secret is shown once; the old one stays valid for 24 h so callers can switch."
}

func triggerRevokeConfirm(t tenants.Trigger) string {
	return "Revoke the trigger “" + t.Name + "”? Its URL stops working at once; this cannot be undone."
}
