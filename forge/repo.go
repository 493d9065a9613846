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

// pacer spaces content-creating calls: a token bucket of burst calls refilled
// one per every, and at least gap between any two.
type pacer struct {
	every, gap time.Duration
	burst      int
	now        func() time.Time
	mu         sync.Mutex
	tat        time.Time // when the bucket is full again (theoretical arrival time)
	last       time.Time
}

// newPacer is the pacer of cfg: ContentInterval apart when set, else the
// provider's default (DefaultContentInterval sustained, with a small burst so
// that opening a pull request with its labels and webhook waits for nothing).
func newPacer(cfg Config, provider string) *pacer {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.ContentInterval != 0 {
		return &pacer{every: cfg.ContentInterval, burst: 1, now: now}
	}
	p := &pacer{every: DefaultContentInterval(provider), burst: 3, now: now}
	if provider == GitHub {
		p.burst, p.gap = 6, time.Second
	}
	return p
}

// wait blocks until the next content-creating call may go (or ctx ends) and
// books it.
func (p *pacer) wait(ctx interface {
	Done() <-chan struct{}
	Err() error
}) error {
	if p.every <= 0 && p.gap <= 0 {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	t := p.tat
	if t.Before(now) {
		t = now
	}
	at := t.Add(-time.Duration(max(p.burst, 1)-1) * p.every)
	if at.Before(now) {
		at = now
	}
	if g := p.last.Add(p.gap); p.gap > 0 && at.Before(g) {
		at = g
	}
	if t.Before(at) {
		t = at
	}
	p.tat, p.last = t.Add(p.every), at
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
		}
	}
	return nil
}

// RetryAfter reads a rate-limited answer's wait (also for the Git writers' own
// HTTP transport): Retry-After (seconds or an
// HTTP date), else X-RateLimit-Reset (GitHub: Unix seconds) or RateLimit-Reset
// (GitLab: Unix seconds), at least a second, at most an hour. ok is false when
// the answer names no wait.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
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
