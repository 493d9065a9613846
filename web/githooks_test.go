package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

func giteaSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// TestGitHostWebhook: a pull-request store's API object shows its webhook URL;
// a delivery there is verified with the host's own scheme against the store's
// webhookSecret (401 when missing or wrong, 404 for an unknown URL or a store
// that does not use pull requests), a pull-request event is accepted (202) and
// a ping answered (200).
func TestGitHostWebhook(t *testing.T) {
	h := newHarness(t, nil)
	h.signedInTeam()
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := h.DB.CreateToken(context.Background(), team.ID, "test", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	tok := "Bearer " + secret
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply", tok, strings.NewReader(`apiVersion: v1
kind: Secret
metadata: {name: gitea}
stringData: {password: tok, webhookSecret: s3cret}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: reviewed}
spec:
  url: http://127.0.0.1:9/acme/gitops.git
  insecure: true
  secretRef: {name: gitea}
  pullRequest: {provider: gitea, merge: auto, labels: [gitops]}
---
apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: pushed}
spec: {url: "http://127.0.0.1:9/acme/other.git", insecure: true, secretRef: {name: gitea}}
`))
	if code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	var obj struct {
		Spec struct {
			PullRequest map[string]any `json:"pullRequest"`
		} `json:"spec"`
		Status map[string]any `json:"status"`
	}
	code, body = api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/gitstatestores/reviewed", tok, nil)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &obj) != nil {
		t.Fatalf("get: %d %s", code, body)
	}
	hookURL, _ := obj.Status["webhookURL"].(string)
	if !strings.HasPrefix(hookURL, h.URL+"/hooks/git/") || obj.Spec.PullRequest["merge"] != "auto" || obj.Status["pullRequest"] != nil {
		t.Fatalf("store object %s", body)
	}
	deliver := func(url, event, sig, payload string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Gitea-Event", event)
		if sig != "" {
			req.Header.Set("X-Gitea-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	const pr = `{"action":"closed","number":7,"pull_request":{"number":7,"merged":true,"state":"closed"},"sender":{"login":"rita"}}`
	for _, c := range []struct {
		name, url, event, sig string
		want                  int
		says                  string
	}{
		{"unsigned", hookURL, "pull_request", "", http.StatusUnauthorized, "X-Gitea-Signature"},
		{"wrong secret", hookURL, "pull_request", giteaSignature("guess", pr), http.StatusUnauthorized, "signature"},
		{"unknown URL", h.URL + "/hooks/git/nope", "pull_request", giteaSignature("s3cret", pr), http.StatusNotFound, "not found"},
		{"signed", hookURL, "pull_request", giteaSignature("s3cret", pr), http.StatusAccepted, `"pull_request"`},
	} {
		if code, body := deliver(c.url, c.event, c.sig, pr); code != c.want || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %s", c.name, code, body, c.want, c.says)
		}
	}
	// A store that pushes has a webhook id, but takes no Git host's webhooks.
	pushed, err := h.DB.GitStore(context.Background(), team.ID, "pushed")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := deliver(h.URL+"/hooks/git/"+pushed.HookID, "pull_request", giteaSignature("s3cret", pr), pr); code != http.StatusNotFound {
		t.Errorf("push store's hook: %d %s", code, body)
	}
}
