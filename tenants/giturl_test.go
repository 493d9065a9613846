package tenants

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// localSpellings are URLs that name this machine's disk (for go-git, or for a
// reader), in every spelling known to have reached it or to be likely to: none may
// pass validation, and only file:///absolute/path is taken in the local default.
var localSpellings = []string{
	"/x@localhost:y/../../srv/r.git",
	"/x@127.0.0.1:y/../../srv/r.git",
	"/x@localhost:22/../../srv/r.git",
	"a/x@localhost:y",
	"./x@h:y",
	"/srv/r.git",
	"/srv/r.git/",
	"./rel",
	"../rel",
	"rel",
	"~/x",
	"~user/x",
	`C:\x`,
	`c:\Users\x.git`,
	`\\server\share\r.git`,
	"file:/srv/r.git",
	"file:srv/r.git",
	"file:relative",
	"file://localhost/srv/r.git",
	"file://host/srv/r.git",
	"file://127.0.0.1/srv/r.git",
	"file://./srv/r.git",
	"FILE:///srv/r.git",
	"File:///srv/r.git",
	"file:///srv/../data/r.git",
	"file:///srv/./r.git",
	"file:////srv/r.git",
	"file:///srv//r.git",
	"file:///srv/r.git/",
	"file:///srv/%2e%2e/data/r.git",
	"file:///",
	"file://",
	"file:///srv/r.git?x=1/..",
	":path",
	":/srv/r.git",
	"git@:path",
	"@host:path",
	"[::1]:path",
	"git@[::1]:srv/r.git",
	"git@.:srv/r.git",
	"git@..:srv/r.git",
	"x@localhost/..:y",
	"x@host:\\srv",
	"git@host name:r.git",
	"C:/x",
	"c:x",
	"ssh://./srv/r.git",
	"ssh:///srv/r.git",
	"https:///srv/r.git",
	"https://./r.git",
	"https://../r.git",
	"http://%2e/r.git",
	"git://host/r.git",
	"ext::sh -c touch% /tmp/pwned",
	"a:b@host:r.git",
	"git@host\n:r.git",
	"  /srv/r.git",
	"-oProxyCommand=x:r.git",
	"ssh://-oProxyCommand=x/r.git",
}

func TestParseGitURLRefusesLocalSpellings(t *testing.T) {
	for _, raw := range localSpellings {
		t.Run(raw, func(t *testing.T) {
			u, err := ParseGitURL(raw)
			if err == nil {
				t.Fatalf("ParseGitURL(%q) = %+v, want an error", raw, u)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "spec.url" {
				t.Errorf("error %v does not name spec.url", err)
			}
			if err := validateGitURL(raw, true); err == nil {
				t.Errorf("validateGitURL(%q, insecure) accepted it", raw)
			}
			if h := GitHost(raw); h != "" {
				t.Errorf("GitHost(%q) = %q, want none", raw, h)
			}
			if ep := (GitStateStore{URL: raw}).CredentialEndpoint(); ep != "" {
				t.Errorf("CredentialEndpoint(%q) = %q, want none", raw, ep)
			}
		})
	}
}

func TestParseGitURLForms(t *testing.T) {
	for _, c := range []struct{ raw, form, host string }{
		{"https://github.com/org/r.git", FormHTTPS, "github.com"},
		{"HTTPS://GitHub.com/org/r.git", FormHTTPS, "GitHub.com"},
		{"http://git.internal:8080/r.git", FormHTTP, "git.internal"},
		{"ssh://git@git.example.com:2222/org/r.git", FormSSH, "git.example.com"},
		{"ssh://git@[2001:db8::1]/r.git", FormSSH, "[2001:db8::1]"},
		{"git@github.com:org/r.git", FormSCP, "github.com"},
		{"github.com:org/r.git", FormSCP, "github.com"},
		{"git@10.0.0.5:/srv/r.git", FormSCP, "10.0.0.5"},
		{"git@host.example.com.:r.git", FormSCP, "host.example.com."},
		{"git@my_host:r.git", FormSCP, "my_host"},
		{"file:///srv/gitops.git", FormFile, ""},
	} {
		u, err := ParseGitURL(c.raw)
		if err != nil {
			t.Errorf("ParseGitURL(%q): %v", c.raw, err)
			continue
		}
		if u.Form != c.form || u.Host != c.host {
			t.Errorf("ParseGitURL(%q) = form %q host %q, want %q %q", c.raw, u.Form, u.Host, c.form, c.host)
		}
		ep, _ := transport.NewEndpoint(c.raw)
		if (ep.Protocol == "file") != (u.Form == FormFile) {
			t.Errorf("%q: go-git says %q, we say %q", c.raw, ep.Protocol, u.Form)
		}
	}
}

// isLocalSpelling reports whether raw names the server's disk in any spelling
// go-git (or a reader) would take for one: file://…, file:…, or a path.
func isLocalSpelling(raw string) bool {
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "file:") {
		return true
	}
	ep, err := transport.NewEndpoint(raw)
	return err == nil && ep.Protocol == "file"
}

// TestIsLocalSpelling: the fuzz test's oracle recognises every local spelling.
func TestIsLocalSpelling(t *testing.T) {
	for _, raw := range []string{"/x@localhost:y/../../srv/r.git", "/srv/r.git", "./rel", "~/x", `C:\x`,
		"file:/srv", "file:relative", "FILE:///srv", "file://host/srv", "file:///srv/r.git"} {
		if !isLocalSpelling(raw) {
			t.Errorf("isLocalSpelling(%q) = false", raw)
		}
	}
	for _, raw := range []string{"https://h/r.git", "git@h:r.git", "ssh://h/r.git"} {
		if isLocalSpelling(raw) {
			t.Errorf("isLocalSpelling(%q) = true", raw)
		}
	}
}

// FuzzParseGitURL: whatever validation accepts as a remote, go-git's endpoint parser
// (the one that dials) does not open as a local path, dials the host we checked,
// and a file:// form is only ever the one spelling.
func FuzzParseGitURL(f *testing.F) {
	for _, s := range localSpellings {
		f.Add(s)
	}
	for _, s := range []string{"https://github.com/org/r.git", "git@github.com:org/r.git", "ssh://git@h:22/r",
		"file:///srv/r.git", "http://[::1]:80/r", "u@h:1:p", "a@b@c:d", "h:22:/p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseGitURL(raw)
		if err != nil {
			return
		}
		ep, err := transport.NewEndpoint(raw)
		if err != nil {
			t.Fatalf("accepted %q that go-git cannot parse: %v", raw, err)
		}
		if u.Form == FormFile {
			if !strings.HasPrefix(raw, "file:///") || ep.Protocol != "file" || ep.Host != "" || filepath.Clean(ep.Path) != ep.Path {
				t.Fatalf("accepted %q as a local repository: %+v", raw, ep)
			}
			return
		}
		if ep.Protocol == "file" || isLocalSpelling(raw) {
			t.Fatalf("accepted %q as a remote, go-git opens it on disk: %+v", raw, ep)
		}
		if ep.Protocol != "https" && ep.Protocol != "http" && ep.Protocol != "ssh" {
			t.Fatalf("accepted %q with protocol %q", raw, ep.Protocol)
		}
		if ep.Host == "" || ep.Host != u.Host || GitHost(raw) != ep.Host {
			t.Fatalf("accepted %q: go-git dials host %q, we checked %q", raw, ep.Host, u.Host)
		}
		if ep.Password != "" {
			t.Fatalf("accepted %q with a password", raw)
		}
	})
}

func TestLocalReposRefusesTheServersFiles(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	keyDir := filepath.Join(root, "keys")
	cache := filepath.Join(data, "git", "1", "git-2")
	for _, d := range []string{cache, keyDir, filepath.Join(root, "repos", "ok.git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(keyDir, "secret.key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symbolic link outside the data dir that leads into it, and one to the key.
	link := filepath.Join(root, "repos", "link.git")
	if err := os.Symlink(cache, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "data"), filepath.Join(root, "repos", "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "repos", "dangling.git")); err != nil {
		t.Fatal(err)
	}
	l := &LocalRepos{Protected: []string{data, key, filepath.Join(root, "db", "stateward.db")}}
	refused := []string{
		"file://" + data,
		"file://" + cache,
		"file://" + filepath.Join(data, "git", "9", "git-9"), // not there yet
		"file://" + link,
		"file://" + filepath.Join(root, "repos", "d", "git", "1", "git-2"),
		"file://" + filepath.Join(root, "repos", "d"),
		"file://" + key,
		"file://" + filepath.Join(root, "db", "stateward.db"),
		"file://" + filepath.Join(root, "repos", "dangling.git"),
		"file://" + filepath.Join(root, "repos", "..", "data", "git", "1", "git-2"),
		"file://" + cache + "/",
		"file://" + strings.ReplaceAll(cache, "/", "//"),
	}
	for _, raw := range refused {
		if p, err := l.Check(raw); err == nil {
			t.Errorf("Check(%q) = %q, want a refusal", raw, p)
		}
	}
	for _, raw := range localSpellings {
		if p, err := l.Check(raw); err == nil {
			t.Errorf("Check(%q) = %q, want a refusal", raw, p)
		}
	}
	ok := "file://" + filepath.Join(root, "repos", "ok.git")
	if p, err := l.Check(ok); err != nil || p != filepath.Join(root, "repos", "ok.git") {
		t.Errorf("Check(%q) = %q, %v; want it accepted", ok, p, err)
	}
	if _, err := (*LocalRepos)(nil).Check(ok); err == nil {
		t.Errorf("a nil LocalRepos accepted %q", ok)
	}
}

// TestLocalReposCaseInsensitive: on a file system that ignores case, the data dir in
// another case is still the data dir.
func TestLocalReposCaseInsensitive(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "Data")
	if err := os.MkdirAll(filepath.Join(data, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := "file://" + filepath.Join(root, "DATA", "GIT")
	if _, err := (&LocalRepos{Protected: []string{data}, CaseInsensitive: true}).Check(other); err == nil {
		t.Errorf("case-insensitive: %q accepted, want it refused", other)
	}
	if _, err := (&LocalRepos{Protected: []string{data}}).Check(other); err != nil {
		t.Errorf("case-sensitive: %q refused: %v", other, err)
	}
}
