package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Verify checks that a webhook delivery comes from the host that knows secret,
// by the provider's own scheme:
//
//   - GitHub: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of the
//     body keyed with the secret;
//   - Gitea: X-Gitea-Signature is the hex HMAC-SHA256 of the body (Forgejo
//     sends the same as X-Forgejo-Signature, which is taken when Gitea's is
//     absent);
//   - GitLab: X-Gitlab-Token is the secret itself.
//
// Every comparison is constant-time. An empty secret never verifies. A missing
// or wrong header is ErrBadSignature, wrapped with the header's name.
func Verify(provider, secret string, h http.Header, body []byte) error {
	if secret == "" {
		return fmt.Errorf("no webhook secret is set: %w", ErrBadSignature)
	}
	switch provider {
	case GitHub:
		const name = "X-Hub-Signature-256"
		v := h.Get(name)
		if v == "" {
			return fmt.Errorf("no %s header: %w", name, ErrBadSignature)
		}
		hexSum, ok := strings.CutPrefix(v, "sha256=")
		if !ok || !hmacMatches(secret, body, hexSum) {
			return fmt.Errorf("%s does not match the body: %w", name, ErrBadSignature)
		}
		return nil
	case Gitea:
		name := "X-Gitea-Signature"
		v := h.Get(name)
		if v == "" {
			name = "X-Forgejo-Signature"
			v = h.Get(name)
		}
		if v == "" {
			return fmt.Errorf("no X-Gitea-Signature (or X-Forgejo-Signature) header: %w", ErrBadSignature)
		}
		if !hmacMatches(secret, body, v) {
			return fmt.Errorf("%s does not match the body: %w", name, ErrBadSignature)
		}
		return nil
	case GitLab:
		const name = "X-Gitlab-Token"
		v := h.Get(name)
		if v == "" {
			return fmt.Errorf("no %s header: %w", name, ErrBadSignature)
		}
		// Comparing digests keeps the secret's length out of the timing too.
		got, want := sha256.Sum256([]byte(v)), sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fmt.Errorf("%s is not the webhook secret: %w", name, ErrBadSignature)
		}
		return nil
	default:
		return fmt.Errorf("forge: unknown provider %q", provider)
	}
}

// hmacMatches reports whether hexSum is the hex HMAC-SHA256 of body keyed
// with secret (either case of hex digits).
func hmacMatches(secret string, body []byte, hexSum string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(hexSum))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Event kinds.
const (
	EventPullRequest = "pull_request"
	EventPush        = "push"
	EventPing        = "ping"
	EventOther       = "other"
)

// hookPayload holds the fields of the three providers' payloads that Parse
// reads; each provider fills some of them.
type hookPayload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	Ref         string `json:"ref"`
	PullRequest *struct {
		Number int    `json:"number"`
		State  string `json:"state"`
		Merged bool   `json:"merged"`
	} `json:"pull_request"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender struct {
		Login    string `json:"login"`
		Username string `json:"username"` // Gitea sends both
	} `json:"sender"`
	// GitLab.
	ObjectAttributes struct {
		IID    int    `json:"iid"`
		State  string `json:"state"`
		Action string `json:"action"`
	} `json:"object_attributes"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	UserUsername string `json:"user_username"`
	Project      struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// Parse reads what a webhook delivery says, from the provider's event header
// (X-GitHub-Event; X-Gitea-Event, else X-Gitea-Event-Type or Forgejo's
// X-Forgejo-Event; X-Gitlab-Event) and its documented payload. Pull-request
// events include the reviews (GitHub pull_request_review, Gitea
// pull_request_approved/_rejected/_comment), since an approval can make a
// pull request mergeable. An event Stateward does not use is Kind "other".
// Verify the delivery first: Parse trusts its input.
func Parse(provider string, h http.Header, body []byte) (Event, error) {
	var kind, header string
	switch provider {
	case GitHub:
		header = h.Get("X-GitHub-Event")
		switch header {
		case "pull_request", "pull_request_review":
			kind = EventPullRequest
		case "push":
			kind = EventPush
		case "ping":
			kind = EventPing
		}
	case Gitea:
		header = h.Get("X-Gitea-Event")
		if header == "" {
			header = h.Get("X-Gitea-Event-Type")
		}
		if header == "" {
			header = h.Get("X-Forgejo-Event")
		}
		switch {
		case header == "push":
			kind = EventPush
		case header == "pull_request" || strings.HasPrefix(header, "pull_request_"):
			kind = EventPullRequest
		}
	case GitLab:
		header = h.Get("X-Gitlab-Event")
		switch header {
		case "Merge Request Hook":
			kind = EventPullRequest
		case "Push Hook":
			kind = EventPush
		}
	default:
		return Event{}, fmt.Errorf("forge: unknown provider %q", provider)
	}
	if header == "" {
		return Event{}, fmt.Errorf("forge: %s webhook without an event header", provider)
	}
	if kind == "" {
		return Event{Kind: EventOther}, nil
	}
	var p hookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("forge: %s %q webhook: %w", provider, header, err)
	}
	if provider == GitLab {
		return gitlabEvent(kind, p), nil
	}
	ev := Event{Kind: kind, Action: p.Action, Sender: p.Sender.Login, Repo: p.Repository.FullName}
	if ev.Sender == "" {
		ev.Sender = p.Sender.Username
	}
	switch kind {
	case EventPush:
		ev.Ref = p.Ref
	case EventPullRequest:
		if p.PullRequest == nil {
			return Event{}, fmt.Errorf("forge: %s %q webhook without pull_request", provider, header)
		}
		ev.Number = p.Number
		if ev.Number == 0 {
			ev.Number = p.PullRequest.Number
		}
		switch {
		case p.PullRequest.Merged:
			ev.State = Merged
		case p.PullRequest.State == "closed":
			ev.State = Closed
		default:
			ev.State = Open
		}
	}
	return ev, nil
}

// gitlabEvent reads a GitLab merge request or push hook.
func gitlabEvent(kind string, p hookPayload) Event {
	ev := Event{Kind: kind, Repo: p.Project.PathWithNamespace}
	if kind == EventPush {
		ev.Ref, ev.Sender = p.Ref, p.UserUsername
		return ev
	}
	a := p.ObjectAttributes
	ev.Number, ev.Action, ev.Sender = a.IID, a.Action, p.User.Username
	switch {
	case a.State == "merged" || a.Action == "merge":
		ev.State = Merged
	case a.State == "closed" || a.Action == "close":
		ev.State = Closed
	default: // opened, locked
		ev.State = Open
	}
	return ev
}
