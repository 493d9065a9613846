package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"sigs.k8s.io/yaml"

	"github.com/stateward/stateward/testpeers"
)

// cliRun is one CLI run against a server: what it printed and its exit code as
// main would set it.
type cliRun struct {
	stdout, stderr string
	code           int
	err            error
}

func (in *instance) remote(t *testing.T, stdin string, args ...string) cliRun {
	t.Helper()
	var out, errOut strings.Builder
	err := runWithInput(context.Background(), args, in.getenv, strings.NewReader(stdin), &out, &errOut)
	r := cliRun{stdout: out.String(), stderr: errOut.String(), err: err}
	if err != nil {
		r.code = exitCodeOf(err)
	}
	return r
}

func (r cliRun) String() string {
	return "exit " + itoa(r.code) + ", err " + errString(r.err) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// submitForm fills the form with data-testid testid on page (answered for
// base) with set, and posts it with the browser b.
func submitForm(t *testing.T, b *http.Client, base *url.URL, page, testid string, set url.Values) (*http.Response, string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "data-testid") == testid {
			form = n
		}
	}
	if form == nil {
		t.Fatalf("no form %q on %s:\n%s", testid, base, page)
	}
	v := url.Values{}
	for n := range form.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch {
		case n.Data == "input" && attr(n, "name") != "":
			v.Set(attr(n, "name"), attr(n, "value"))
		case n.Data == "select":
			for o := range n.Descendants() {
				if o.Type == html.ElementNode && o.Data == "option" && (v.Get(attr(n, "name")) == "" || hasAttr(o, "selected")) {
					v.Set(attr(n, "name"), attr(o, "value"))
				}
			}
		}
	}
	for k := range set {
		v.Set(k, set.Get(k))
	}
	action, _ := base.Parse(attr(form, "action"))
	resp, err := b.PostForm(action.String(), v)
	if err != nil {
		t.Fatalf("POST %s: %v", action, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

var loginURL = regexp.MustCompile(`(http://127\.0\.0\.1:\d+/cli/login\?\S+)`)

// browserLoginAs runs `stateward login` and plays the person at the browser: the
// development issuer's sign-in as email, then the confirmation page.
func (in *instance) browserLoginAs(t *testing.T, email string, args ...string) cliRun {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan cliRun, 1)
	go func() {
		var out strings.Builder
		err := runWithInput(context.Background(), append([]string{"login", "--server", in.URL, "--no-browser", "--timeout", "1m"}, args...),
			in.getenv, strings.NewReader(""), &out, pw)
		pw.Close()
		r := cliRun{stdout: out.String(), err: err}
		if err != nil {
			r.code = exitCodeOf(err)
		}
		done <- r
	}()
	var page string
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if m := loginURL.FindString(sc.Text()); m != "" {
			page = m
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if page == "" {
		t.Fatalf("login printed no URL: %s", (<-done).String())
	}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, err := b.Get(page) // → /login → the issuer's sign-in page
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, confirm := submitForm(t, b, resp.Request.URL, string(body), "sign-in-form", url.Values{"email": {email}})
	if resp.StatusCode != 200 || !strings.Contains(confirm, `data-testid="cli-confirm"`) {
		t.Fatalf("after sign-in: %d at %s, want the CLI confirmation page:\n%s", resp.StatusCode, resp.Request.URL, confirm)
	}
	resp, final := submitForm(t, b, resp.Request.URL, confirm, "cli-login", nil)
	if resp.StatusCode != 200 || !strings.Contains(final, "You can close this tab") {
		t.Fatalf("confirm: %d at %s: %s", resp.StatusCode, resp.Request.URL, final)
	}
	r := <-done
	r.stderr = stderr.String()
	return r
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func bareRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "gitops.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	return repo
}

func destination(name, env string) string {
	return "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: " + name + ", labels: {environment: " + env + "}}\n" +
		"spec:\n  path: " + name + "\n  stateStoreRef: {name: default, kind: GitStateStore}\n"
}

// TestCLILoginAndFolderApply signs the CLI in through the browser flow, then
// applies a folder whose files sort differently from how they were written: the
// documents must reach the server in walk order (names sorted per directory),
// as one apply.
func TestCLILoginAndFolderApply(t *testing.T) {
	cfgDir := t.TempDir()
	in := start(t, "XDG_CONFIG_HOME", cfgDir)
	if _, err := in.cli(t, "tenant", "create", "team-a", "--owner", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if r := in.remote(t, "", "get", "stores"); r.code != exitAuth {
		t.Fatalf("get before login: %s\nwant exit %d", r, exitAuth)
	}
	r := in.browserLoginAs(t, "alice@example.com", "--tenant", "team-a")
	if r.code != 0 || !strings.Contains(r.stdout, "team team-a") || !strings.Contains(r.stdout, "as owner") {
		t.Fatalf("login: %s", r)
	}
	path := filepath.Join(cfgDir, "stateward", "config.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}

	repo := bareRepo(t)
	folder := t.TempDir()
	// Written in this (shuffled) order; walked as a/10.yaml, a/2.yml, a/b/store.yaml, z/10-dest.yaml.
	writeFiles(t, folder, map[string]string{
		"z/10-dest.yaml": destination("d-z", "prod"),
		"a/b/store.yaml": "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: default}\nspec:\n  url: file://" + repo +
			"\n  branch: main\n  authMethod: none\n",
		"a/2.yml":          destination("d-a2", "dev") + "---\n# only a comment\n",
		"a/10.yaml":        destination("d-a10", "dev"),
		"README.md":        "not YAML, not sent",
		".hidden/x.yaml":   "kind: Nonsense",
		"a/notes.txt":      "kind: Nonsense",
		"a/b/empty.yaml":   "",
		"z/comments.yml":   "# nothing here\n",
		"z/11-extra.yamlx": "kind: Nonsense",
	})
	r = in.remote(t, "", "apply", "-f", folder)
	if r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	want := []string{"destination/d-a10 created", "destination/d-a2 created", "gitstatestore/default created", "destination/d-z created"}
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("apply printed\n%s\nwant, in walk order,\n%s", r.stdout, strings.Join(want, "\n"))
	}

	r = in.remote(t, "", "get", "destinations")
	if r.code != 0 || !strings.Contains(r.stdout, "NAME") || !regexp.MustCompile(`d-a10\s+GitStateStore/default\s+d-a10\s+environment=dev`).MatchString(r.stdout) {
		t.Fatalf("get destinations: %s", r)
	}
	r = in.remote(t, "", "get", "stores", "-o", "json")
	var list struct {
		Items []struct {
			Kind     string
			Metadata struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Items) != 1 || list.Items[0].Kind != "GitStateStore" {
		t.Fatalf("get stores -o json: %v %s", err, r)
	}
	r = in.remote(t, "", "get", "destinations", "-oyaml")
	if err := yaml.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Items) != 3 {
		t.Fatalf("get destinations -o yaml: %v %s", err, r)
	}
	r = in.remote(t, "", "export")
	if r.code != 0 || !strings.Contains(r.stdout, "kind: GitStateStore") || !strings.Contains(r.stdout, "name: d-z") {
		t.Fatalf("export: %s", r)
	}
	// The same folder from stdin (-f -) is one document stream too.
	all, _ := os.ReadFile(filepath.Join(folder, "a/10.yaml"))
	if r = in.remote(t, string(all), "apply", "-f", "-"); r.code != 0 || strings.TrimSpace(r.stdout) != "destination/d-a10 unchanged" {
		t.Fatalf("apply -f -: %s", r)
	}
}

// TestCLIErrorsAndExitCodes: the server's field-level messages, with the file a
// document came from, and the documented exit codes.
func TestCLIErrorsAndExitCodes(t *testing.T) {
	cfgDir := t.TempDir()
	in := start(t, "XDG_CONFIG_HOME", cfgDir)
	if _, err := in.cli(t, "tenant", "create", "team-a"); err != nil {
		t.Fatal(err)
	}
	tok, err := in.cli(t, "token", "create", "--tenant", "team-a", "--role", "editor")
	if err != nil {
		t.Fatal(err)
	}
	// A config file someone left world-readable is replaced by a 0600 one.
	path := filepath.Join(cfgDir, "stateward", "config.json")
	writeFiles(t, cfgDir, map[string]string{"stateward/config.json": `{"server": "http://127.0.0.1:1"}`})
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := in.remote(t, "", "login", "--server", in.URL, "--token", strings.TrimSpace(tok))
	if r.code != exitUsage || !strings.Contains(r.stderr+r.err.Error(), "--tenant") {
		t.Fatalf("login --token without --tenant: %s", r)
	}
	r = in.remote(t, "", "login", "--server", in.URL+"/", "--token", strings.TrimSpace(tok), "--tenant", "team-a")
	if r.code != 0 || !strings.Contains(r.stdout, "as editor") {
		t.Fatalf("login --token: %s", r)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v after login, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var saved credentials
	if json.Unmarshal(b, &saved) != nil || saved.Server != in.URL || saved.Tenant != "team-a" || saved.Token != strings.TrimSpace(tok) {
		t.Fatalf("config file %s", b)
	}

	folder := t.TempDir()
	writeFiles(t, folder, map[string]string{
		"1-ok.yaml":  "# header\n---\n" + destination("good", "dev"),
		"2-bad.yaml": destination("also-good", "dev") + "---\napiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: Bad_Name}\nspec: {path: x, stateStoreRef: {name: default, kind: GitStateStore}}\n",
	})
	r = in.remote(t, "", "apply", "-f", folder)
	if r.code != exitRefused || !strings.Contains(r.err.Error(), "document 3 ["+filepath.Join(folder, "2-bad.yaml")+"] (Destination Bad_Name): metadata.name") {
		t.Fatalf("bad document: %s\nwant exit %d naming document 3, its file and field", r, exitRefused)
	}
	if n := strings.Count(r.err.Error(), "(Destination Bad_Name)"); n != 1 {
		t.Errorf("the bad document is named %d times, want once:\n%s", n, r.err)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"apply"}, exitUsage},
		{[]string{"apply", "-f", filepath.Join(folder, "missing")}, exitUsage},
		{[]string{"apply", "-f", folder, "--colour", "red"}, exitUsage},
		{[]string{"get", "pods"}, exitUsage},
		{[]string{"get", "stores", "-o", "xml"}, exitUsage},
		{[]string{"describe", "work", "x"}, exitUsage},
		{[]string{"works", "submit"}, exitUsage},
		{[]string{"describe", "work", "999"}, exitRefused},
		{[]string{"get", "stores", "--tenant", "team-b"}, exitRefused},
		{[]string{"get", "stores", "--token", "swt_nope"}, exitAuth},
		{[]string{"get", "stores", "--server", "http://127.0.0.1:1"}, exitServer},
	} {
		if r := in.remote(t, "", c.args...); r.code != c.code {
			t.Errorf("%v: %s\nwant exit %d", c.args, r, c.code)
		}
	}
	// The environment overrides the file.
	in2 := &instance{URL: in.URL, env: map[string]string{"XDG_CONFIG_HOME": cfgDir, "STATEWARD_TOKEN": "swt_revoked"}}
	if r := in2.remote(t, "", "get", "works"); r.code != exitAuth || !strings.Contains(r.err.Error(), "stateward login") {
		t.Fatalf("STATEWARD_TOKEN override: %s", r)
	}
}

// TestCLIWorksSubmitWaitDescribeDelete follows a Work to written with --wait, and
// a Work whose placement the remote refuses to failed, with exit 1.
func TestCLIWorksSubmitWaitDescribeDelete(t *testing.T) {
	cfgDir := t.TempDir()
	in := start(t, "XDG_CONFIG_HOME", cfgDir)
	if _, err := in.cli(t, "tenant", "create", "team-a"); err != nil {
		t.Fatal(err)
	}
	tok, _ := in.cli(t, "token", "create", "--tenant", "team-a")
	if r := in.remote(t, "", "login", "--server", in.URL, "--token", strings.TrimSpace(tok), "--tenant", "team-a"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	good := bareRepo(t)
	refusing := testpeers.GitHTTP(t, testpeers.GitOptions{}) // real git receive-pack: hooks run
	refusing.SetPreReceiveReject("policy: nothing may be pushed here")
	yamlDocs := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: default}\nspec: {url: 'file://" + good + "', branch: main, authMethod: none}\n---\n" +
		"apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: refusing}\nspec: {url: '" + refusing.URL() + "', insecure: true, branch: " + refusing.Branch() + ", authMethod: none}\n---\n" +
		destination("dev-1", "dev") + "---\n" +
		strings.Replace(destination("prod-1", "prod"), "name: default", "name: refusing", 1)
	if r := in.remote(t, yamlDocs, "apply", "-f", "-"); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	work := filepath.Join(t.TempDir(), "work.json")
	writeFiles(t, filepath.Dir(work), map[string]string{"work.json": `{"promise": "redis", "resource": {"namespace": "default", "name": "r1"},
		"destinationSelectors": {"environment": "dev"}, "files": [{"path": "redis.yaml", "content": "kind: ConfigMap\n"}]}`})
	r := in.remote(t, "", "works", "submit", "-f", work, "--wait", "--timeout", "2m")
	if r.code != 0 || !strings.Contains(r.stdout, "work/1 accepted") || !strings.Contains(r.stderr, "written:1") {
		t.Fatalf("submit --wait: %s", r)
	}
	r = in.remote(t, "", "describe", "work", "1")
	if r.code != 0 || !regexp.MustCompile(`dev-1\s+written\s+version [0-9a-f]{40}`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "dev-1/resources/default/redis/r1/5058f/redis.yaml") {
		t.Fatalf("describe: %s", r)
	}
	if r = in.remote(t, "", "get", "works"); r.code != 0 || !regexp.MustCompile(`1\s+redis\s+default/r1\s+1\s+written:1`).MatchString(r.stdout) {
		t.Fatalf("get works: %s", r)
	}

	prodWork := strings.NewReplacer(`"environment": "dev"`, `"environment": "prod"`, `"r1"`, `"r2"`).Replace(`{"promise": "redis", "resource": {"namespace": "default", "name": "r1"},
		"destinationSelectors": {"environment": "dev"}, "files": [{"path": "redis.yaml", "content": "kind: ConfigMap\n"}]}`)
	r = in.remote(t, prodWork, "works", "submit", "-f", "-", "--wait", "--timeout", "2m")
	if r.code != exitChanges || !strings.Contains(r.err.Error(), "prod-1 failed") || !strings.Contains(r.err.Error(), "nothing may be pushed here") {
		t.Fatalf("submit --wait to a refusing remote: %s\nwant exit 1 with the remote's words", r)
	}

	r = in.remote(t, "", "works", "delete", "1", "--wait", "--timeout", "2m")
	if r.code != 0 || !strings.Contains(r.stdout, "work/1 deleted") {
		t.Fatalf("delete --wait: %s", r)
	}
	out, err := exec.Command("git", "--git-dir", good, "ls-tree", "-r", "--name-only", "main").CombinedOutput()
	if err != nil || strings.Contains(string(out), "redis.yaml") {
		t.Fatalf("after delete --wait the store still holds: %v %s", err, out)
	}
	if r = in.remote(t, "", "works", "delete", "1", "--colour"); r.code != exitUsage {
		t.Fatalf("bad flag: %s", r)
	}
}

// TestCLIDryRunAndDiff is the check: a Kratix folder (a Promise, a
// duplicate and a Secret in its own file among the stores and Destinations)
// applied in walk order — a dry run first, which reports and changes nothing,
// then for real with the warnings; diff exits 0 right after and 1 after an edit.
func TestCLIDryRunAndDiff(t *testing.T) {
	in := start(t, "XDG_CONFIG_HOME", t.TempDir())
	if _, err := in.cli(t, "tenant", "create", "team-a"); err != nil {
		t.Fatal(err)
	}
	tok, _ := in.cli(t, "token", "create", "--tenant", "team-a")
	if r := in.remote(t, "", "login", "--server", in.URL, "--token", strings.TrimSpace(tok), "--tenant", "team-a"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	repo := bareRepo(t)
	folder := t.TempDir()
	writeFiles(t, folder, map[string]string{
		"stores/git.yaml": "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: default}\nspec: {url: 'file://" + repo + "', branch: main, authMethod: none}\n",
		"stores/gitea.yaml": "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: gitea}\n" +
			"spec: {url: 'http://127.0.0.1:9/gitea.git', insecure: true, branch: main, secretRef: {name: gitea-credentials}}\n",
		"secrets/gitea-credentials.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: gitea-credentials}\nstringData: {username: bot, password: s3cret-value}\n",
		"destinations/a-worker-1.yaml":   destination("worker-1", "dev"),
		"destinations/b-worker-1.yml":    destination("worker-1", "staging"), // later in the walk: it wins
		"promises/redis.yaml":            "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: redis}\nspec: {}\n",
	})

	r := in.remote(t, "", "apply", "-f", folder, "--dry-run", "--diff")
	if r.code != 0 || !strings.Contains(r.stdout, "destination/worker-1 created (dry run)") || !strings.Contains(r.stderr, "redis") ||
		strings.Contains(r.stdout+r.stderr, "s3cret-value") {
		t.Fatalf("apply --dry-run --diff: %s", r)
	}
	if r := in.remote(t, "", "get", "destinations", "-o", "json"); r.code != 0 || strings.Contains(r.stdout, "worker-1") {
		t.Fatalf("the dry run changed something: %s", r)
	}
	if r := in.remote(t, "", "diff", "-f", folder); r.code != exitChanges || !strings.Contains(r.stdout, "destination/worker-1 would be created") {
		t.Fatalf("diff before apply: %s\nwant exit 1", r)
	}
	r = in.remote(t, "", "apply", "-f", folder)
	if r.code != 0 || !strings.Contains(r.stdout, "gitstatestore/gitea created") || !strings.Contains(r.stderr, "Warning: document") {
		t.Fatalf("apply: %s", r)
	}
	if r := in.remote(t, "", "get", "destinations"); !regexp.MustCompile(`worker-1\s+\S+\s+worker-1\s+environment=staging`).MatchString(r.stdout) {
		t.Fatalf("the last duplicate did not win: %s", r)
	}
	if r := in.remote(t, "", "diff", "-f", folder); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("diff right after apply: %s\nwant exit 0 and nothing printed", r)
	}
	writeFiles(t, folder, map[string]string{"destinations/b-worker-1.yml": destination("worker-1", "prod")})
	r = in.remote(t, "", "diff", "-f", folder)
	if r.code != exitChanges || !strings.Contains(r.stdout, "destination/worker-1 would be updated") ||
		!strings.Contains(r.stdout, "metadata.labels.environment: staging → prod") {
		t.Fatalf("diff after an edit: %s\nwant exit 1 with the field", r)
	}
}
