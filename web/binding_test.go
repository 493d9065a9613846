package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// captureServer is an attacker's HTTP server on 127.0.0.1: it records every
// Authorization header it receives and answers 401 to ask for more.
type captureServer struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newCaptureServer(t *testing.T) *captureServer {
	c := &captureServer{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			c.auth = append(c.auth, a)
		}
		c.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(c.Close)
	return c
}

// passwords returns the basic-auth passwords captured so far.
func (c *captureServer) passwords() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.auth {
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "Basic "))
		_, pw, _ := strings.Cut(string(raw), ":")
		out = append(out, pw)
	}
	return out
}

func gitStoreYAML(name, url, secret string) string {
	return fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: %s}
spec: {url: "%s", insecure: true, secretRef: {name: %s}}
`, name, url, secret)
}

func secretYAML(name, password string) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: %s}
stringData: {username: bot, password: "%s"}
`, name, password)
}

// TestCredentialsBoundToEndpoint: an editor cannot make Stateward send the owner's
// stored Git password to a server of the editor's choosing — not by a new store
// that reuses the owner's Secret, not by moving the owner's store, not by editing
// it in the dashboard with the password left blank.
func TestCredentialsBoundToEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	ten, ownerTok := h.tenantWithToken("team-a", tenants.RoleOwner)
	_, editorTok, err := h.DB.CreateToken(context.Background(), ten.ID, "editor", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	editorTok = "Bearer " + editorTok
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "owner-secret-pw"})
	capture := newCaptureServer(t)
	evil := capture.URL + "/repo.git"

	if code, _, body := h.apply(ownerTok, "team-a", gitStoreYAML("prod", git.URL(), "owner-creds")+secretYAML("owner-creds", "owner-secret-pw")); code != 200 {
		t.Fatalf("owner apply: %d %s", code, body)
	}
	// The owner may re-apply the store without the Secret (same endpoint).
	if code, _, body := h.apply(ownerTok, "team-a", gitStoreYAML("prod", git.URL(), "owner-creds")); code != 200 {
		t.Fatalf("owner re-apply without the Secret: %d %s", code, body)
	}
	// A second store on the same endpoint may reuse the Secret.
	if code, _, body := h.apply(editorTok, "team-a", gitStoreYAML("prod-2", git.URL()+"?x", "owner-creds")); code != 200 {
		t.Fatalf("second store on the same endpoint: %d %s", code, body)
	}

	for name, doc := range map[string]string{
		"new store reusing the Secret": gitStoreYAML("exfil", evil, "owner-creds"),
		"owner's store moved":          gitStoreYAML("prod", evil, "owner-creds"),
	} {
		code, a, body := h.apply(editorTok, "team-a", doc)
		if code != http.StatusUnprocessableEntity || len(a.Errors) == 0 || a.Errors[0].Field != "spec.secretRef.name" {
			t.Errorf("%s: %d %s, want 422 on spec.secretRef.name", name, code, body)
		}
	}

	// The dashboard: an editor edits the owner's store, password left blank.
	if err := h.DB.AddMember(context.Background(), ten.ID, "bob@example.com", tenants.RoleEditor); err != nil {
		t.Fatal(err)
	}
	bob := newBrowser(t)
	h.login(bob, "bob@example.com")
	resp, body := bob.post(t, h.URL+"/t/team-a/stores/git/prod", url.Values{
		"spec.url": {evil}, "spec.branch": {"main"}, "spec.authMethod": {"basicAuth"}, "spec.insecure": {"true"},
		"username": {""}, "password": {""},
	})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "enter it again") {
		t.Errorf("dashboard edit to another host with the password kept: %d %s", resp.StatusCode, snippet(body))
	}
	// Moving the store while switching to no authentication asks for nothing.
	resp, body = bob.post(t, h.URL+"/t/team-a/stores/git/prod-2", url.Values{
		"spec.url": {evil}, "spec.branch": {"main"}, "spec.authMethod": {"none"}, "spec.insecure": {"true"},
	})
	if resp.StatusCode != 200 || strings.Contains(body, "enter it again") {
		t.Errorf("dashboard move to authMethod none: %d %s", resp.StatusCode, snippet(body))
	}
	// ...and leaves the stored password behind: switching back to basicAuth there
	// with the password blank must not bring it back.
	resp, body = bob.post(t, h.URL+"/t/team-a/stores/git/prod-2", url.Values{
		"spec.url": {evil}, "spec.branch": {"main"}, "spec.authMethod": {"basicAuth"}, "spec.insecure": {"true"},
	})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("basicAuth again at the new endpoint with the password blank: %d %s", resp.StatusCode, snippet(body))
	}
	// Changing only the branch keeps the password (same endpoint).
	resp, body = bob.post(t, h.URL+"/t/team-a/stores/git/prod", url.Values{
		"spec.url": {git.URL()}, "spec.branch": {"other"}, "spec.authMethod": {"basicAuth"}, "spec.insecure": {"true"},
	})
	if resp.StatusCode != 200 || strings.Contains(body, "enter it again") {
		t.Errorf("dashboard edit of the branch: %d %s", resp.StatusCode, snippet(body))
	}

	// Any readiness check that could have run has run; the capture server saw none
	// of the owner's password.
	h.Ready.Wait()
	for _, pw := range capture.passwords() {
		if pw == "owner-secret-pw" {
			t.Fatalf("the owner's password reached the capture server")
		}
	}

	// Entering credentials for the new endpoint is allowed, and only those go there.
	if code, _, body := h.apply(editorTok, "team-a", gitStoreYAML("exfil", evil, "editor-creds")+secretYAML("editor-creds", "editor-own-pw")); code != 200 {
		t.Fatalf("editor's own credentials: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(capture.passwords()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := capture.passwords()
	if len(got) == 0 || got[0] != "editor-own-pw" {
		t.Errorf("capture server got %q, want the editor's own password only", got)
	}
}

// TestApplyRefusesIPv6GitForms: a link-local address in an scp-like or ssh://
// Git URL is refused at apply with a message, not at dial time.
func TestApplyRefusesIPv6GitForms(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	for url, want := range map[string]string{
		"git@[fe80::1]:x.git":          "cannot carry an IPv6 literal",
		"ssh://git@[fe80::1]/x.git":    "address fe80::1 is not allowed",
		"https://[2002:a9fe:a9fe::1]/": "address 2002:a9fe:a9fe::1 is not allowed",
	} {
		doc := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: repo}
spec: {url: "%s", authMethod: none}
`, url)
		code, a, body := h.apply(tok, "team-a", doc)
		if code != http.StatusUnprocessableEntity || len(a.Errors) == 0 || a.Errors[0].Field != "spec.url" || !strings.Contains(a.Errors[0].Message, want) {
			t.Errorf("%s: %d %s, want 422 on spec.url saying %q", url, code, body, want)
		}
	}
}
