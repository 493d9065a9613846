package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func hexHMAC(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerify(t *testing.T) {
	const secret, body = "s3cret-of-the-store", `{"action":"closed","number":7}`
	sum := hexHMAC(secret, body)
	for _, c := range []struct {
		name, provider, secret, body string
		h                            http.Header
		ok                           bool
		// wantIn is a word the error names (the header) when !ok.
		wantIn string
	}{
		{"github good", GitHub, secret, body, header("X-Hub-Signature-256", "sha256="+sum), true, ""},
		{"github upper-case hex", GitHub, secret, body, header("X-Hub-Signature-256", "sha256="+strings.ToUpper(sum)), true, ""},
		{"github tampered body", GitHub, secret, body + " ", header("X-Hub-Signature-256", "sha256="+sum), false, "X-Hub-Signature-256"},
		{"github wrong secret", GitHub, "other", body, header("X-Hub-Signature-256", "sha256="+sum), false, "X-Hub-Signature-256"},
		{"github no prefix", GitHub, secret, body, header("X-Hub-Signature-256", sum), false, "X-Hub-Signature-256"},
		{"github sha1 header only", GitHub, secret, body, header("X-Hub-Signature", "sha1=00"), false, "X-Hub-Signature-256"},
		{"github missing", GitHub, secret, body, header(), false, "X-Hub-Signature-256"},
		{"github not hex", GitHub, secret, body, header("X-Hub-Signature-256", "sha256=zz"), false, "X-Hub-Signature-256"},
		{"github empty secret", GitHub, "", body, header("X-Hub-Signature-256", "sha256="+hexHMAC("", body)), false, "secret"},
		{"gitea good", Gitea, secret, body, header("X-Gitea-Signature", sum), true, ""},
		{"forgejo good", Gitea, secret, body, header("X-Forgejo-Signature", sum), true, ""},
		{"gitea tampered", Gitea, secret, `{"action":"opened","number":7}`, header("X-Gitea-Signature", sum), false, "X-Gitea-Signature"},
		{"gitea wrong secret", Gitea, secret, body, header("X-Gitea-Signature", hexHMAC("guess", body)), false, "X-Gitea-Signature"},
		{"gitea github header only", Gitea, secret, body, header("X-Hub-Signature-256", "sha256="+sum), false, "X-Gitea-Signature"},
		{"gitea wrong gitea, right forgejo", Gitea, secret, body, header("X-Gitea-Signature", hexHMAC("x", body), "X-Forgejo-Signature", sum), false, "X-Gitea-Signature"},
		{"gitea empty secret", Gitea, "", body, header("X-Gitea-Signature", hexHMAC("", body)), false, "secret"},
		{"gitlab good", GitLab, secret, body, header("X-Gitlab-Token", secret), true, ""},
		{"gitlab wrong", GitLab, secret, body, header("X-Gitlab-Token", secret+"x"), false, "X-Gitlab-Token"},
		{"gitlab prefix", GitLab, secret, body, header("X-Gitlab-Token", secret[:5]), false, "X-Gitlab-Token"},
		{"gitlab missing", GitLab, secret, body, header(), false, "X-Gitlab-Token"},
		{"gitlab empty secret", GitLab, "", body, header("X-Gitlab-Token", ""), false, "secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.provider, c.secret, c.h, []byte(c.body))
			if c.ok {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
			if !strings.Contains(err.Error(), c.wantIn) {
				t.Errorf("Verify = %q, want it to name %q", err, c.wantIn)
			}
		})
	}
	if err := Verify("bitbucket", secret, header("X-Gitlab-Token", secret), nil); err == nil || errors.Is(err, ErrBadSignature) {
		t.Errorf("unknown provider: %v, want an error that is not a bad signature", err)
	}
}

// Payloads shaped like the providers' documentation, trimmed to what Parse
// reads and a little around it.
const (
	githubPRMerged = `{"action":"closed","number":42,"pull_request":{"url":"https://api.github.com/repos/acme/gitops/pulls/42","number":42,"state":"closed","merged":true,"merge_commit_sha":"6dcb09b5","merged_by":{"login":"octocat"}},"repository":{"full_name":"acme/gitops"},"sender":{"login":"octocat","type":"User"}}`
	githubPRClosed = `{"action":"closed","number":43,"pull_request":{"number":43,"state":"closed","merged":false},"repository":{"full_name":"acme/gitops"},"sender":{"login":"hubot"}}`
	githubPROpened = `{"action":"opened","number":44,"pull_request":{"number":44,"state":"open","merged":false},"repository":{"full_name":"acme/gitops"},"sender":{"login":"stateward[bot]"}}`
	githubReview   = `{"action":"submitted","review":{"state":"approved"},"pull_request":{"number":44,"state":"open"},"repository":{"full_name":"acme/gitops"},"sender":{"login":"reviewer"}}`
	githubPush     = `{"ref":"refs/heads/main","before":"0000","after":"6dcb09b5","repository":{"full_name":"acme/gitops"},"pusher":{"name":"octocat"},"sender":{"login":"octocat"}}`
	githubPing     = `{"zen":"Design for failure.","hook_id":12,"repository":{"full_name":"acme/gitops"},"sender":{"login":"octocat"}}`

	giteaPRMerged = `{"action":"closed","number":3,"pull_request":{"id":9,"number":3,"state":"closed","merged":true,"merge_commit_sha":"a1b2"},"repository":{"full_name":"stateward/gitops"},"sender":{"id":2,"login":"alice","username":"alice"},"commit_id":""}`
	giteaPRClosed = `{"action":"closed","number":4,"pull_request":{"number":4,"state":"closed","merged":false},"repository":{"full_name":"stateward/gitops"},"sender":{"login":"bob","username":"bob"}}`
	giteaApproved = `{"action":"reviewed","number":4,"pull_request":{"number":4,"state":"open","merged":false},"review":{"type":"pull_request_review_approved","content":"ok"},"repository":{"full_name":"stateward/gitops"},"sender":{"username":"carol"}}`
	giteaPush     = `{"ref":"refs/heads/stateward/gitops","before":"00","after":"a1","repository":{"full_name":"stateward/gitops"},"pusher":{"login":"stateward"},"sender":{"login":"stateward","username":"stateward"}}`

	gitlabMRMerged = `{"object_kind":"merge_request","event_type":"merge_request","user":{"id":1,"name":"Administrator","username":"root"},"project":{"id":1,"path_with_namespace":"platform/team/gitops"},"object_attributes":{"id":99,"iid":5,"state":"merged","action":"merge","target_branch":"main","source_branch":"stateward/gitops"}}`
	gitlabMRClosed = `{"object_kind":"merge_request","user":{"username":"jsmith"},"project":{"path_with_namespace":"platform/gitops"},"object_attributes":{"iid":6,"state":"closed","action":"close"}}`
	gitlabMROpen   = `{"object_kind":"merge_request","user":{"username":"stateward-bot"},"project":{"path_with_namespace":"platform/gitops"},"object_attributes":{"iid":7,"state":"opened","action":"open"}}`
	gitlabMRLocked = `{"object_kind":"merge_request","user":{"username":"jsmith"},"project":{"path_with_namespace":"platform/gitops"},"object_attributes":{"iid":7,"state":"locked","action":"update"}}`
	gitlabPush     = `{"object_kind":"push","ref":"refs/heads/main","user_username":"jsmith","user_name":"John Smith","project":{"path_with_namespace":"platform/gitops"}}`
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, provider string
		h              http.Header
		body           string
		want           Event
	}{
		{"github merged", GitHub, header("X-GitHub-Event", "pull_request"), githubPRMerged,
			Event{Kind: EventPullRequest, Number: 42, Action: "closed", State: Merged, Sender: "octocat", Repo: "acme/gitops"}},
		{"github closed", GitHub, header("X-GitHub-Event", "pull_request"), githubPRClosed,
			Event{Kind: EventPullRequest, Number: 43, Action: "closed", State: Closed, Sender: "hubot", Repo: "acme/gitops"}},
		{"github opened", GitHub, header("X-GitHub-Event", "pull_request"), githubPROpened,
			Event{Kind: EventPullRequest, Number: 44, Action: "opened", State: Open, Sender: "stateward[bot]", Repo: "acme/gitops"}},
		{"github review", GitHub, header("X-GitHub-Event", "pull_request_review"), githubReview,
			Event{Kind: EventPullRequest, Number: 44, Action: "submitted", State: Open, Sender: "reviewer", Repo: "acme/gitops"}},
		{"github push", GitHub, header("X-GitHub-Event", "push"), githubPush,
			Event{Kind: EventPush, Ref: "refs/heads/main", Sender: "octocat", Repo: "acme/gitops"}},
		{"github ping", GitHub, header("X-GitHub-Event", "ping"), githubPing,
			Event{Kind: EventPing, Sender: "octocat", Repo: "acme/gitops"}},
		{"github issues", GitHub, header("X-GitHub-Event", "issues"), `not even JSON`, Event{Kind: EventOther}},
		{"gitea merged", Gitea, header("X-Gitea-Event", "pull_request"), giteaPRMerged,
			Event{Kind: EventPullRequest, Number: 3, Action: "closed", State: Merged, Sender: "alice", Repo: "stateward/gitops"}},
		{"gitea closed", Gitea, header("X-Gitea-Event", "pull_request", "X-Gitea-Event-Type", "pull_request"), giteaPRClosed,
			Event{Kind: EventPullRequest, Number: 4, Action: "closed", State: Closed, Sender: "bob", Repo: "stateward/gitops"}},
		{"gitea approved", Gitea, header("X-Gitea-Event", "pull_request_approved"), giteaApproved,
			Event{Kind: EventPullRequest, Number: 4, Action: "reviewed", State: Open, Sender: "carol", Repo: "stateward/gitops"}},
		{"gitea event type only", Gitea, header("X-Gitea-Event-Type", "pull_request_review_approved"), giteaApproved,
			Event{Kind: EventPullRequest, Number: 4, Action: "reviewed", State: Open, Sender: "carol", Repo: "stateward/gitops"}},
		{"forgejo push", Gitea, header("X-Forgejo-Event", "push"), giteaPush,
			Event{Kind: EventPush, Ref: "refs/heads/stateward/gitops", Sender: "stateward", Repo: "stateward/gitops"}},
		{"gitea push", Gitea, header("X-Gitea-Event", "push"), giteaPush,
			Event{Kind: EventPush, Ref: "refs/heads/stateward/gitops", Sender: "stateward", Repo: "stateward/gitops"}},
		{"gitea issue comment", Gitea, header("X-Gitea-Event", "issue_comment"), `{}`, Event{Kind: EventOther}},
		{"gitlab merged", GitLab, header("X-Gitlab-Event", "Merge Request Hook"), gitlabMRMerged,
			Event{Kind: EventPullRequest, Number: 5, Action: "merge", State: Merged, Sender: "root", Repo: "platform/team/gitops"}},
		{"gitlab closed", GitLab, header("X-Gitlab-Event", "Merge Request Hook"), gitlabMRClosed,
			Event{Kind: EventPullRequest, Number: 6, Action: "close", State: Closed, Sender: "jsmith", Repo: "platform/gitops"}},
		{"gitlab opened", GitLab, header("X-Gitlab-Event", "Merge Request Hook"), gitlabMROpen,
			Event{Kind: EventPullRequest, Number: 7, Action: "open", State: Open, Sender: "stateward-bot", Repo: "platform/gitops"}},
		{"gitlab locked", GitLab, header("X-Gitlab-Event", "Merge Request Hook"), gitlabMRLocked,
			Event{Kind: EventPullRequest, Number: 7, Action: "update", State: Open, Sender: "jsmith", Repo: "platform/gitops"}},
		{"gitlab push", GitLab, header("X-Gitlab-Event", "Push Hook"), gitlabPush,
			Event{Kind: EventPush, Ref: "refs/heads/main", Sender: "jsmith", Repo: "platform/gitops"}},
		{"gitlab note", GitLab, header("X-Gitlab-Event", "Note Hook"), `{}`, Event{Kind: EventOther}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.provider, c.h, []byte(c.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != c.want {
				t.Errorf("Parse =\n%+v, want\n%+v", got, c.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct {
		name, provider string
		h              http.Header
		body           string
	}{
		{"github no event header", GitHub, header("X-Gitea-Event", "push"), githubPush},
		{"gitea no event header", Gitea, header("X-GitHub-Event", "push"), giteaPush},
		{"gitlab no event header", GitLab, header(), gitlabPush},
		{"github bad JSON", GitHub, header("X-GitHub-Event", "pull_request"), `{"action":`},
		{"gitea bad JSON", Gitea, header("X-Gitea-Event", "push"), `[`},
		{"gitlab bad JSON", GitLab, header("X-Gitlab-Event", "Merge Request Hook"), `nope`},
		{"github PR event without pull_request", GitHub, header("X-GitHub-Event", "pull_request"), `{"action":"closed","number":1}`},
		{"unknown provider", "bitbucket", header("X-Event-Key", "pullrequest:fulfilled"), `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ev, err := Parse(c.provider, c.h, []byte(c.body)); err == nil {
				t.Fatalf("Parse = %+v, want an error", ev)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(Gitea, "secret", "X-Gitea-Signature", hexHMAC("secret", "{}"), "{}")
	f.Add(GitHub, "secret", "X-Hub-Signature-256", "sha256="+hexHMAC("secret", "{}"), "{}")
	f.Add(GitLab, "secret", "X-Gitlab-Token", "secret", "{}")
	f.Fuzz(func(t *testing.T, provider, secret, name, value, body string) {
		err := Verify(provider, secret, header(name, value), []byte(body))
		if err == nil && secret == "" {
			t.Fatalf("verified with an empty secret")
		}
		if err != nil {
			return
		}
		switch provider {
		case GitLab:
			if value != secret {
				t.Fatalf("verified token %q for secret %q", value, secret)
			}
		case GitHub, Gitea:
			// A verified HMAC is the body's under the secret.
			v := strings.TrimSpace(value)
			if provider == GitHub {
				v = strings.TrimSpace(strings.TrimPrefix(value, "sha256="))
			}
			if sum := hexHMAC(secret, body); !strings.EqualFold(v, sum) {
				t.Fatalf("verified %q for body %q, whose HMAC is %s", value, body, sum)
			}
		default:
			t.Fatalf("verified for provider %q", provider)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{githubPRMerged, githubPush, githubPing, giteaPRMerged, giteaPush, gitlabMRMerged, gitlabPush} {
		f.Add(s, "pull_request", "Merge Request Hook")
	}
	f.Fuzz(func(t *testing.T, body, event, gitlabEvent string) {
		for _, p := range Providers {
			h := header("X-GitHub-Event", event, "X-Gitea-Event", event, "X-Gitlab-Event", gitlabEvent)
			ev, err := Parse(p, h, []byte(body))
			if err != nil {
				continue
			}
			switch ev.Kind {
			case EventPullRequest:
				if ev.State != Open && ev.State != Closed && ev.State != Merged {
					t.Fatalf("%s: pull-request event with state %q", p, ev.State)
				}
			case EventPush, EventPing, EventOther:
				if ev.State != "" || ev.Number != 0 {
					t.Fatalf("%s: %s event with state %q number %d", p, ev.Kind, ev.State, ev.Number)
				}
			default:
				t.Fatalf("%s: kind %q", p, ev.Kind)
			}
		}
	})
}
