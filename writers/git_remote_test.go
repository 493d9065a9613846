package writers

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stateward/stateward/testpeers"
)

// proxyTo returns a handler that forwards every request to the server at rawURL and
// calls before (when set) ahead of forwarding.
func proxyTo(t *testing.T, rawURL string, before func(*http.Request)) http.Handler {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if before != nil {
			before(r)
		}
		rp.ServeHTTP(w, r)
	})
}

// wantErr fails unless err says every one of parts and does not show the password.
func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one saying %q", what, parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not say %q", what, err, p)
		}
	}
	if strings.Contains(err.Error(), testGitPassword) {
		t.Errorf("%s: error %q shows the password", what, err)
	}
}

func TestGitApplyRebasesWhenAPushLandsDuringOurs(t *testing.T) {
	srv := gitPeer(t, false)
	var once sync.Once
	front := httptest.NewServer(proxyTo(t, srv.URL(), func(r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			once.Do(func() { srv.PushOutside(t, "theirs/x", "foreign") })
		}
	}))
	defer front.Close()
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = front.URL + "/repo.git" })
	res := apply(t, g, puts("ours", "ours/a", "1"))
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "ours/a": "1", "theirs/x": "foreign"})
	if head := srv.Head(t, srv.Branch()); res.Version != head {
		t.Errorf("version = %s, want head %s", res.Version, head)
	}
	if n := srv.CommitCount(t, srv.Branch()); n != 3 {
		t.Errorf("commit count = %d, want 3 (initial, theirs, ours)", n)
	}
}

// TestGitWriteOnItsOwnTipAsksTwice: a write on top of the writer's own last push
// reads the tip from the push's advertisement and sends the push, two requests;
// it used to fetch first, a third request on every commit. A tip someone else
// pushed is fetched before the push, over the same push session.
func TestGitWriteOnItsOwnTipAsksTwice(t *testing.T) {
	srv := gitPeer(t, false)
	var mu sync.Mutex
	var reqs []string
	front := httptest.NewServer(proxyTo(t, srv.URL(), func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, r.Method+" "+path.Base(r.URL.Path)+" "+r.URL.RawQuery)
	}))
	defer front.Close()
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		got := reqs
		reqs = nil
		return got
	}
	const (
		advertise = "GET refs service=git-receive-pack"
		push      = "POST git-receive-pack "
	)
	fetch := []string{"GET refs service=git-upload-pack", "POST git-upload-pack "}
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = front.URL + "/repo.git" })
	apply(t, g, puts("first", "a", "1"))
	if got, want := took(), append(append([]string{advertise}, fetch...), push); !slices.Equal(got, want) {
		t.Errorf("first write (an empty cache) asked %q, want %q", got, want)
	}
	apply(t, g, puts("second", "b", "2"))
	if got, want := took(), []string{advertise, push}; !slices.Equal(got, want) {
		t.Errorf("write on its own tip asked %q, want %q", got, want)
	}
	srv.PushOutside(t, "theirs/x", "foreign")
	apply(t, g, puts("third", "c", "3"))
	if got, want := took(), append(append([]string{advertise}, fetch...), push); !slices.Equal(got, want) {
		t.Errorf("write on a tip pushed by someone else asked %q, want %q", got, want)
	}
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "a": "1", "b": "2", "theirs/x": "foreign", "c": "3"})
}

func TestGitPushHookRejectionShowsRemoteMessage(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	const msg = "POLICY: commits to main need a ticket number"
	srv.SetPreReceiveReject(msg)
	_, err := g.Apply(context.Background(), puts("one", "a", "1"))
	wantErr(t, "Apply with a rejecting hook", err, "git push to "+srv.URL(), msg)
	srv.SetPreReceiveReject("")
	apply(t, g, puts("one", "a", "1"))
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "a": "1"})
}

func TestGitWrongPasswordSaysAuthenticationFailed(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) { c.Password = "wrong-password" })
	wantErr(t, "Check", g.Check(context.Background()), "git ls-remote "+srv.URL(), "authentication failed")
	_, err := g.Apply(context.Background(), puts("one", "a", "1"))
	wantErr(t, "Apply", err, "git push to "+srv.URL(), "authentication failed")
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestGitRepositoryNotFound(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = strings.TrimSuffix(srv.URL(), "repo.git") + "other.git" })
	wantErr(t, "Check", g.Check(context.Background()), "repository not found")
}

func TestGitRemoteDownThenBack(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	apply(t, g, puts("one", "a", "1"))
	srv.SetDown(true)
	if _, err := g.Apply(context.Background(), puts("two", "a", "2")); err == nil {
		t.Fatal("Apply while the remote is down: got no error")
	}
	wantErr(t, "Check while down", g.Check(context.Background()), "503")
	srv.SetDown(false)
	res := apply(t, g, puts("two", "a", "2"))
	if !res.Changed {
		t.Errorf("result = %+v, want changed", res)
	}
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "a": "2"})
}

func TestGitConnectionRefused(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	srv.Close()
	wantErr(t, "Check", g.Check(context.Background()), "connection refused")
}

func TestGitDNSFailure(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = "http://no-such-host.invalid/repo.git" })
	wantErr(t, "Check", g.Check(context.Background()), "DNS lookup failed")
}

func TestGitTLSVerifiesWithCABundle(t *testing.T) {
	srv := gitPeer(t, false)
	front := httptest.NewUnstartedServer(proxyTo(t, srv.URL(), nil))
	front.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	front.StartTLS()
	defer front.Close()
	url := front.URL + "/repo.git"
	g := newTestGit(t, srv, func(c *GitConfig) { c.URL = url })
	wantErr(t, "Check without the CA", g.Check(context.Background()), "TLS failure")

	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	g = newTestGit(t, srv, func(c *GitConfig) { c.URL, c.CABundle = url, ca })
	if err := g.Check(context.Background()); err != nil {
		t.Errorf("Check with the CA bundle: %v", err)
	}
	apply(t, g, puts("tls", "a", "1"))
	insecure := newTestGit(t, srv, func(c *GitConfig) { c.URL, c.InsecureSkipTLS = url, true })
	if err := insecure.Check(context.Background()); err != nil {
		t.Errorf("Check with InsecureSkipTLS: %v", err)
	}
}

func TestGitDialerCarriesEveryConnection(t *testing.T) {
	srv := gitPeer(t, false)
	var dials atomic.Int32
	var d net.Dialer
	g := newTestGit(t, srv, func(c *GitConfig) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		}
	})
	apply(t, g, puts("one", "a", "1"))
	if dials.Load() == 0 {
		t.Error("the custom dialer was never used")
	}
	errBlocked := errors.New("address blocked by policy")
	blocked := newTestGit(t, srv, func(c *GitConfig) {
		c.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, errBlocked }
	})
	err := blocked.Check(context.Background())
	wantErr(t, "Check through a refusing dialer", err, "address blocked by policy")
	if !errors.Is(err, errBlocked) {
		t.Errorf("error %v does not wrap the dialer's error", err)
	}
}

func TestGitRejectsUnsafeKeys(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	for name, b := range map[string]Batch{
		"absolute":        puts("x", "/etc/passwd", "x"),
		"dot dot":         puts("x", "a/../../b", "x"),
		"backslash":       puts("x", `a\b`, "x"),
		"nul":             puts("x", "a\x00b", "x"),
		"empty segment":   puts("x", "a//b", "x"),
		"dot git":         puts("x", ".git/config", "x"),
		"dot git cased":   puts("x", "a/.GiT/hooks/pre-receive", "x"),
		"delete dot dot":  {Deletes: []string{"../x"}},
		"prefix dot git":  {DeletePrefixes: []string{"a/.git/"}},
		"prefix no slash": {DeletePrefixes: []string{"a"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := g.Apply(context.Background(), b); !errors.Is(err, ErrUnsafeKey) {
				t.Errorf("Apply = %v, want ErrUnsafeKey", err)
			}
		})
	}
	if n := srv.CommitCount(t, srv.Branch()); n != 1 {
		t.Errorf("commit count = %d, want 1", n)
	}
}

func TestGitRejectsConflictingKeys(t *testing.T) {
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	for name, b := range map[string]Batch{
		"file and directory": puts("x", "a/b", "1", "a/b/c", "2"),
		"directory and file": puts("x", "a/b/c", "1", "a/b", "2"),
		"two contents":       puts("x", "a", "1", "a", "2"),
	} {
		if _, err := g.Apply(context.Background(), b); err == nil {
			t.Errorf("%s: Apply succeeded, want an error", name)
		}
	}
}

func TestNewGitValidatesConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]GitConfig{
		"no url":           {CacheDir: dir},
		"no cache dir":     {URL: "https://example.com/r.git"},
		"password in url":  {URL: "https://u:p@example.com/r.git", CacheDir: dir},
		"bad scheme":       {URL: "ftp://example.com/r.git", CacheDir: dir},
		"basic no pass":    {URL: "https://example.com/r.git", AuthMethod: GitAuthBasic, CacheDir: dir},
		"ssh on https":     {URL: "https://example.com/r.git", AuthMethod: GitAuthSSH, CacheDir: dir},
		"ssh no known":     {URL: "ssh://git@example.com/r.git", AuthMethod: GitAuthSSH, CacheDir: dir},
		"bad branch":       {URL: "https://example.com/r.git", Branch: "a..b", CacheDir: dir},
		"bad ca bundle":    {URL: "https://example.com/r.git", CABundle: []byte("nope"), CacheDir: dir},
		"unknown auth":     {URL: "https://example.com/r.git", AuthMethod: "githubApp", CacheDir: dir},
		"ssh key garbage":  {URL: "git@example.com:r.git", AuthMethod: GitAuthSSH, KnownHosts: "example.com ssh-ed25519 AAAA", SSHPrivateKey: "x", CacheDir: dir},
		"http basic empty": {URL: "http://example.com/r.git", AuthMethod: GitAuthBasic, Password: "\n", CacheDir: dir},
	} {
		if _, err := NewGit(cfg); err == nil {
			t.Errorf("%s: NewGit succeeded, want an error", name)
		}
	}
}

func TestBasicUserDefaults(t *testing.T) {
	for _, tc := range []struct{ user, url, urlUser, want string }{
		{"bob\n", "https://github.com/o/r.git", "", "bob"},
		{"", "https://github.com/o/r.git", "", "x-access-token"},
		{"", "https://gitlab.example/o/r.git", "", "stateward"},
		{"", "https://gitlab.example/o/r.git", "carol", "carol"},
	} {
		if got := basicUser(GitConfig{Username: tc.user, URL: tc.url}, tc.urlUser); got != tc.want {
			t.Errorf("basicUser(%q, %q) = %q, want %q", tc.user, tc.url, got, tc.want)
		}
	}
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a/b", "../a", "a/.git/x", `a\b`, "/a", "a//b", "ok/file.yaml", ".gitignore"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != nil {
			return
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, ".git") {
				t.Fatalf("checkKey accepted %q with segment %q", key, seg)
			}
		}
		if strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("checkKey accepted %q", key)
		}
	})
}
