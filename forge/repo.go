package forge

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// repoRef is a repository as a host's API names it.
type repoRef struct {
	// Host is the Git URL's host (no port for ssh: the API is on https).
	Host string
	// Port is the Git URL's port for http(s) URLs, 0 otherwise.
	Port int
	// Scheme is "http" for an http:// Git URL, else "https".
	Scheme string
	// Path is owner/name (GitLab: group/subgroup/project), without ".git".
	Path string
}

// parseRepo reads the repository out of a store's Git URL with go-git's own
// endpoint parser (the one that dials it).
func parseRepo(raw string) (repoRef, error) {
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return repoRef{}, fmt.Errorf("forge: %q is not a repository URL", raw)
	}
	r := repoRef{Host: ep.Host, Scheme: "https"}
	switch ep.Protocol {
	case "http":
		r.Scheme, r.Port = "http", ep.Port
	case "https":
		r.Port = ep.Port
	case "ssh":
	default:
		return repoRef{}, fmt.Errorf("forge: %q: a pull-request store needs an https, http or ssh URL", raw)
	}
	p := strings.Trim(ep.Path, "/")
	p = strings.TrimSuffix(p, ".git")
	if r.Host == "" || !strings.Contains(p, "/") || strings.Contains(p, "//") {
		return repoRef{}, fmt.Errorf("forge: %q does not name a repository as owner/name", raw)
	}
	r.Path = p
	return r, nil
}

// origin is scheme://host[:port] of the Git URL.
func (r repoRef) origin() string {
	if r.Port != 0 && !(r.Scheme == "https" && r.Port == 443) && !(r.Scheme == "http" && r.Port == 80) {
		return fmt.Sprintf("%s://%s:%d", r.Scheme, r.Host, r.Port)
	}
	return r.Scheme + "://" + r.Host
}

// apiBase is the provider's default REST base URL for the repository's host.
func (r repoRef) apiBase(provider string) string {
	switch provider {
	case GitHub:
		if r.Host == "github.com" {
			return "https://api.github.com"
		}
		return r.origin() + "/api/v3"
	case GitLab:
		return r.origin() + "/api/v4"
	default:
		return r.origin() + "/api/v1"
	}
}

// owner and name split an owner/name path (GitHub, Gitea).
func (r repoRef) owner() string { o, _, _ := strings.Cut(r.Path, "/"); return o }
func (r repoRef) name() string  { _, n, _ := strings.Cut(r.Path, "/"); return n }

// pacer spaces content-creating calls at least every apart.
type pacer struct {
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	next  time.Time
}

// wait blocks until the next content-creating call may go (or ctx ends) and
// books the slot after it.
func (p *pacer) wait(ctx interface {
	Done() <-chan struct{}
	Err() error
}) error {
	if p.every <= 0 {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// retryAfter reads a rate-limited answer's wait: Retry-After (seconds or an
// HTTP date), else X-RateLimit-Reset (GitHub: Unix seconds) or RateLimit-Reset
// (GitLab: Unix seconds), at least a second, at most an hour. ok is false when
// the answer names no wait.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	clamp := func(d time.Duration) time.Duration { return min(max(d, time.Second), time.Hour) }
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			return clamp(time.Duration(s) * time.Second), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clamp(t.Sub(now)), true
		}
	}
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		if v := h.Get(k); v != "" {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil {
				return clamp(time.Unix(s, 0).Sub(now)), true
			}
		}
	}
	return 0, false
}
