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
			Help:  "Refuse requests without a valid Stateward-Signature header (HMAC-SHA256 of the secret)."},
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

// hookBody is what an example sends: a file (curl's @file) or an inline body.
type hookBody struct{ file, inline string }

// data is curl's --data-binary argument for the body.
func (b hookBody) data() string {
	if b.file != "" {
		return "@" + b.file
	}
	return shq(b.inline)
}

// print is a shell command that writes the body's exact bytes (the signature
// covers them; $(cat …) would drop a trailing newline).
func (b hookBody) print() string {
	if b.file != "" {
		return "cat " + b.file
	}
	return "printf '%s' " + shq(b.inline)
}

// hookCurl posts body to the trigger (urlExpr already quoted for the shell), with
// a Stateward-Signature header computed in the shell when secret is set: every
// example of a trigger that requires a signature is signed, or it answers 401.
func hookCurl(urlExpr, contentType string, body hookBody, secret string) string {
	curl := "curl -sS -X POST " + urlExpr + " -H 'Content-Type: " + contentType + "'"
	if secret == "" {
		return curl + " --data-binary " + body.data()
	}
	return `t=$(date +%s)
sig=$({ printf '%s.' "$t"; ` + body.print() + `; } | openssl dgst -sha256 -hmac ` + shq(secret) + ` -r | cut -d' ' -f1)
` + curl + ` -H "Stateward-Signature: t=$t,v1=$sig" --data-binary ` + body.data()
}

// exampleSecret is the secret the examples sign with: the trigger's when it
// requires a signature, else none.
func exampleSecret(t tenants.Trigger, secret string) string {
	if t.RequireSignature {
		return secret
	}
	return ""
}

// workCurl posts work.json, signed when secret is set.
func workCurl(urlExpr, secret string) string {
	return hookCurl(urlExpr, "application/json", hookBody{file: "work.json"}, secret)
}

// signedCurl posts work.json with a Stateward-Signature header; urlExpr is
// already quoted for the shell.
func signedCurl(urlExpr, secret string) string { return workCurl(urlExpr, secret) }

// yamlFileExample writes the example redis.yaml with a heredoc.
func yamlFileExample() string {
	return `cat > redis.yaml <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: trigger-example
data:
  maxmemory: 100mb
EOF`
}

// yamlCurl posts one YAML file, its identity in the query.
func yamlCurl(hookURL string, t tenants.Trigger, secret string) string {
	q := "?promise=" + url.QueryEscape(examplePromise(t)) + "&namespace=default&name=trigger-example&file=redis.yaml"
	return hookCurl(shq(hookURL+q), "application/yaml", hookBody{file: "redis.yaml"}, secret)
}

// deleteCurl removes the example Work again.
func deleteCurl(hookURL string, t tenants.Trigger, secret string) string {
	body := `{"promise":"` + examplePromise(t) + `","resource":{"namespace":"default","name":"trigger-example"},"delete":true}`
	return hookCurl(shq(hookURL), "application/json", hookBody{inline: body}, secret)
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
