package tenants

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// CredentialEndpoint is where a store's credentials are sent: scheme, host and port
// ("https://git.example.com:443", "ssh://git.example.com:22"). Credentials are bound
// to the endpoint they were entered for; a store that moves to another endpoint
// needs them entered again, so an editor cannot point the owner's stored password
// at a server of their own. A githubApp store also sends a JWT signed with the
// App's key to its GitHub API, so its endpoint names both places.
func (s GitStateStore) CredentialEndpoint() string {
	ep := s.gitEndpoint()
	if s.AuthMethod == AuthGitHubApp && ep != "" {
		api := ""
		if u, err := url.Parse(s.GitHubAPI()); err == nil {
			api = joinEndpoint(u.Scheme, u.Hostname(), u.Port())
		}
		return ep + " (GitHub API " + api + ")"
	}
	return ep
}

func (s GitStateStore) gitEndpoint() string {
	u, err := ParseGitURL(s.URL)
	if err != nil || u.Form == FormFile {
		return ""
	}
	scheme, port := u.Form, ""
	if scheme == FormSCP {
		scheme = FormSSH
	}
	if u.Port > 0 {
		port = strconv.Itoa(u.Port)
	}
	return joinEndpoint(scheme, u.Host, port)
}

// CredentialEndpoint is the bucket's scheme, host and port (see GitStateStore.CredentialEndpoint).
func (s BucketStateStore) CredentialEndpoint() string {
	scheme := "https"
	if s.Insecure {
		scheme = "http"
	}
	u, err := url.Parse("//" + s.Endpoint)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	return joinEndpoint(scheme, u.Hostname(), u.Port())
}

var defaultPorts = map[string]string{"https": "443", "http": "80", "ssh": "22"}

func joinEndpoint(scheme, host, port string) string {
	scheme = strings.ToLower(scheme)
	if host == "" {
		return ""
	}
	if port == "" {
		port = defaultPorts[scheme]
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return scheme + "://" + net.JoinHostPort(host, port)
}
