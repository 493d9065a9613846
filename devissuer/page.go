package devissuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
)

// pageTitle is the title of every page the issuer renders.
const pageTitle = "Stateward development sign-in"

// pageCSS is inlined in every page and allowed by hash in the Content-Security-Policy.
const pageCSS = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f3f4f6;color:#1f2328}
main{box-sizing:border-box;width:min(100% - 2rem,26rem);margin:1rem 0;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin:0 0 .75rem}
p{line-height:1.45;margin:.5rem 0}
.note{font-size:.9rem;color:#57606a}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;border:1px solid #afb8c1;border-radius:.4rem}
button{box-sizing:border-box;width:100%;margin-top:1.25rem;padding:.7rem;font:inherit;border:0;border-radius:.4rem;background:#1f5bd6;color:#fff;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #8ab4f8;outline-offset:1px}
.recent button{margin-top:.5rem;background:#e7eefc;color:#173f99;text-align:left;overflow-wrap:anywhere}
.problem{padding:.6rem .75rem;border-radius:.4rem;background:#fdecea;color:#8a1c12;overflow-wrap:anywhere}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#e6e8eb}main{background:#23262d}.note{color:#a8b0ba}input{background:#16181c;color:#e6e8eb;border-color:#57606a}.recent button{background:#2b3350;color:#cfdaff}.problem{background:#4b1f1b;color:#ffd8d3}}
`

var styleHash = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var pages = template.Must(template.New("head").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + pageTitle + `</title>
<style>` + pageCSS + `</style>
</head>
{{define "sign-in"}}{{template "head"}}
<body>
<main>
<h1>` + pageTitle + `</h1>
<p>This is Stateward's built-in <strong>development identity provider</strong>. It runs only because no OpenID Connect issuer is configured and the server listens on loopback.</p>
<p class="note">There is no password: anyone who can open this page can sign in as any email address. Configure STATEWARD_OIDC_ISSUER before anyone else can reach this server.</p>
{{if .Problem}}<p class="problem" role="alert" data-testid="problem">{{.Problem}}</p>{{end}}
<form method="post" action="authorize" data-testid="sign-in-form">
{{with .Request}}<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}">
{{if .Nonce}}<input type="hidden" name="nonce" value="{{.Nonce}}">
{{end}}<input type="hidden" name="code_challenge" value="{{.CodeChallenge}}">
<input type="hidden" name="code_challenge_method" value="S256">{{end}}
<label for="email">Email</label>
<input id="email" name="email" type="email" required maxlength="254" autocomplete="email" autofocus placeholder="dev@example.com" value="{{.Email}}">
<label for="name">Name <span class="note">(optional)</span></label>
<input id="name" name="name" type="text" maxlength="100" autocomplete="name" value="{{.Name}}">
<button type="submit" data-testid="sign-in">Sign in</button>
{{if .Recent}}<div class="recent">
<p class="note">Or continue as a recently used identity:</p>
{{range .Recent}}<button type="submit" name="recent" value="{{.Email}}" formnovalidate data-testid="recent-user">{{.Email}}{{if .Name}} ({{.Name}}){{end}}</button>
{{end}}</div>{{end}}
</form>
</main>
</body>
</html>
{{end}}
{{define "error"}}{{template "head"}}
<body>
<main>
<h1>Sign-in request refused</h1>
<p class="problem" role="alert" data-testid="error">{{.}}</p>
<p class="note">This is Stateward's development identity provider. The request does not name the registered application and redirect URI, so it is not sent back anywhere.</p>
</main>
</body>
</html>
{{end}}`))

// signInPage is the data of the sign-in page.
type signInPage struct {
	Request     authRequest
	Email, Name string // as entered, when the form is shown again
	Problem     string
	Recent      []user
}

func (i *Issuer) renderSignIn(w http.ResponseWriter, status int, page signInPage) {
	page.Recent = i.store.recentUsers()
	formAction := "'self'"
	if u, err := url.Parse(page.Request.RedirectURI); err == nil && u.Host != "" {
		// Browsers apply form-action to the redirect that follows the POST.
		formAction += " " + u.Scheme + "://" + u.Host
	}
	render(w, status, "sign-in", page, formAction)
}

func renderError(w http.ResponseWriter, status int, message string) {
	render(w, status, "error", message, "'none'")
}

// render executes a page into a buffer first, so a failure never sends half a page.
func render(w http.ResponseWriter, status int, name string, data any, formAction string) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		slog.Error("devissuer: render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleHash+
		"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
