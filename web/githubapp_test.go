package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// pgpKey makes an OpenPGP key encrypted with passphrase and returns its armored
// private and public halves and its fingerprint.
func pgpKey(t *testing.T, passphrase string) (private, public, fingerprint string) {
	t.Helper()
	e, err := openpgp.NewEntity("Stateward", "", "stateward@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	arm := func(kind string, write func(*bytes.Buffer) error) string {
		var raw, out bytes.Buffer
		if err := write(&raw); err != nil {
			t.Fatal(err)
		}
		w, _ := armor.Encode(&out, kind, nil)
		_, _ = w.Write(raw.Bytes())
		_ = w.Close()
		return out.String()
	}
	public = arm(openpgp.PublicKeyType, func(b *bytes.Buffer) error { return e.Serialize(b) })
	if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
		t.Fatal(err)
	}
	private = arm(openpgp.PrivateKeyType, func(b *bytes.Buffer) error { return e.SerializePrivateWithoutSigning(b, nil) })
	return private, public, strings.ToUpper(strings.TrimSpace(hexOf(e.PrimaryKey.Fingerprint)))
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// githubAppYAML is a Kratix GitStateStore with authMethod githubApp (Kratix's
// field names and Secret keys), its Secret with a signing key, and a Destination.
func githubAppYAML(name, repo, apiURL, appID, installationID, appKey, signingKey, passphrase string) string {
	return `apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata:
  name: ` + name + `
spec:
  url: ` + repo + `
  branch: main
  authMethod: githubApp
  githubAPIURL: ` + apiURL + `
  insecure: true
  secretRef:
    name: ` + name + `-app
---
apiVersion: v1
kind: Secret
metadata:
  name: ` + name + `-app
data:
  appID: ` + b64(appID+"\n") + `
  installationID: ` + b64(installationID) + `
  privateKey: ` + b64(appKey) + `
  signingKey: ` + b64(signingKey) + `
  signingKeyPassphrase: ` + b64(passphrase) + `
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: ` + name + `-dest
  labels:
    environment: ` + name + `
spec:
  path: clusters/` + name + `
  stateStoreRef:
    kind: GitStateStore
    name: ` + name + `
`
}

// TestGitHubAppStoreWritesSignedCommits: a Kratix GitStateStore with authMethod
// githubApp and a signing key in its Secret is applied, becomes ready through the
// App's installation token, writes a Work in signed commits that `git
// verify-commit` accepts on the remote, exports and applies back unchanged, and
// shows the key's fingerprint — never the key — on its page.
func TestGitHubAppStoreWritesSignedCommits(t *testing.T) {
	h := newHarness(t, nil)
	ten, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	gh := testpeers.GitHubApp(t, testpeers.GitHubAppOptions{})
	repo := testpeers.GitHTTP(t, testpeers.GitOptions{Authorize: gh.Accepts})
	private, public, fingerprint := pgpKey(t, "open sesame")
	doc := githubAppYAML("gh", repo.URL(), gh.URL(), gh.AppID(), gh.InstallationID(), gh.PrivateKeyPEM(), private, "open sesame")
	if code, _, body := h.apply(tok, "team-a", doc); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	if ready, msg := h.status(tok, "team-a", "gitstatestores/gh"); !ready {
		t.Fatalf("store not ready: %s", msg)
	}
	code, body := api2(t, h, tok, http.MethodPost, "/works", workBody("gh", "my-request", "kind: ConfigMap\n"))
	var w workAnswer
	if err := json.Unmarshal([]byte(body), &w); err != nil || code != http.StatusAccepted {
		t.Fatalf("submit work: %d %s", code, body)
	}
	written := h.waitWritten(tok, "team-a", w.Work)
	if v := written.Placements[0].Version; v != repo.Head(t, "main") {
		t.Errorf("placement version %s, remote head %s", v, repo.Head(t, "main"))
	}
	gpg := testpeers.NewGPG(t)
	gpg.Import(t, public)
	signed := 0
	for _, c := range repo.Commits(t, "main") {
		if repo.CommitAuthor(t, c) != "stateward" {
			continue
		}
		if out, err := repo.VerifyCommit(gpg, c); err != nil {
			t.Errorf("git verify-commit %s: %v\n%s", c, err, out)
		}
		signed++
	}
	if signed == 0 {
		t.Fatal("no commit by stateward on the remote")
	}

	// Export: the fields, never the credentials; applied back, nothing changes.
	_, exported := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/export", tok, nil)
	for _, want := range []string{"authMethod: githubApp", "githubAPIURL: " + gh.URL(), "name: gh-app"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	for _, secret := range []string{"PRIVATE KEY", "open sesame", b64(private)[:40]} {
		if strings.Contains(exported, secret) {
			t.Errorf("export holds %q", secret)
		}
	}
	for _, yaml := range []string{exported, doc} {
		code, a, body := h.apply(tok, "team-a", yaml)
		if code != http.StatusOK {
			t.Fatalf("re-apply: %d %s", code, body)
		}
		for _, r := range a.Results {
			if r.Action != "unchanged" {
				t.Errorf("re-apply %s %s: %s, want unchanged", r.Kind, r.Name, r.Action)
			}
		}
	}

	// The store page shows the fingerprint, not the key.
	if err := h.DB.AddMember(context.Background(), ten.ID, "alice@example.com", tenants.RoleViewer); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	resp, page := b.get(t, h.URL+"/t/team-a/stores/git/gh")
	if resp.StatusCode != 200 || !strings.Contains(page, fingerprint) {
		t.Errorf("store page: %d, fingerprint %s shown: %v", resp.StatusCode, fingerprint, strings.Contains(page, fingerprint))
	}
	for _, secret := range []string{"PGP PRIVATE KEY", "RSA PRIVATE KEY", "open sesame"} {
		if strings.Contains(page, secret) {
			t.Errorf("store page shows %q", secret)
		}
	}
}

// TestGitHubAppStoreNotReadyInGitHubsWords: readiness shows GitHub's own error
// words, and a signing key that does not open says so.
func TestGitHubAppStoreNotReadyInGitHubsWords(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	gh := testpeers.GitHubApp(t, testpeers.GitHubAppOptions{})
	repo := testpeers.GitHTTP(t, testpeers.GitOptions{Authorize: gh.Accepts})
	private, _, _ := pgpKey(t, "right")
	for _, tc := range []struct {
		name, appID, installation, passphrase, want string
	}{
		{"badapp", "4242", gh.InstallationID(), "right", testpeers.GitHubIntegrationGone},
		{"noinstall", gh.AppID(), "1", "right", testpeers.GitHubNotFound},
		{"badpass", gh.AppID(), gh.InstallationID(), "wrong", "does not open it"},
	} {
		doc := githubAppYAML(tc.name, repo.URL(), gh.URL(), tc.appID, tc.installation, gh.PrivateKeyPEM(), private, tc.passphrase)
		if code, _, body := h.apply(tok, "team-a", doc); code != http.StatusOK {
			t.Fatalf("%s: apply: %d %s", tc.name, code, body)
		}
		ready, msg := h.status(tok, "team-a", "gitstatestores/"+tc.name)
		if ready || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: ready %v, message %q, want not ready saying %q", tc.name, ready, msg, tc.want)
		}
	}
	if n := repo.CommitCount(t, "main"); n != 1 {
		t.Errorf("commits on the remote = %d, want the initial one only", n)
	}
}

// TestGitStoreFormGitHubApp: the dashboard's Git store form takes a GitHub App
// and a signing key; the page then shows the fingerprint and the store works.
func TestGitStoreFormGitHubApp(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	gh := testpeers.GitHubApp(t, testpeers.GitHubAppOptions{})
	repo := testpeers.GitHTTP(t, testpeers.GitOptions{Authorize: gh.Accepts})
	private, _, fingerprint := pgpKey(t, "pw")
	form := url.Values{
		"metadata.name": {"gh"}, "spec.url": {repo.URL()}, "spec.branch": {"main"}, "spec.insecure": {"true"},
		"spec.authMethod": {"githubApp"}, "appID": {gh.AppID()}, "installationID": {gh.InstallationID()},
		"privateKey": {gh.PrivateKeyPEM()}, "spec.githubAPIURL": {gh.URL()},
		"signingKey": {private}, "signingKeyPassphrase": {"pw"},
	}
	resp, body := b.post(t, h.URL+"/t/team-a/stores/git", form)
	if resp.StatusCode != 200 || !strings.Contains(body, fingerprint) {
		t.Fatalf("create from the form: %d, fingerprint shown %v: %s", resp.StatusCode, strings.Contains(body, fingerprint), snippet(body))
	}
	h.Ready.Wait()
	ctx := context.Background()
	ten, err := h.DB.TenantBySlug(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.DB.GitStore(ctx, ten.ID, "gh")
	if err != nil || !s.Status.Failing() && !s.Status.Known() {
		t.Fatalf("store after the check: %v %+v", err, s.Status)
	}
	if s.Status.Failing() {
		t.Errorf("store from the form is not ready: %s", s.Status.Message)
	}
	if strings.TrimSpace(s.Credentials.SigningKey) != strings.TrimSpace(private) || strings.TrimSpace(s.Credentials.PrivateKey) != strings.TrimSpace(gh.PrivateKeyPEM()) {
		t.Error("the form's keys were not stored as entered")
	}
	if gh.Exchanges() == 0 {
		t.Error("the readiness check never minted an installation token")
	}
	// The App key and the signing key are bound to where they were entered: an
	// edit that sends the JWT to another API host must enter them again...
	edit := url.Values{"spec.url": {repo.URL()}, "spec.branch": {"main"}, "spec.insecure": {"true"},
		"spec.authMethod": {"githubApp"}, "spec.githubAPIURL": {"http://127.0.0.2:9"}}
	resp, body = b.post(t, h.URL+"/t/team-a/stores/git/gh", edit)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "enter it again") ||
		!strings.Contains(body, "privateKey") || !strings.Contains(body, "signingKey") {
		t.Errorf("edit moving the GitHub API with the keys kept: %d %s", resp.StatusCode, snippet(body))
	}
	// ...while an edit that keeps both hosts keeps them.
	edit.Set("spec.githubAPIURL", gh.URL())
	edit.Set("spec.gitAuthor.name", "bot")
	resp, body = b.post(t, h.URL+"/t/team-a/stores/git/gh", edit)
	if resp.StatusCode != 200 || !strings.Contains(body, fingerprint) {
		t.Errorf("edit of the author with the keys kept: %d %s", resp.StatusCode, snippet(body))
	}

	// Missing App fields are named.
	form.Set("metadata.name", "gh2")
	form.Del("installationID")
	resp, body = b.post(t, h.URL+"/t/team-a/stores/git", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "installationID") {
		t.Errorf("form without installationID: %d %s", resp.StatusCode, snippet(body))
	}
}

func api2(t *testing.T, h *harness, tok, method, path, body string) (int, string) {
	t.Helper()
	return api(t, method, h.URL+"/api/v1/tenants/team-a"+path, tok, strings.NewReader(body))
}

// TestSSHSignedStoreThroughAPI: a basicAuth store whose Secret carries an SSH
// signing key writes commits git accepts with gpg.format=ssh, and its page shows
// ssh-keygen's fingerprint.
func TestSSHSignedStoreThroughAPI(t *testing.T) {
	h := newHarness(t, nil)
	ten, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	repo := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	dir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sw", "-f", filepath.Join(dir, "id")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (apt-get install -y openssh-client): %v %s", err, out)
	}
	private, _ := os.ReadFile(filepath.Join(dir, "id"))
	public, _ := os.ReadFile(filepath.Join(dir, "id.pub"))
	fp, err := exec.Command("ssh-keygen", "-l", "-f", filepath.Join(dir, "id.pub")).Output()
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := strings.Fields(string(fp))[1]
	doc := gitStoreYAML("signed", repo.URL(), "creds") + `---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {username: ` + b64("bot") + `, password: ` + b64("pw") + `, signingKey: ` + b64(string(private)) + `}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: d, labels: {environment: signed}}
spec: {path: d, stateStoreRef: {kind: GitStateStore, name: signed}}
`
	if code, _, body := h.apply(tok, "team-a", doc); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, body)
	}
	code, body := api2(t, h, tok, http.MethodPost, "/works", workBody("signed", "r", "x: 1\n"))
	var w workAnswer
	if err := json.Unmarshal([]byte(body), &w); err != nil || code != http.StatusAccepted {
		t.Fatalf("submit work: %d %s", code, body)
	}
	v := h.waitWritten(tok, "team-a", w.Work).Placements[0].Version
	if out, err := repo.VerifyCommitSSH(t, "sw@example.com "+string(public), v); err != nil {
		t.Errorf("git verify-commit (ssh) %s: %v\n%s", v, err, out)
	}
	if err := h.DB.AddMember(context.Background(), ten.ID, "alice@example.com", tenants.RoleViewer); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	h.login(b, "alice@example.com")
	_, page := b.get(t, h.URL+"/t/team-a/stores/git/signed")
	if !strings.Contains(page, fingerprint) || strings.Contains(page, "OPENSSH PRIVATE KEY") {
		t.Errorf("store page: fingerprint %s shown %v; key shown %v", fingerprint, strings.Contains(page, fingerprint), strings.Contains(page, "OPENSSH PRIVATE KEY"))
	}
}
