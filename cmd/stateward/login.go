package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// loginCmd: stateward login --server URL [--tenant T] [--token TOKEN] [--no-browser]
//
// Without --token it does what `gh auth login --web` does: it listens on
// 127.0.0.1, opens (and prints) the server's /cli/login page, where the signed-in
// person confirms; the server mints a token in their name and sends the browser
// back to the listener with it. The credentials go to the config file (0600).
func loginCmd(ctx context.Context, e cliEnv) error {
	if len(e.pos) != 0 {
		return usageError("usage: stateward login --server URL [--tenant SLUG] [--token TOKEN] [--no-browser]")
	}
	if err := checkFlags(e.flags, "server", "tenant", "token", "no-browser", "timeout"); err != nil {
		return exitError{code: exitUsage, err: err}
	}
	creds, err := loadCredentials(e.getenv, map[string]string{"server": e.flags["server"], "tenant": e.flags["tenant"]}, e.stderr)
	if err != nil {
		return err
	}
	if creds.Server == "" {
		return usageError("--server is required (or STATEWARD_SERVER)")
	}
	if err := checkServerURL(creds.Server); err != nil {
		return err
	}
	timeout, err := durationFlag(e.flags, "timeout", 5*time.Minute)
	if err != nil {
		return err
	}
	if tok := e.flags["token"]; tok != "" {
		if e.flags["tenant"] == "" && e.getenv("STATEWARD_TENANT") == "" {
			return usageError("--token needs --tenant: a token belongs to one team")
		}
		creds.Token = tok
	} else {
		if creds.Token, creds.Tenant, err = browserLogin(ctx, e, creds, timeout); err != nil {
			return err
		}
	}
	c, err := newClient(creds)
	if err != nil {
		return err
	}
	var who struct {
		Tenant struct{ Slug, Name string }
		Role   string
	}
	if _, err := c.call(ctx, http.MethodGet, "/", nil, nil, "", &who); err != nil {
		return err
	}
	path, err := configPath(e.getenv)
	if err != nil {
		return err
	}
	if err := writeConfigFile(path, creds); err != nil {
		return exitWith(exitUsage, "saving the credentials: %v", err)
	}
	fmt.Fprintf(e.stdout, "Signed in to %s, team %s (%s) as %s. Credentials saved in %s\n", creds.Server, who.Tenant.Slug, who.Tenant.Name, who.Role, path)
	return nil
}

var slugLike = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// browserLogin runs the loopback flow and returns the token and its team.
func browserLogin(ctx context.Context, e cliEnv, creds credentials, timeout time.Duration) (token, tenant string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", exitWith(exitServer, "listening on 127.0.0.1: %v", err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	state := base64.RawURLEncoding.EncodeToString(raw)

	type result struct{ token, tenant string }
	got := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path != "/callback" || r.Method != http.MethodGet:
			http.NotFound(w, r)
			return
		case r.Host != "127.0.0.1:"+port: // a page elsewhere reaching us through DNS rebinding
			http.Error(w, "wrong host", http.StatusMisdirectedRequest)
			return
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			http.Error(w, "This sign-in was not started by this stateward login; run it again.", http.StatusBadRequest)
			return
		case !strings.HasPrefix(q.Get("token"), "swt_") || !slugLike.MatchString(q.Get("tenant")):
			http.Error(w, "The server sent no token.", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>stateward login</title><p>The stateward CLI is signed in. You can close this tab.</p>`)
		select {
		case got <- result{q.Get("token"), q.Get("tenant")}:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	v := url.Values{"port": {port}, "state": {state}}
	// The team asked for now; the one of an earlier login is not a choice made here.
	if t := or(e.flags["tenant"], e.getenv("STATEWARD_TENANT")); t != "" {
		v.Set("tenant", t)
	}
	if h, err := os.Hostname(); err == nil {
		v.Set("host", h)
	}
	page := creds.Server + "/cli/login?" + v.Encode()
	fmt.Fprintf(e.stderr, "Open this URL in your browser to sign in (waiting up to %s):\n  %s\n", timeout, page)
	if e.flags["no-browser"] != "true" {
		openBrowser(page)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case r := <-got:
		return r.token, r.tenant, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", "", exitWith(exitTimedOut, "no sign-in within %s", timeout)
		}
		return "", "", ctx.Err()
	}
}

// openBrowser starts the desktop's browser on u; when there is none the printed
// URL is the way.
func openBrowser(u string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func durationFlag(flags map[string]string, name string, def time.Duration) (time.Duration, error) {
	v, ok := flags[name]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageError("--%s %q: want a duration such as 90s or 10m", name, v)
	}
	return d, nil
}
