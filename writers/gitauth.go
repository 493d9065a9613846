package writers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/stateward/stateward/tenants"
)

// Auth methods a GitConfig accepts.
const (
	GitAuthBasic = "basicAuth"
	GitAuthSSH   = "ssh"
	GitAuthNone  = "none"
)

// sshDialTimeout bounds the SSH handshake, which go-git runs without the caller's ctx.
const sshDialTimeout = 30 * time.Second

// gitRemote is everything needed to open a session with the remote: the parsed
// endpoint, the credentials and a transport owned by this store alone. Building the
// transport here (rather than through go-git's client.InstallProtocol) keeps the
// custom dialer, CA bundle and TLS settings per store, with no package globals.
type gitRemote struct {
	url  string // as configured, without credentials; used in messages
	ep   *transport.Endpoint
	auth transport.AuthMethod
	tr   transport.Transport
	// preDial, for a file:// URL, checks the path again and returns the endpoint
	// of its resolved path (see setupFile). For SSH, it resolves and checks the address with the guarded
	// dialer and returns the endpoint to open the session on: the same endpoint
	// with the vetted IP address in place of the host name, so go-git (whose SSH
	// transport takes no dialer) cannot resolve the name again and reach another
	// address (DNS rebinding). Host keys are still checked against the name.
	preDial func(ctx context.Context) (*transport.Endpoint, error)
	// app, for a githubApp store, mints the installation token each session
	// uses as its password (auth is then nil).
	app *githubApp
	// secret is redacted from every error message.
	secret string
}

// newGitRemote validates the URL and credentials of cfg and builds its transport.
// The URL is classified by tenants.ParseGitURL, whose endpoint (go-git's own
// parse) is the one dialled, so what was validated is what is opened.
func newGitRemote(cfg GitConfig) (*gitRemote, error) {
	u, err := tenants.ParseGitURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("git url: %w", err)
	}
	r := &gitRemote{url: cfg.URL, ep: u.Endpoint, secret: strings.TrimSpace(cfg.Password)}
	switch u.Form {
	case tenants.FormHTTP, tenants.FormHTTPS:
		err = r.setupHTTP(cfg)
	case tenants.FormSSH, tenants.FormSCP:
		err = r.setupSSH(cfg)
	case tenants.FormFile:
		err = r.setupFile(cfg)
	default:
		err = fmt.Errorf("git url %q: unsupported form %q", cfg.URL, u.Form)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// setupHTTP builds an HTTP transport with the store's TLS settings and dialer, and the
// basic-auth credentials (sent as an Authorization header, never in the URL).
func (r *gitRemote) setupHTTP(cfg GitConfig) error {
	switch authMethod(cfg) {
	case GitAuthBasic:
		if r.secret == "" {
			return errors.New("git basicAuth: password is required")
		}
		r.auth = &githttp.BasicAuth{Username: basicUser(cfg, r.ep.User), Password: r.secret}
	case GitAuthNone, GitAuthGitHubApp:
	default:
		return fmt.Errorf("git auth method %q does not fit an %s URL", cfg.AuthMethod, r.ep.Protocol)
	}
	hc, err := httpClient(cfg)
	if err != nil {
		return err
	}
	if cfg.AuthMethod == GitAuthGitHubApp {
		if r.app, err = newGitHubApp(cfg, hc); err != nil {
			return err
		}
	}
	// Git's own requests only: a refusal for rate limiting becomes a
	// *RateLimitedError that keeps the wait go-git would drop.
	git := *hc
	git.Transport = rateLimitTransport{next: hc.Transport, now: time.Now}
	r.tr = githttp.NewClient(&git)
	return nil
}

// setupFile serves a bare repository on this machine with go-git's in-process
// server (no git binary, no network, and so none of the repository's hooks: a
// pre-receive hook does not stop Stateward's push). cfg.LocalRepos is the policy:
// nil refuses every file:// URL, and the path is checked against the server's own
// files here and again before every session (it may become a symbolic link
// later); the session opens the resolved path that was checked.
func (r *gitRemote) setupFile(cfg GitConfig) error {
	if a := authMethod(cfg); a != GitAuthNone {
		return fmt.Errorf("git auth method %q does not fit a file:// URL; use none", a)
	}
	real, err := cfg.LocalRepos.Check(cfg.URL)
	if err != nil {
		return faulty(fmt.Errorf("git url: %w", err))
	}
	if fi, err := os.Stat(filepath.Join(real, "config")); err != nil || fi.IsDir() {
		return faulty(fmt.Errorf("git url %q: no bare repository there (create one with git init --bare)", cfg.URL))
	}
	r.tr = server.NewClient(server.NewFilesystemLoader(osfs.New("")))
	r.preDial = func(context.Context) (*transport.Endpoint, error) {
		real, err := cfg.LocalRepos.Check(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("git url: %w", err)
		}
		ep := *r.ep
		ep.Path = real
		return &ep, nil
	}
	return nil
}

// authMethod returns the effective auth method: an empty one means basicAuth when a
// password is given and none otherwise.
func authMethod(cfg GitConfig) string {
	if cfg.AuthMethod != "" {
		return cfg.AuthMethod
	}
	if strings.TrimSpace(cfg.Password) != "" {
		return GitAuthBasic
	}
	return GitAuthNone
}

// basicUser picks the basic-auth user name the way Kratix does: the configured one,
// else the one in the URL, else "x-access-token" for GitHub and "stateward" elsewhere.
func basicUser(cfg GitConfig, urlUser string) string {
	switch u := strings.TrimSpace(cfg.Username); {
	case u != "":
		return u
	case urlUser != "":
		return urlUser
	case strings.Contains(strings.ToLower(cfg.URL), "github"):
		return "x-access-token"
	default:
		return "stateward"
	}
}

// httpClient returns a client whose transport verifies TLS against the system roots
// plus cfg.CABundle (unless InsecureSkipTLS) and dials through cfg.Dial when set.
func httpClient(cfg GitConfig) (*http.Client, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	tr := base.Clone()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipTLS} //nolint:gosec // opt-in per store
	if len(cfg.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, errors.New("git CA bundle: no PEM certificate found")
		}
		tlsCfg.RootCAs = pool
	}
	tr.TLSClientConfig = tlsCfg
	if cfg.Dial != nil {
		// Every connection must pass the guard; a proxy from the environment would
		// let the request reach its target without it.
		tr.DialContext = cfg.Dial
		tr.Proxy = nil
	}
	return &http.Client{Transport: tr}, nil
}

// setupSSH builds public-key auth with strict host key checking against the
// configured known_hosts text. The user comes from the URL, "git" by default.
func (r *gitRemote) setupSSH(cfg GitConfig) error {
	if a := authMethod(cfg); a != GitAuthSSH {
		return fmt.Errorf("git auth method %q does not fit an ssh URL", a)
	}
	if strings.TrimSpace(cfg.KnownHosts) == "" {
		return errors.New("git ssh: knownHosts is required (host keys are always checked)")
	}
	user := r.ep.User
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, []byte(cfg.SSHPrivateKey), "")
	if err != nil {
		return fmt.Errorf("git ssh: private key: %w", err)
	}
	if err := setKnownHosts(keys, cfg.KnownHosts, r.hostPort()); err != nil {
		return err
	}
	// The session may be opened on the vetted IP address: known_hosts is matched
	// against the host name of the URL all the same.
	byName, name := keys.HostKeyCallback, r.hostPort()
	keys.HostKeyCallback = func(_ string, remote net.Addr, key ssh.PublicKey) error { return byName(name, remote, key) }
	r.auth = keys
	// go-git copies every field of this config over the one the auth method builds,
	// so it must be complete.
	r.tr = gitssh.NewClient(&ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(keys.Signer)},
		HostKeyCallback:   keys.HostKeyCallback,
		HostKeyAlgorithms: keys.HostKeyAlgorithms,
		Timeout:           sshDialTimeout,
	})
	if cfg.Dial != nil {
		r.preDial = func(ctx context.Context) (*transport.Endpoint, error) { return r.vettedEndpoint(ctx, cfg.Dial) }
	}
	return nil
}

// vettedEndpoint dials the SSH address through the guard and returns a copy of the
// endpoint that names the address the guard connected to.
func (r *gitRemote) vettedEndpoint(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error)) (*transport.Endpoint, error) {
	c, err := dial(ctx, "tcp", r.hostPort())
	if err != nil {
		return nil, err
	}
	addr, ok := c.RemoteAddr().(*net.TCPAddr)
	_ = c.Close()
	if !ok {
		return nil, fmt.Errorf("git ssh: unexpected remote address %v", c.RemoteAddr())
	}
	ep := *r.ep
	ep.Host, ep.Port = addr.IP.String(), addr.Port
	return &ep, nil
}

// session is the endpoint to open a session on: the vetted address for SSH.
func (r *gitRemote) session(ctx context.Context) (*transport.Endpoint, error) {
	if r.preDial == nil {
		return r.ep, nil
	}
	return r.preDial(ctx)
}

// hostPort is the SSH address of the endpoint.
func (r *gitRemote) hostPort() string {
	port := r.ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	return net.JoinHostPort(r.ep.Host, strconv.Itoa(port))
}

// setKnownHosts installs a strict host key callback built from knownHosts text.
// The knownhosts package reads only files, so the text goes through a temporary file
// that is removed before returning.
func setKnownHosts(keys *gitssh.PublicKeys, knownHosts, hostPort string) error {
	f, err := os.CreateTemp("", "stateward-known-hosts-*")
	if err != nil {
		return fmt.Errorf("git ssh: known hosts: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(knownHosts + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("git ssh: known hosts: %w", werr)
	}
	db, err := gitssh.NewKnownHostsDb(f.Name())
	if err != nil {
		return fmt.Errorf("git ssh: known hosts: %w", err)
	}
	keys.HostKeyCallback = db.HostKeyCallback()
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort)
	return nil
}
