package writers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/forge"
)

// Rate limits. A Git host that refuses a push or a fetch for rate limiting
// (HTTP 429; a 403 with Retry-After, with X-RateLimit-Remaining: 0, or saying
// GitHub's "secondary rate limit" / "rate limit exceeded") is neither refusing
// the content nor failing: the job waits as long as the host says and tries
// again, its placements show retrying with the host's words, and the store is
// not marked failing. go-git's HTTP transport drops the response headers of a
// 403 or 429 (plumbing/transport/http NewErr), so the store's RoundTripper
// (rateLimitTransport) reads them and turns such a response into a
// *RateLimitedError first.

// Bounds of the wait a host asks for.
const (
	// DefaultRateLimitWait is the wait when the host names none.
	DefaultRateLimitWait = time.Minute
	// MaxRateLimitWait caps what a host may ask for.
	MaxRateLimitWait = time.Hour
	// rateLimitBody bounds how much of a refusal's body is read.
	rateLimitBody = 4 << 10
)

// RateLimitedError is a request the host refused for rate limiting.
type RateLimitedError struct {
	// Status is the HTTP status (0 when only the message said so, e.g. over SSH).
	Status int
	// Wait is how long the host asked to wait (Retry-After, X-RateLimit-Reset,
	// else DefaultRateLimitWait).
	Wait time.Duration
	// Message is the host's own words, bounded.
	Message string
}

func (e *RateLimitedError) Error() string {
	var b strings.Builder
	b.WriteString("rate limited by the host")
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	fmt.Fprintf(&b, "; retrying in %s", e.Wait)
	return b.String()
}

// rateLimitTransport turns a response refusing the request for rate limiting
// into a *RateLimitedError; every other response passes unchanged.
type rateLimitTransport struct {
	next http.RoundTripper
	now  func() time.Time
}

func (t rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil || (res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusForbidden) {
		return res, err
	}
	body, rerr := io.ReadAll(io.LimitReader(res.Body, rateLimitBody))
	if rerr != nil {
		body = nil
	}
	words := hostWords(body)
	limited := res.StatusCode == http.StatusTooManyRequests || res.Header.Get("Retry-After") != "" ||
		res.Header.Get("X-RateLimit-Remaining") == "0" || rateLimitWords(words)
	if !limited {
		// Not ours: go-git reads the refusal as before.
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), res.Body), res.Body}
		return res, nil
	}
	_ = res.Body.Close()
	return nil, &RateLimitedError{Status: res.StatusCode, Wait: retryAfter(res.Header, t.now()), Message: words}
}

// retryAfter is the wait a response asks for, read as the pull-request API
// clients read it (forge.RetryAfter: Retry-After in seconds or as an HTTP
// date, else the rate-limit reset), else DefaultRateLimitWait; at least a
// second, at most MaxRateLimitWait.
func retryAfter(h http.Header, now time.Time) time.Duration {
	wait, ok := forge.RetryAfter(h, now)
	if !ok {
		wait = DefaultRateLimitWait
	}
	return min(max(wait, time.Second), MaxRateLimitWait)
}

// hostWords is what a refusal's body says: a JSON body's "message" (GitHub,
// GitLab), else its text, on one line and bounded.
func hostWords(body []byte) string {
	var j struct {
		Message string `json:"message"`
	}
	text := string(body)
	if json.Unmarshal(body, &j) == nil && j.Message != "" {
		text = j.Message
	}
	text = strings.Join(strings.Fields(strings.ToValidUTF8(text, "")), " ")
	if len(text) > 300 {
		text = strings.ToValidUTF8(text[:300], "") + "…"
	}
	return text
}

// rateLimitWords reports whether a host's message says it refused for rate
// limiting (GitHub: "You have exceeded a secondary rate limit", "API rate limit
// exceeded"; GitLab and others: "Too Many Requests").
func rateLimitWords(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "secondary rate limit") || strings.Contains(m, "rate limit exceeded") ||
		strings.Contains(m, "too many requests")
}

// rateLimited finds the *RateLimitedError in err's chain, also behind go-git's
// plumbing.UnexpectedError (which does not unwrap). A Git error that only says
// so in words (a remote over SSH, a sideband message) counts too, with the
// default wait.
func rateLimited(err error) (*RateLimitedError, bool) {
	for e := err; e != nil; {
		var rl *RateLimitedError
		if errors.As(e, &rl) {
			return rl, true
		}
		var ue *plumbing.UnexpectedError
		if !errors.As(e, &ue) {
			break
		}
		e = ue.Err
	}
	var gitErr *remoteError
	if errors.As(err, &gitErr) && rateLimitWords(gitErr.Error()) {
		return &RateLimitedError{Wait: DefaultRateLimitWait, Message: gitErr.Error()}, true
	}
	return nil, false
}
