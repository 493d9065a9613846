package views

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/stateward/stateward/tenants"
)

// fieldGroup is one <fieldset> of a form. Class lets CSS hide groups that do not
// apply (e.g. SSH fields while basicAuth is selected) without JavaScript.
type fieldGroup struct {
	Legend string
	Class  string
	Note   string
	Fields []FieldProps
}

// FieldNamed returns the field called name, so that an inline validation handler
// can answer with views.Field(f) for the input named by the HX-Trigger-Name header.
func FieldNamed(fields []FieldProps, name string) (FieldProps, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldProps{}, false
}

func flatten(groups []fieldGroup) []FieldProps {
	var out []FieldProps
	for _, g := range groups {
		out = append(out, g.Fields...)
	}
	return out
}

// fieldID is the element id of a field's input, derived from its name.
func fieldID(name string) string {
	return "f-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, name)
}

const secretNote = "Secrets are write-only: they are never shown again. A trailing newline " +
	"(from echo without -n) is removed automatically."

func secretHelp(edit bool, help string) string {
	if edit {
		return strings.TrimSpace(help + " Leave blank to keep the current secret.")
	}
	return help
}

// TeamFields are the "Create a team" form's fields.
func TeamFields(p TeamNewProps) []FieldProps {
	return []FieldProps{
		{Name: "slug", Label: "Slug", Value: p.Slug, Error: p.Errors.For("slug"), Required: true, Mono: true,
			Help:        "Lower-case letters, digits and '-', like a Kubernetes namespace. Used in URLs: /t/<slug>/.",
			Placeholder: "platform-team", ValidateURL: p.ValidateURL, Autocomplete: "off"},
		{Name: "name", Label: "Name", Value: p.Name, Error: p.Errors.For("name"), Required: true,
			Placeholder: "Platform Team", ValidateURL: p.ValidateURL},
	}
}

// SettingsFields are the team settings form's fields.
func SettingsFields(p SettingsProps) []FieldProps {
	return []FieldProps{
		{Name: "name", Label: "Team name", Value: p.Name, Error: p.Errors.For("name"), Required: true,
			ValidateURL: p.ValidateURL},
		{Name: "allowedDomain", Label: "Allowed email domain", Value: p.AllowedDomain,
			Error: p.Errors.For("allowedDomain"), Mono: true, Placeholder: "example.com", ValidateURL: p.ValidateURL,
			Help: "Anyone who signs in with a verified email in this domain joins as a viewer. Leave empty for invitation only."},
		{Name: "groupRoles", Label: "Identity provider groups", Type: "textarea", Rows: 4, Value: p.GroupRoles,
			Error: p.Errors.For("groupRoles"), Mono: true, Placeholder: "platform-admins = owner\nplatform = editor",
			Help: "One group = role per line (owner, editor or viewer). People whose ID token claim \"" + p.GroupsClaim +
				"\" lists the group get the role. Groups are read at every sign-in; 12 hours after one, the " +
				"dashboard asks to sign in again, so removal from a group takes effect within 12 hours."},
	}
}

func roleOptions() []Option {
	return []Option{
		{string(tenants.RoleViewer), "viewer — read only"},
		{string(tenants.RoleEditor), "editor — stores, destinations, works"},
		{string(tenants.RoleOwner), "owner — also members and settings"},
	}
}

// GitStoreFields are the Git store form's fields, in order.
func GitStoreFields(p GitStoreFormProps) []FieldProps { return flatten(gitGroups(p)) }

func gitGroups(p GitStoreFormProps) []fieldGroup {
	s, es, v := p.Store, p.Errors, p.ValidateURL
	branch := s.Branch
	if branch == "" && !p.Edit {
		branch = "main"
	}
	auth := s.AuthMethod
	if auth == "" {
		auth = tenants.AuthBasic
	}
	return []fieldGroup{
		{Legend: "Repository", Fields: []FieldProps{
			{Name: "metadata.name", Label: "Name", Value: s.Name, Error: es.For("metadata.name"), Required: true,
				ReadOnly: p.Edit, Mono: true, ValidateURL: unless(p.Edit, v), Placeholder: "platform-repo",
				Help: "Lower-case letters, digits, '-' and '.'; unique in this team."},
			{Name: "spec.url", Label: "Repository URL", Type: "text", Value: s.URL, Error: es.For("spec.url"),
				Required: true, Mono: true, ValidateURL: v, Placeholder: "https://github.com/org/repo.git",
				Help: "https://…, ssh://… or git@host:org/repo. A local development server also takes a bare repository on its own disk, spelled file:///absolute/path/repo.git (method none), outside Stateward's data dir; its hooks do not run (Stateward writes it in-process, not through git push)."},
			{Name: "spec.branch", Label: "Branch", Value: branch, Error: es.For("spec.branch"), Mono: true,
				ValidateURL: v, Help: "Default main."},
			{Name: "spec.path", Label: "Path", Value: s.Path, Error: es.For("spec.path"), Mono: true,
				ValidateURL: v, Placeholder: "clusters", Help: "Directory inside the repository; empty for the root."},
			{Name: "spec.pushInterval", Label: "Push interval", Value: s.PushInterval, Error: es.For("spec.pushInterval"), Mono: true,
				ValidateURL: v, Placeholder: tenants.DefaultPushIntervalFor(s.URL, s.AuthMethod).String(),
				Help: "Optional: the least time between two pushes (e.g. 30s, 0 to 10m); Works arriving meanwhile join the next commit. Empty: 10s on github.com or with a GitHub App, else 1s."},
		}},
		{Legend: "Authentication", Fields: []FieldProps{
			{Name: "spec.authMethod", Label: "Method", Type: "select", Value: auth, Error: es.For("spec.authMethod"),
				ValidateURL: v, Options: []Option{
					{tenants.AuthBasic, "basicAuth — username and password or token"},
					{tenants.AuthSSH, "ssh — private key and known_hosts"},
					{tenants.AuthGitHubApp, "githubApp — a GitHub App installation"},
					{tenants.AuthNone, "none — a public repository"},
				}},
		}},
		{Legend: "Basic auth", Class: "auth-basic", Note: secretNote, Fields: []FieldProps{
			{Name: "username", Label: "Username", Error: es.For("username"), Autocomplete: "off",
				Help: secretHelp(p.Edit, "Optional for most hosts when the password is a token.")},
			{Name: "password", Label: "Password or token", Type: "password", Error: es.For("password"),
				Help: secretHelp(p.Edit, "")},
		}},
		{Legend: "SSH", Class: "auth-ssh", Note: secretNote, Fields: []FieldProps{
			{Name: "sshPrivateKey", Label: "Private key", Type: "textarea", Mono: true, Rows: 5,
				Error: es.For("sshPrivateKey"), Placeholder: "-----BEGIN OPENSSH PRIVATE KEY-----",
				Help: secretHelp(p.Edit, "")},
			{Name: "knownHosts", Label: "known_hosts", Type: "textarea", Mono: true, Rows: 3,
				Error: es.For("knownHosts"), Placeholder: "github.com ssh-ed25519 AAAA…",
				Help: secretHelp(p.Edit, "Host keys are always checked: paste the output of ssh-keyscan.")},
		}},
		{Legend: "GitHub App", Class: "auth-githubapp", Note: secretNote, Fields: []FieldProps{
			{Name: "appID", Label: "App ID", Error: es.For("appID"), Autocomplete: "off", Mono: true,
				Help: secretHelp(p.Edit, "The number on the App's settings page (Secret key appID).")},
			{Name: "installationID", Label: "Installation ID", Error: es.For("installationID"), Autocomplete: "off", Mono: true,
				Help: secretHelp(p.Edit, "The number at the end of the installation's settings URL (Secret key installationID).")},
			{Name: "privateKey", Label: "Private key", Type: "textarea", Mono: true, Rows: 5,
				Error: es.For("privateKey"), Placeholder: "-----BEGIN RSA PRIVATE KEY-----",
				Help: secretHelp(p.Edit, "The .pem file GitHub generated for the App (Secret key privateKey).")},
			{Name: "spec.githubAPIURL", Label: "GitHub API URL", Value: s.GitHubAPIURL, Error: es.For("spec.githubAPIURL"),
				Mono: true, ValidateURL: v, Placeholder: tenants.DefaultGitHubAPIURL,
				Help: "Empty for github.com; GitHub Enterprise Server: https://HOST/api/v3."},
		}},
		prGroup(p),
		{Legend: "Pull request settings", Class: "pr-on", Note: secretNote, Fields: prFields(p)},
		{Legend: "Commit signing", Note: signingNote(p), Fields: []FieldProps{
			{Name: "signingKey", Label: "Signing key", Type: "textarea", Mono: true, Rows: 5,
				Error: es.For("signingKey"), Placeholder: "-----BEGIN PGP PRIVATE KEY BLOCK-----",
				Help: secretHelp(p.Edit, "Optional: an OpenPGP key (gpg --export-secret-keys --armor KEYID) or an SSH private key. Every commit is then signed and verified before it is pushed.")},
			{Name: "signingKeyPassphrase", Label: "Key passphrase", Type: "password", Error: es.For("signingKeyPassphrase"),
				Help: secretHelp(p.Edit, "Only for an encrypted key.")},
		}},
		{Legend: "Commits", Fields: []FieldProps{
			{Name: "spec.gitAuthor.name", Label: "Author name", Value: s.AuthorName, Placeholder: "stateward",
				Error: es.For("spec.gitAuthor.name"), Help: "Default stateward."},
			{Name: "spec.gitAuthor.email", Label: "Author email", Type: "email", Value: s.AuthorEmail,
				Error: es.For("spec.gitAuthor.email"), ValidateURL: v, Placeholder: "stateward@example.com",
				Help: "Default " + tenants.DefaultGitAuthorEmail + "."},
			{Name: "spec.authorFromRequester", Label: "Requester is the author", Type: "checkbox", Checked: s.AuthorFromRequester,
				Error: es.For("spec.authorFromRequester"),
				Help:  "When one person asked for every Work of a commit, they are its author and the author above its committer; otherwise each person is a Co-authored-by trailer."},
			{Name: "spec.commitMessage", Label: "Commit message template", Type: "textarea", Mono: true, Rows: 4, Value: s.CommitMessage,
				Error: es.For("spec.commitMessage"), ValidateURL: v, Placeholder: `{{index (index .Works 0).Labels "jira"}} {{.Summary}}`,
				Help: "Optional Go text/template for the subject and body (fields: .Works, .Destinations, .Store, .Team, .Summary); the Stateward-Work and Requested-By trailers are always appended."},
		}},
		{Legend: "TLS", Fields: []FieldProps{
			{Name: "spec.insecure", Label: "Allow http:// (insecure)", Type: "checkbox", Checked: s.Insecure,
				Error: es.For("spec.insecure"), Help: "Plain HTTP sends credentials unencrypted."},
			{Name: "spec.caBundle", Label: "CA bundle", Type: "textarea", Mono: true, Rows: 3, Value: s.CABundle,
				Error: es.For("spec.caBundle"), Placeholder: "-----BEGIN CERTIFICATE-----",
				Help: "PEM certificates to trust instead of the system roots; empty for the system roots."},
		}},
	}
}

// prGroup is the pull-request choice of a Git store: none (push, as Kratix
// does) or the host whose pull requests carry every write.
func prGroup(p GitStoreFormProps) fieldGroup {
	provider := prProvider(p.Store)
	return fieldGroup{Legend: "Pull request", Fields: []FieldProps{
		{Name: "spec.pullRequest.provider", Label: "Provider", Type: "select", Value: provider,
			Error: p.Errors.For("spec.pullRequest.provider"), ValidateURL: p.ValidateURL, Options: []Option{
				{PRProviderNone, "none — push to the branch"},
				{tenants.ProviderGitHub, "github — a pull request on GitHub"},
				{tenants.ProviderGitLab, "gitlab — a merge request on GitLab"},
				{tenants.ProviderGitea, "gitea — a pull request on Gitea or Forgejo"},
			},
			Help: "With a provider, every write goes through one pull request from a head branch into the branch above, for branches nobody may push to without review."},
	}}
}

// PRProviderNone is the form's provider for a store that pushes (no
// spec.pullRequest).
const PRProviderNone = "none"

func prProvider(s tenants.GitStateStore) string {
	if s.PullRequest == nil || s.PullRequest.Provider == "" {
		return PRProviderNone
	}
	return s.PullRequest.Provider
}

// prFields are a pull-request store's settings, shown unless the provider is
// none.
func prFields(p GitStoreFormProps) []FieldProps {
	s, es, v := p.Store, p.Errors, p.ValidateURL
	var pr tenants.PullRequestSpec
	if s.PullRequest != nil {
		pr = *s.PullRequest
	}
	merge := cmp.Or(pr.Merge, tenants.MergeManual)
	head := "stateward/<store name>"
	if s.Name != "" {
		head = tenants.DefaultHeadBranch(s.Name)
	}
	return []FieldProps{
		{Name: "spec.pullRequest.apiURL", Label: "API URL", Value: pr.APIURL, Error: es.For("spec.pullRequest.apiURL"),
			Mono: true, ValidateURL: v, Placeholder: PRAPIPlaceholder(prProvider(s), s.URL),
			Help: "Empty: derived from the repository URL (github.com: https://api.github.com). GitHub Enterprise Server: https://HOST/api/v3; GitLab: https://HOST/api/v4; Gitea and Forgejo: https://HOST/api/v1."},
		{Name: "spec.pullRequest.headBranch", Label: "Head branch", Value: pr.Head, Error: es.For("spec.pullRequest.headBranch"),
			Mono: true, ValidateURL: v, Placeholder: head,
			Help: "The branch Stateward commits to and opens the pull request from; empty for stateward/<store name>. Never the branch above."},
		{Name: "spec.pullRequest.merge", Label: "Merge", Type: "select", Value: merge, Error: es.For("spec.pullRequest.merge"),
			ValidateURL: v, Options: []Option{
				{tenants.MergeManual, "manual — a person merges the pull request"},
				{tenants.MergeAuto, "auto — Stateward merges once the host allows it (checks and reviews passed)"},
			}},
		{Name: "spec.pullRequest.labels", Label: "Labels", Value: strings.Join(pr.Labels, ", "),
			Error: forPrefix(es, "spec.pullRequest.labels"), Mono: true, ValidateURL: v, Placeholder: "gitops, stateward",
			Help: "Comma-separated labels put on the pull request; optional."},
		{Name: "webhookSecret", Label: "Webhook secret", Type: "password", Error: es.For("webhookSecret"),
			Help: secretHelp(p.Edit, "The secret the host signs its webhooks with (Secret key webhookSecret): merges are then noticed in seconds. Without it Stateward looks every 30 s.")},
	}
}

// forPrefix is the first message for field or one of its elements
// (spec.pullRequest.labels[2]).
func forPrefix(es tenants.ValidationErrors, field string) string {
	for _, e := range es {
		if e.Field == field || strings.HasPrefix(e.Field, field+"[") || strings.HasPrefix(e.Field, field+".") {
			return e.Message
		}
	}
	return ""
}

// PRAPIPlaceholder is the API URL a provider's client derives from the
// repository URL when spec.pullRequest.apiURL is empty.
func PRAPIPlaceholder(provider, repoURL string) string {
	host, scheme := "", "https://"
	if u, err := tenants.ParseGitURL(repoURL); err == nil {
		host = u.Host
		if u.Form == tenants.FormHTTP || u.Form == tenants.FormHTTPS {
			if u.Port != 0 {
				host += ":" + strconv.Itoa(u.Port) // the API is on the repository's web port
			}
			if u.Form == tenants.FormHTTP {
				scheme = "http://" // the client derives http:// from an http:// repository
			}
		}
	}
	switch {
	case provider == tenants.ProviderGitHub && (host == "" || host == "github.com"):
		return "https://api.github.com"
	case host == "":
		host = "HOST"
	}
	switch provider {
	case tenants.ProviderGitHub:
		return scheme + host + "/api/v3"
	case tenants.ProviderGitLab:
		return scheme + host + "/api/v4"
	case tenants.ProviderGitea:
		return scheme + host + "/api/v1"
	}
	return "derived from the repository URL"
}

// signingNote says whether the store signs its commits now, by the key's
// fingerprint (never the key).
func signingNote(p GitStoreFormProps) string {
	if f := p.Store.SigningKeyFingerprint; p.Edit && f != "" {
		return "Commits are signed with key " + f + ". " + secretNote
	}
	return secretNote
}

// BucketStoreFields are the Bucket store form's fields, in order.
func BucketStoreFields(p BucketStoreFormProps) []FieldProps { return flatten(bucketGroups(p)) }

func bucketGroups(p BucketStoreFormProps) []fieldGroup {
	s, es, v := p.Store, p.Errors, p.ValidateURL
	auth := s.AuthMethod
	if auth == "" {
		auth = tenants.AuthAccessKey
	}
	return []fieldGroup{
		{Legend: "Bucket", Fields: []FieldProps{
			{Name: "metadata.name", Label: "Name", Value: s.Name, Error: es.For("metadata.name"), Required: true,
				ReadOnly: p.Edit, Mono: true, ValidateURL: unless(p.Edit, v), Placeholder: "platform-bucket",
				Help: "Lower-case letters, digits, '-' and '.'; unique in this team."},
			{Name: "spec.endpoint", Label: "Endpoint", Value: s.Endpoint, Error: es.For("spec.endpoint"),
				Required: true, Mono: true, ValidateURL: v, Placeholder: "s3.amazonaws.com",
				Help: "host[:port], without a scheme."},
			{Name: "spec.bucketName", Label: "Bucket name", Value: s.BucketName, Error: es.For("spec.bucketName"),
				Required: true, Mono: true, ValidateURL: v, Placeholder: "kratix"},
			{Name: "spec.path", Label: "Path", Value: s.Path, Error: es.For("spec.path"), Mono: true,
				ValidateURL: v, Help: "Prefix inside the bucket; empty for the root."},
			{Name: "spec.region", Label: "Region", Value: s.Region, Error: es.For("spec.region"), Mono: true,
				Placeholder: "us-east-1", Help: "Optional."},
			{Name: "spec.insecure", Label: "Plain HTTP (insecure)", Type: "checkbox", Checked: s.Insecure,
				Error: es.For("spec.insecure"), Help: "For a local MinIO; credentials travel unencrypted."},
		}},
		{Legend: "Authentication", Fields: []FieldProps{
			{Name: "spec.authMethod", Label: "Method", Type: "select", Value: auth, Error: es.For("spec.authMethod"),
				ValidateURL: v, Options: []Option{
					{tenants.AuthAccessKey, "accessKey — access key ID and secret"},
					{tenants.AuthIAM, "IAM — the host's ambient credentials"},
				}},
		}},
		{Legend: "Access key", Class: "auth-key", Note: secretNote, Fields: []FieldProps{
			{Name: "accessKeyID", Label: "Access key ID", Type: "password", Mono: true, Error: es.For("accessKeyID"),
				Help: secretHelp(p.Edit, "")},
			{Name: "secretAccessKey", Label: "Secret access key", Type: "password", Mono: true,
				Error: es.For("secretAccessKey"), Help: secretHelp(p.Edit, "")},
		}},
	}
}

// unless returns "" when cond holds, else v.
func unless(cond bool, v string) string {
	if cond {
		return ""
	}
	return v
}

// modeHelp explains each filepath mode in one line.
var modeHelp = []Option{
	{tenants.ModeNested, "nestedByMetadata — dependencies/ and resources/ directories per promise and request (default)"},
	{tenants.ModeAggregated, "aggregatedYAML — every document in one file"},
	{tenants.ModeNone, "none — files at the destination path as the pipeline named them"},
	{tenants.ModeLegacy, "legacy — the older <destination>/dependencies/… layout of the Kratix docs"},
}

// DestinationFields are the Destination form's simple fields (labels and sample
// inputs are rendered separately), in order.
func DestinationFields(p DestinationFormProps) []FieldProps {
	d, es, v := p.Dest, p.Errors, p.ValidateURL
	mode := d.Mode
	if mode == "" {
		mode = tenants.ModeNested
	}
	cleanup := d.Cleanup
	if cleanup == "" {
		cleanup = tenants.CleanupNone
	}
	filename := d.Filename
	if filename == "" {
		filename = tenants.DefaultAggregatedFilename
	}
	stores := []Option{{"", "— choose a State Store —"}}
	for _, s := range p.Stores {
		stores = append(stores, Option{StoreRefValue(s.Kind, s.Name), kindLabel(s.Kind) + ": " + s.Name})
	}
	storeErr := cmp.Or(es.For("spec.stateStoreRef"), es.For("spec.stateStoreRef.kind"), es.For("spec.stateStoreRef.name"))
	modeNote := "Cannot be changed after creation."
	return []FieldProps{
		{Name: "metadata.name", Label: "Name", Value: d.Name, Error: es.For("metadata.name"), Required: true,
			ReadOnly: p.Edit, Mono: true, ValidateURL: unless(p.Edit, v), Placeholder: "worker-cluster",
			Help: "Lower-case letters, digits, '-' and '.'; unique in this team."},
		{Name: "spec.stateStoreRef", Label: "State Store", Type: "select", Value: storeRefOf(d), Error: storeErr,
			Required: true, Options: stores, ValidateURL: v},
		{Name: "spec.path", Label: "Path", Value: d.Path, Error: es.For("spec.path"), Required: true, Mono: true,
			ValidateURL: v, Placeholder: "worker-cluster",
			Help: "Directory inside the State Store; \".\" for the store root. Must not overlap another Destination."},
		{Name: "spec.filepath.mode", Label: "Layout (filepath mode)", Type: "select", Value: mode,
			Error: es.For("spec.filepath.mode"), Disabled: p.Edit, Options: modeHelp, Help: modeNote},
		{Name: "spec.filepath.filename", Label: "File name (aggregatedYAML)", Value: filename, Mono: true,
			Error: es.For("spec.filepath.filename"), ValidateURL: v, Help: "Default aggregated.yaml."},
		{Name: "spec.strictMatchLabels", Label: "Strict label matching", Type: "checkbox",
			Checked: d.StrictMatchLabels, Error: es.For("spec.strictMatchLabels"),
			Help: "Works without destination selectors skip this Destination."},
		{Name: "spec.cleanup", Label: "On delete", Type: "select", Value: cleanup, Error: es.For("spec.cleanup"),
			Options: []Option{
				{tenants.CleanupNone, "none — leave the files in the store (default)"},
				{tenants.CleanupAll, "all — delete every file Stateward wrote here"},
			}},
		{Name: "spec.initWorkloads.enabled", Label: "Write canary files", Type: "checkbox",
			Checked: d.InitWorkloads, Error: es.For("spec.initWorkloads.enabled"),
			Help: "kratix-canary files that show a GitOps agent is reading this path."},
	}
}

func storeRefOf(d tenants.Destination) string {
	if d.StoreName == "" {
		return ""
	}
	return StoreRefValue(d.StoreKind, d.StoreName)
}

// inputAttrs are the attributes an input, select or textarea shares: identity,
// accessibility, browser checks and inline validation.
func inputAttrs(f FieldProps) templ.OrderedAttributes {
	id := fieldID(f.Name)
	a := templ.OrderedAttributes{{Key: "id", Value: id}, {Key: "name", Value: f.Name}}
	var describedBy []string
	if f.Help != "" {
		describedBy = append(describedBy, id+"-help")
	}
	if f.Error != "" {
		describedBy = append(describedBy, id+"-error")
		a = append(a, templ.KV[string, any]("aria-invalid", "true"))
	}
	if len(describedBy) > 0 {
		a = append(a, templ.KV[string, any]("aria-describedby", strings.Join(describedBy, " ")))
	}
	if f.Mono {
		a = append(a, templ.KV[string, any]("class", "mono"), templ.KV[string, any]("spellcheck", "false"))
	}
	if f.Placeholder != "" {
		a = append(a, templ.KV[string, any]("placeholder", f.Placeholder))
	}
	if ac := autocomplete(f); ac != "" {
		a = append(a, templ.KV[string, any]("autocomplete", ac))
	}
	a = append(a,
		templ.KV[string, any]("required", f.Required && !f.ReadOnly && !f.Disabled),
		templ.KV[string, any]("readonly", f.ReadOnly),
		templ.KV[string, any]("disabled", f.Disabled))
	if f.ValidateURL != "" && !f.ReadOnly && !f.Disabled {
		a = append(a,
			templ.KV[string, any]("hx-post", f.ValidateURL),
			templ.KV[string, any]("hx-trigger", "change"),
			templ.KV[string, any]("hx-target", "#"+id+"-error"),
			templ.KV[string, any]("hx-swap", "outerHTML"))
	}
	return a
}

func autocomplete(f FieldProps) string {
	switch {
	case f.Autocomplete != "":
		return f.Autocomplete
	case f.Type == "password":
		return "new-password"
	case isSecret(f):
		return "off"
	}
	return ""
}

// isSecret reports whether a field carries a credential: its value is never rendered.
func isSecret(f FieldProps) bool {
	switch f.Name {
	case "password", "sshPrivateKey", "knownHosts", "accessKeyID", "secretAccessKey", "username":
		return true
	}
	return f.Type == "password"
}

// fieldValue is the value to render: never a secret's.
func fieldValue(f FieldProps) string {
	if isSecret(f) {
		return ""
	}
	return f.Value
}

func inputType(f FieldProps) string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func rows(f FieldProps) int {
	if f.Rows == 0 {
		return 4
	}
	return f.Rows
}

func fieldClass(f FieldProps) string {
	c := "field field-" + inputType(f)
	if f.Error != "" {
		c += " invalid"
	}
	return c
}

// destMainFields are the fields above the label editor: name, store, path.
func destMainFields(p DestinationFormProps) []FieldProps { return DestinationFields(p)[:3] }

// destLayoutFields are the fields below it: mode, filename, strictness, cleanup,
// canaries.
func destLayoutFields(p DestinationFormProps) []FieldProps { return DestinationFields(p)[3:] }

// labelPair is one label of the label editor.
type labelPair struct{ Key, Value string }

// labelPairs are the labels in key order, or one empty row when there are none.
func labelPairs(labels map[string]string) []labelPair {
	out := make([]labelPair, 0, len(labels))
	for k, v := range labels {
		out = append(out, labelPair{k, v})
	}
	slices.SortFunc(out, func(a, b labelPair) int { return cmp.Compare(a.Key, b.Key) })
	if len(out) == 0 {
		out = append(out, labelPair{})
	}
	return out
}

// sampleFields are the preview's sample Work inputs, with Kratix's example values
// as defaults.
func sampleFields(s SampleInputs) []FieldProps {
	return []FieldProps{
		{Name: "samplePromise", Label: "Promise", Value: orDefault(s.Promise, "redis"), Mono: true},
		{Name: "sampleNamespace", Label: "Resource namespace", Value: orDefault(s.Namespace, "default"), Mono: true},
		{Name: "sampleResource", Label: "Resource name", Value: orDefault(s.Resource, "my-request"), Mono: true},
		{Name: "samplePipeline", Label: "Pipeline", Value: s.Pipeline, Mono: true, Placeholder: "optional"},
	}
}

// destFormAction is the default target of the Destination form.
func destFormAction(s Shell, p DestinationFormProps) string {
	if p.Edit {
		return tpath(s, "destinations", p.Dest.Name)
	}
	return tpath(s, "destinations")
}

// sentence joins a field's label and its message when the message continues the
// label ("is required" → "Name is required"); other messages stand alone.
func sentence(label, msg string) string {
	for _, verb := range []string{"is ", "are ", "must ", "has ", "was "} {
		if strings.HasPrefix(msg, verb) {
			return label + " " + msg
		}
	}
	return msg
}

// fieldMessage is the message under a field, as a sentence with its label.
func fieldMessage(f FieldProps) string { return sentence(f.Label, f.Error) }

// otherLabels name the inputs that are not FieldProps (the label and file editors)
// and the API paths a form's errors may carry.
var otherLabels = map[string][2]string{
	"metadata.labels": {"Labels", "label-rows"},
	"files":           {"Files", "file-rows"},
}

// summaryItem is one line of a form's error summary: the label a person sees on
// the form (never the API path), the anchor of its input, and the message.
type summaryItem struct{ Label, Anchor, Message string }

// summaryItems maps errors to the form's labels: an exact field, a field whose name
// the error's path extends (spec.stateStoreRef.name → State Store), or a known
// editor; anything else keeps its message alone.
func summaryItems(es tenants.ValidationErrors, fields []FieldProps) []summaryItem {
	out := make([]summaryItem, 0, len(es))
	for _, e := range es {
		it := summaryItem{Message: e.Message}
		for _, f := range fields {
			if e.Field == f.Name || strings.HasPrefix(e.Field, f.Name+".") || strings.HasPrefix(e.Field, f.Name+"[") {
				it.Label, it.Anchor = f.Label, fieldID(f.Name)
				break
			}
		}
		if it.Label == "" {
			if l, ok := otherLabels[e.Field]; ok {
				it.Label, it.Anchor = l[0], l[1]
			} else if i := strings.LastIndex(e.Field, "destinationSelectors"); i >= 0 {
				it.Label, it.Anchor = "Destination selectors", fieldID("destinationSelectors")
			}
		}
		if it.Label != "" {
			if it.Message = sentence(it.Label, e.Message); it.Message == e.Message {
				it.Message = it.Label + ": " + e.Message
			}
		}
		out = append(out, it)
	}
	return out
}

// badLabelKey reports whether errs name key as a bad label key.
func badLabelKey(errs tenants.ValidationErrors, key string) bool {
	return slices.ContainsFunc(errs.ForAll("metadata.labels"), func(m string) bool {
		return strings.HasPrefix(m, "label key "+strconv.Quote(key)+":") || strings.HasPrefix(m, "label "+strconv.Quote(key)+" appears twice")
	})
}

// badLabelValue reports whether errs name the value of key as bad.
func badLabelValue(errs tenants.ValidationErrors, key string) bool {
	return slices.ContainsFunc(errs.ForAll("metadata.labels"), func(m string) bool {
		return strings.HasPrefix(m, "label "+strconv.Quote(key)+" value ")
	})
}
