package tenants

import (
	"net/netip"
	"path"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Forms of a Git store URL, as the dialling parser reads it.
const (
	FormHTTPS = "https"
	FormHTTP  = "http"
	FormSSH   = "ssh" // ssh://user@host/path
	FormSCP   = "scp" // user@host:path (scp-like SSH)
	FormFile  = "file"
)

// GitURL is a Git store URL as go-git's endpoint parser (transport.NewEndpoint,
// the parser that dials it) reads it. Whether a URL reaches the network or this
// machine's disk is decided here, from that parser's answer, and nowhere else: a
// look-alike rule once took "/x@localhost:y/../../srv/r.git" for scp-like SSH
// while go-git opened it as a local path.
type GitURL struct {
	Form     string
	Endpoint *transport.Endpoint
	// Host is the host the endpoint dials (an IPv6 literal in brackets), "" for FormFile.
	Host string
	// Port is the endpoint's port, 0 for the scheme's default.
	Port int
}

// FileURLHelp is how the local default's only local spelling is written.
const FileURLHelp = "a repository on this machine is written file:///absolute/path/repo.git (and only in the local default)"

// urlScheme is go-git's own test for a URL with a scheme (internal/url.MatchesScheme).
var urlScheme = regexp.MustCompile(`^[^:]+://`)

// ParseGitURL classifies raw with go-git's endpoint parser and refuses what no
// store may name: anything go-git would open on this machine unless it is spelled
// file:///absolute/path (which only the local default then allows, see
// LocalRepos), a scheme other than https, http and ssh, a host that is not a DNS
// name or IP address, and a password in the URL. Errors are ValidationErrors of
// spec.url.
func ParseGitURL(raw string) (GitURL, error) {
	const field = "spec.url"
	if raw == "" {
		return GitURL{}, Invalid(field, "is required")
	}
	if strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return GitURL{}, Invalid(field, "must not contain control characters")
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return GitURL{}, Invalid(field, "%q is not a repository URL (https://…, ssh://… or git@host:path)", raw)
	}
	if ep.Protocol == "file" || hasFilePrefix(raw) {
		return parseFileURL(raw, ep)
	}
	u := GitURL{Form: ep.Protocol, Endpoint: ep, Host: ep.Host, Port: ep.Port}
	if !urlScheme.MatchString(raw) {
		u.Form = FormSCP // transport.NewEndpoint's parseSCPLike
	}
	switch u.Form {
	case FormHTTPS, FormHTTP, FormSSH, FormSCP:
	default:
		return GitURL{}, Invalid(field, "scheme %q is not supported; use https://, ssh:// or git@host:path", ep.Protocol)
	}
	if err := checkGitHost(u); err != nil {
		return GitURL{}, err
	}
	if ep.Password != "" || strings.Contains(ep.User, ":") {
		return GitURL{}, Invalid(field, "must not contain a password; put it in the Secret")
	}
	return u, nil
}

// hasFilePrefix: "file:/abs" and "file:relative" are scp-like to go-git (a host
// named "file"), but every reader takes them for local paths; they are refused.
func hasFilePrefix(raw string) bool {
	return len(raw) >= 5 && strings.EqualFold(raw[:5], "file:")
}

// parseFileURL accepts a local repository only as file:///absolute/path, with a
// clean path (no "..", ".", "//" or trailing "/"), so that the path checked is the
// path opened. Every other local spelling (a bare path, ./rel, ~/x, C:\x, file:/x,
// file://host/x, FILE:///x, …) is refused.
func parseFileURL(raw string, ep *transport.Endpoint) (GitURL, error) {
	const field = "spec.url"
	if !strings.HasPrefix(raw, "file:///") || ep.Protocol != "file" || ep.Host != "" || ep.User != "" || ep.Port != 0 {
		return GitURL{}, Invalid(field, "%q names a path on the server: %s", raw, FileURLHelp)
	}
	if p := ep.Path; !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
		return GitURL{}, Invalid(field, "%q: write the absolute path without \"..\", \".\", \"//\" or a trailing \"/\" (file:///srv/gitops.git)", raw)
	}
	return GitURL{Form: FormFile, Endpoint: ep}, nil
}

// checkGitHost refuses a host that is not a DNS name or an IP address. An scp-like
// address cannot carry an IPv6 literal (git reads the brackets differently) nor a
// one-letter host (git on Windows reads "C:x" as a drive).
func checkGitHost(u GitURL) error {
	const field = "spec.url"
	h := u.Host
	if strings.HasPrefix(h, "[") {
		if u.Form == FormSCP {
			return Invalid(field, "an scp-like address cannot carry an IPv6 literal; write ssh://user@[address]/path")
		}
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		if err != nil || !ip.Is6() || ip.Zone() != "" || !strings.HasSuffix(h, "]") {
			return Invalid(field, "%q is not an IPv6 address", h)
		}
		return nil
	}
	if !validHostName(h) {
		return Invalid(field, "%q is not a host name or IP address", h)
	}
	if u.Form == FormSCP && strings.HasPrefix(u.Endpoint.Path, ":") {
		return Invalid(field, "%q is git's <transport>::<address> syntax, which Stateward does not speak", h+":"+u.Endpoint.Path)
	}
	if u.Form == FormSCP && len(h) == 1 {
		return Invalid(field, "%q: a one-letter host is a drive letter to git; write ssh://user@host/path", h)
	}
	return nil
}

// validHostName: dot-separated labels of letters, digits, '-' and '_' (not
// starting with '-'), at most one trailing dot.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// GitHost returns the host a Git URL dials (an IPv6 literal in brackets), "" when
// it names no valid remote (a local path included).
func GitHost(raw string) string {
	u, err := ParseGitURL(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
