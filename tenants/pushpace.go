package tenants

import (
	"strings"
	"time"
)

// Push pacing (spec.pushInterval, a Stateward extension): the least time between
// two pushes to one Git store. Every push wakes every Flux or Argo CD controller
// and CI hook watching the repository, and GitHub recommends at most about six
// pushes a minute per repository; Works that arrive meanwhile join the next
// commit. The first Work after a quiet period still goes out at once.
const (
	// DefaultPushInterval paces a store that sets no interval.
	DefaultPushInterval = time.Second
	// GitHubPushInterval paces a store on github.com (or using a GitHub App)
	// that sets no interval.
	GitHubPushInterval = 10 * time.Second
	// MaxPushInterval is the longest interval a store may set.
	MaxPushInterval = 10 * time.Minute
)

// EffectivePushInterval is the least time between two pushes to the store: its
// spec.pushInterval when set (and valid), else DefaultPushIntervalFor its URL and
// auth method.
func (s GitStateStore) EffectivePushInterval() time.Duration {
	if d, err := ParsePushInterval(s.PushInterval); err == nil && s.PushInterval != "" {
		return d
	}
	return DefaultPushIntervalFor(s.URL, s.AuthMethod)
}

// DefaultPushIntervalFor is the interval of a store that sets none:
// GitHubPushInterval when its URL's host is github.com (https, ssh:// or
// scp-like) or it authenticates as a GitHub App, else DefaultPushInterval.
func DefaultPushIntervalFor(url, authMethod string) time.Duration {
	if authMethod == AuthGitHubApp {
		return GitHubPushInterval
	}
	u, err := ParseGitURL(strings.TrimSpace(url))
	if err != nil {
		return DefaultPushInterval
	}
	switch strings.ToLower(strings.TrimSuffix(u.Host, ".")) {
	case "github.com", "www.github.com", "ssh.github.com": // ssh.github.com: GitHub's SSH over port 443
		return GitHubPushInterval
	}
	return DefaultPushInterval
}

// ParsePushInterval reads a spec.pushInterval (a Go duration such as "10s" or
// "1m30s"); "" is 0 (the default applies). Errors are ValidationErrors of
// spec.pushInterval.
func ParsePushInterval(raw string) (time.Duration, error) {
	const field = "spec.pushInterval"
	if raw == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	switch {
	case err != nil:
		return 0, Invalid(field, "%q is not a duration (e.g. 10s, 1m30s)", raw)
	case d < 0:
		return 0, Invalid(field, "must not be negative")
	case d > MaxPushInterval:
		return 0, Invalid(field, "must be at most %s", MaxPushInterval)
	}
	return d, nil
}
