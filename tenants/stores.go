package tenants

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

// Store kinds, as Kratix names them.
const (
	KindGit    = "GitStateStore"
	KindBucket = "BucketStateStore"
)

// Git authentication methods.
const (
	AuthBasic     = "basicAuth"
	AuthSSH       = "ssh"
	AuthGitHubApp = "githubApp"
	AuthNone      = "none"
)

// Bucket authentication methods.
const (
	AuthAccessKey = "accessKey"
	AuthIAM       = "IAM"
)

// Status is a State Store's (or Destination's) last readiness check, and for a
// store whether its last write failed for a transport or authentication reason.
type Status struct {
	// Ready is nil until the first check has finished ("unknown").
	Ready       *bool
	Message     string
	LastChecked *time.Time
	// WriteError is the store's own message when its last write failed for a
	// transport or authentication reason ("" when it did not); the next write or
	// check that passes clears it. Scheduling does not follow it (see Failing):
	// one network blip must not send new Works elsewhere for good.
	WriteError    string
	WriteFailedAt *time.Time
}

// WriteFailing reports whether the store's last write failed for a transport or
// authentication reason.
func (s Status) WriteFailing() bool { return s.WriteError != "" }

// Troubled reports whether the store is to be shown failing: its last check
// failed, or its last write did since.
func (s Status) Troubled() bool { return s.Failing() || s.WriteFailing() }

// Known reports whether a check has finished.
func (s Status) Known() bool { return s.Ready != nil }

// Failing reports whether the last check said not ready. It is what scheduling
// follows; a failed write does not change it.
func (s Status) Failing() bool { return s.Ready != nil && !*s.Ready }

// StoreRef names one State Store of one tenant.
type StoreRef struct {
	TenantID int64
	Kind     string
	Name     string
}

// GitCredentials are a Git store's secrets. They are write-only: sealed before they
// reach the database and never rendered back.
type GitCredentials struct {
	Username      string
	Password      string
	SSHPrivateKey string
	KnownHosts    string
	// AppID, InstallationID and PrivateKey (PEM, RSA) are a GitHub App's, for
	// authMethod githubApp: the Secret keys Kratix reads.
	AppID          string
	InstallationID string
	PrivateKey     string
	// SigningKey (an ASCII-armored OpenPGP private key, or an SSH private key)
	// signs every commit Stateward makes for the store; SigningKeyPassphrase
	// opens it when it is encrypted. Any auth method may carry one.
	SigningKey           string
	SigningKeyPassphrase string
	// WebhookSecret verifies the webhooks a pull-request store's host delivers
	// (the Secret key "webhookSecret").
	WebhookSecret string
}

// GitStateStore is a Git repository Stateward writes to.
type GitStateStore struct {
	ID          int64
	TenantID    int64
	Name        string
	URL         string
	Branch      string // default "main"
	Path        string
	SecretRef   string // name of the Secret the credentials came from (for export)
	AuthMethod  string // basicAuth (default) | ssh | none
	AuthorName  string // default "stateward"
	AuthorEmail string
	Insecure    bool   // allows http:// URLs
	CABundle    string // PEM; empty = system roots
	// GitHubAPIURL is where a githubApp store exchanges its App's JWT for an
	// installation token; empty = https://api.github.com. GitHub Enterprise
	// Server: https://HOST/api/v3.
	GitHubAPIURL string
	// PushInterval is spec.pushInterval as written (a Go duration, "" = the
	// default; see EffectivePushInterval).
	PushInterval string
	// SigningKeyFingerprint is the public fingerprint of the signing key (OpenPGP:
	// upper-case hex, as gpg prints it; SSH: SHA256:…), "" when commits are not
	// signed. Derived from
	// Credentials.SigningKey when the store is saved; safe to show.
	SigningKeyFingerprint string
	// PullRequest, when set, sends every write through one pull request into
	// Branch (spec.pullRequest, a Stateward extension).
	PullRequest *PullRequestSpec
	// CommitMessage is a text/template for the subject and body of each commit
	// (spec.commitMessage, a Stateward extension; see CommitMessageData); ""
	// keeps the default message. The trailers are appended after it.
	CommitMessage string
	// AuthorFromRequester makes the person who submitted every Work of a commit
	// its author (spec.authorFromRequester, a Stateward extension).
	AuthorFromRequester bool
	// HookID names the store in its webhook URL (/hooks/git/<HookID>); random,
	// set when the store is created.
	HookID string
	// PR is the store's pull request and webhook as Stateward last saw them.
	PR          StorePullRequest
	Credentials GitCredentials
	// SecretMissing: the Secret SecretRef names did not exist when the store was
	// applied. The store is kept (a folder of YAML applies in any order), not
	// ready, and nothing is written to it until the Secret is applied.
	SecretMissing bool
	Status        Status
	UpdatedAt     time.Time
}

// BucketCredentials are a bucket store's secrets (write-only).
type BucketCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// BucketStateStore is an S3-compatible bucket Stateward writes to.
type BucketStateStore struct {
	ID          int64
	TenantID    int64
	Name        string
	Endpoint    string // host[:port], no scheme
	BucketName  string
	Path        string
	Insecure    bool // plain HTTP
	Region      string
	SecretRef   string
	AuthMethod  string // accessKey (default) | IAM
	Credentials BucketCredentials
	// SecretMissing: see GitStateStore.SecretMissing.
	SecretMissing bool
	Status        Status
	UpdatedAt     time.Time
}

// SecretMissingMessage is the status of a store waiting for its Secret.
func SecretMissingMessage(secret string) string {
	return "Secret `" + secret + "` not found: the store becomes ready when the Secret is applied"
}

// StoreMissingMessage is the status of a Destination waiting for its State Store.
func StoreMissingMessage(kind, name string) string {
	return "State Store `" + name + "` not found: the Destination becomes ready when " + kind + " `" + name + "` is applied"
}

// UseSecret fills the credentials the store's auth method reads from s (and
// trims them); it no longer waits for a Secret.
func (s *GitStateStore) UseSecret(sec Secret) {
	fillGit(s, sec)
	s.SecretMissing = false
}

// UseSecret fills the credentials the store's auth method reads from s.
func (s *BucketStateStore) UseSecret(sec Secret) {
	fillBucket(s, sec)
	s.SecretMissing = false
}

// Normalize fills defaults and trims what users commonly paste with a trailing
// newline (Kratix users' `echo` without -n).
func (s *GitStateStore) Normalize() {
	s.URL = strings.TrimSpace(s.URL)
	s.Branch = strings.TrimSpace(s.Branch)
	if s.Branch == "" {
		s.Branch = "main"
	}
	if s.AuthMethod == "" {
		s.AuthMethod = AuthBasic
	}
	if s.AuthorName == "" {
		s.AuthorName = "stateward"
	}
	s.Path = cleanStorePath(s.Path)
	s.Credentials.Username = TrimSecret(s.Credentials.Username)
	s.Credentials.Password = TrimSecret(s.Credentials.Password)
	s.Credentials.KnownHosts = strings.TrimSpace(s.Credentials.KnownHosts)
	if k := strings.TrimSpace(s.Credentials.SSHPrivateKey); k != "" {
		s.Credentials.SSHPrivateKey = k + "\n"
	}
	s.normalizeAppAndSigning()
	s.PushInterval = strings.TrimSpace(s.PushInterval)
	s.normalizePR()
	s.Credentials.WebhookSecret = TrimSecret(s.Credentials.WebhookSecret)
}

// Validate checks every field of a Git store; it reports all problems at once.
func (s *GitStateStore) Validate() error {
	var es ValidationErrors
	_ = es.Add(ValidateName("metadata.name", s.Name))
	_ = es.Add(validateGitURL(s.URL, s.Insecure))
	if strings.ContainsAny(s.Branch, " ~^:?*[\\") || strings.Contains(s.Branch, "..") {
		_ = es.Add(Invalid("spec.branch", "%q is not a valid branch name", s.Branch))
	}
	_ = es.Add(validateStorePath("spec.path", s.Path))
	switch s.AuthMethod {
	case AuthBasic:
		if s.Credentials.Password == "" {
			_ = es.Add(Invalid("password", "is required for basicAuth (the Secret key \"password\")"))
		}
	case AuthSSH:
		if s.Credentials.SSHPrivateKey == "" {
			_ = es.Add(Invalid("sshPrivateKey", "is required for ssh (the Secret key \"sshPrivateKey\")"))
		}
		if s.Credentials.KnownHosts == "" {
			_ = es.Add(Invalid("knownHosts", "is required for ssh: host keys are always checked"))
		}
	case AuthGitHubApp:
		s.validateGitHubApp(&es)
	case AuthNone:
	default:
		_ = es.Add(Invalid("spec.authMethod", "must be basicAuth, ssh, githubApp or none"))
	}
	if s.AuthMethod != AuthGitHubApp && s.GitHubAPIURL != "" {
		_ = es.Add(Invalid("spec.githubAPIURL", "is only used with authMethod githubApp"))
	}
	if _, err := ParsePushInterval(s.PushInterval); err != nil {
		_ = es.Add(err)
	}
	s.validateSigningKey(&es)
	s.validatePR(&es)
	if s.CommitMessage != "" {
		_ = es.Add(ValidateCommitMessage("spec.commitMessage", s.CommitMessage))
	}
	if s.AuthorEmail != "" {
		if _, err := ValidateEmail("spec.gitAuthor.email", s.AuthorEmail); err != nil {
			_ = es.Add(err)
		}
	}
	return es.Err()
}

func validateGitURL(raw string, insecure bool) error {
	u, err := ParseGitURL(raw)
	if err != nil {
		return err
	}
	if u.Form == FormHTTP && !insecure {
		return Invalid("spec.url", "http:// is only allowed with insecure: true; use https://")
	}
	return nil
}

// DefaultGitAuthorEmail signs the commits of a store without gitAuthor.email, so
// that no commit carries an empty address ("stateward <>").
const DefaultGitAuthorEmail = "stateward@localhost"

// ErrFileURL refuses a file:// store where the server is shared: such a URL reaches
// the server's own disk.
var ErrFileURL = errors.New("file:// repositories are only allowed in the local default (development login on loopback); use https://, ssh:// or git@host:path")

// Normalize fills defaults and trims pasted secrets.
func (s *BucketStateStore) Normalize() {
	s.Endpoint = strings.TrimSpace(s.Endpoint)
	s.BucketName = strings.TrimSpace(s.BucketName)
	s.Region = strings.TrimSpace(s.Region)
	if s.AuthMethod == "" {
		s.AuthMethod = AuthAccessKey
	}
	s.Path = cleanStorePath(s.Path)
	s.Credentials.AccessKeyID = TrimSecret(s.Credentials.AccessKeyID)
	s.Credentials.SecretAccessKey = TrimSecret(s.Credentials.SecretAccessKey)
}

// Validate checks every field of a bucket store.
func (s *BucketStateStore) Validate() error {
	var es ValidationErrors
	_ = es.Add(ValidateName("metadata.name", s.Name))
	_ = es.Add(validateEndpoint(s.Endpoint))
	if s.BucketName == "" {
		_ = es.Add(Invalid("spec.bucketName", "is required"))
	} else if len(s.BucketName) < 3 || len(s.BucketName) > 63 || ValidateName("", s.BucketName) != nil {
		_ = es.Add(Invalid("spec.bucketName", "%q is not a valid bucket name (3-63 lower-case letters, digits, '-' and '.')", s.BucketName))
	}
	_ = es.Add(validateStorePath("spec.path", s.Path))
	switch s.AuthMethod {
	case AuthAccessKey:
		if s.Credentials.AccessKeyID == "" {
			_ = es.Add(Invalid("accessKeyID", "is required for accessKey (the Secret key \"accessKeyID\")"))
		}
		if s.Credentials.SecretAccessKey == "" {
			_ = es.Add(Invalid("secretAccessKey", "is required for accessKey (the Secret key \"secretAccessKey\")"))
		}
	case AuthIAM:
	default:
		_ = es.Add(Invalid("spec.authMethod", "must be accessKey or IAM"))
	}
	return es.Err()
}

func validateEndpoint(ep string) error {
	const field = "spec.endpoint"
	if ep == "" {
		return Invalid(field, "is required (host[:port], without scheme)")
	}
	if strings.Contains(ep, "://") {
		return Invalid(field, "%q must not include a scheme; set insecure: true for plain HTTP", ep)
	}
	u, err := url.Parse("//" + ep)
	if err != nil || u.Host != ep || u.Hostname() == "" {
		return Invalid(field, "%q is not host[:port]", ep)
	}
	return nil
}

// TrimSecret removes the trailing newline (and surrounding blanks) that `echo`
// without -n leaves in a pasted secret.
func TrimSecret(s string) string { return strings.TrimSpace(s) }

func cleanStorePath(p string) string {
	p = strings.TrimSpace(p)
	return strings.Trim(p, "/")
}

func validateStorePath(field, p string) error {
	if strings.ContainsAny(p, "\\\x00") {
		return Invalid(field, "%q must not contain backslashes or NUL", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return Invalid(field, "%q must not contain '..'", p)
		}
		if strings.EqualFold(seg, ".git") {
			return Invalid(field, "%q must not contain a .git segment", p)
		}
	}
	return nil
}
