package forge

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestParseRepo(t *testing.T) {
	for _, c := range []struct{ url, provider, path, api string }{
		{"https://github.com/acme/gitops.git", GitHub, "acme/gitops", "https://api.github.com"},
		{"git@github.com:acme/gitops.git", GitHub, "acme/gitops", "https://api.github.com"},
		{"https://ghe.acme.internal/acme/gitops", GitHub, "acme/gitops", "https://ghe.acme.internal/api/v3"},
		{"ssh://git@gitlab.acme.internal:2222/platform/team/gitops.git", GitLab, "platform/team/gitops", "https://gitlab.acme.internal/api/v4"},
		{"http://127.0.0.1:3000/stateward/gitops.git", Gitea, "stateward/gitops", "http://127.0.0.1:3000/api/v1"},
		{"https://gitea.acme.internal:443/acme/gitops.git", Gitea, "acme/gitops", "https://gitea.acme.internal/api/v1"},
	} {
		r, err := parseRepo(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if r.Path != c.path || r.apiBase(c.provider) != c.api {
			t.Errorf("%s: path %q api %q, want %q %q", c.url, r.Path, r.apiBase(c.provider), c.path, c.api)
		}
	}
	for _, bad := range []string{"https://github.com/gitops.git", "file:///srv/git/x.git", "https://github.com/a//b"} {
		if _, err := parseRepo(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if _, ok := RetryAfter(h, now); ok {
		t.Fatal("no header, but a wait")
	}
	h.Set("X-RateLimit-Reset", "1800000042")
	if d, _ := RetryAfter(h, now); d != 42*time.Second {
		t.Errorf("reset: %s", d)
	}
	h.Set("Retry-After", "3")
	if d, _ := RetryAfter(h, now); d != 3*time.Second {
		t.Errorf("retry-after: %s", d)
	}
	h.Set("Retry-After", now.Add(10*time.Second).UTC().Format(http.TimeFormat))
	if d, _ := RetryAfter(h, now); d != 10*time.Second {
		t.Errorf("retry-after date: %s", d)
	}
}

func TestPacerBurst(t *testing.T) {
	now := time.Unix(0, 0)
	p := newPacer(Config{Now: func() time.Time { return now }}, GitHub)
	var at []time.Duration
	for range 8 { // the waits are booked on the fake clock; measure the bookings
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // never sleep: a booking in the future answers ctx.Err()
		_ = p.wait(ctx)
		p.mu.Lock()
		at = append(at, p.last.Sub(now))
		p.mu.Unlock()
	}
	// Six at a second apart, then one per ten seconds.
	want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("bookings %v, want %v", at, want)
		}
	}
}

func TestPacer(t *testing.T) {
	now := time.Unix(0, 0)
	p := &pacer{every: time.Hour, now: func() time.Time { return now }}
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx); err == nil {
		t.Fatal("second call within the interval did not wait")
	}
}
