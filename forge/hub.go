package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// This file holds what the GitHub and GitLab providers share: the credential
// added to each request, the length check of a proposal, and label sets.

// hubTokenTransport adds the credential of Config.Token to every request: the
// token is asked for per request because a GitHub App installation token
// changes over time.
type hubTokenTransport struct {
	base  http.RoundTripper
	token func(ctx context.Context) (string, error)
	// set writes the header (GitHub: Authorization Bearer; GitLab: PRIVATE-TOKEN).
	set func(h http.Header, token string)
}

func (t *hubTokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("forge: token for %s: %w", req.URL.Host, err)
	}
	if tok == "" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("forge: the token for %s is empty", req.URL.Host)
	}
	req = req.Clone(req.Context())
	t.set(req.Header, tok)
	return t.base.RoundTrip(req)
}

// hubHTTPClient is a copy of cfg's client (http.DefaultClient when nil) whose
// transport adds the token with set.
func hubHTTPClient(cfg Config, set func(h http.Header, token string)) (*http.Client, error) {
	if cfg.Token == nil {
		return nil, errors.New("forge: Config.Token is nil")
	}
	c := http.DefaultClient
	if cfg.HTTPClient != nil {
		c = cfg.HTTPClient
	}
	cp := *c
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &hubTokenTransport{base: base, token: cfg.Token, set: set}
	return &cp, nil
}

// hubCheck refuses a proposal the host would refuse for its length (a Forge
// never truncates).
func hubCheck(l Limits, title, body string) error {
	if n := utf8.RuneCountInString(title); n > l.Title {
		return fmt.Errorf("forge: title is %d characters, the host accepts at most %d", n, l.Title)
	}
	if n := utf8.RuneCountInString(body); n > l.Body {
		return fmt.Errorf("forge: body is %d characters, the host accepts at most %d", n, l.Body)
	}
	return nil
}

// hubSameLabels reports whether a and b hold the same labels, in any order.
func hubSameLabels(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// hubNow is cfg's clock.
func hubNow(cfg Config) func() time.Time {
	if cfg.Now != nil {
		return cfg.Now
	}
	return time.Now
}

// hubPacer is the pacer of cfg's content-creating calls.
func hubPacer(cfg Config) *pacer {
	cfg.Now = hubNow(cfg)
	return newPacer(cfg, cfg.Provider)
}
