package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Exit codes of the commands that talk to a server, for CI jobs to rely on.
const (
	exitChanges   = 1 // diff: something would change; --wait: a placement failed or was rejected, or the Work was placed nowhere
	exitUsage     = 2 // bad command line
	exitRefused   = 3 // the server refused the request (4xx other than 401): its error and field are printed
	exitAuth      = 4 // not signed in, or the token was refused (401)
	exitServer    = 5 // the server failed (5xx), could not be reached, or answered something unexpected
	exitTimedOut  = 6 // --wait gave up after --timeout
	exitInterrupt = 130
)

// exitError carries the process exit code of an error; with a nil err it is a
// silent exit (the output already said everything).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

func exitWith(code int, format string, a ...any) error {
	return exitError{code: code, err: fmt.Errorf(format, a...)}
}

func usageError(format string, a ...any) error { return exitWith(exitUsage, format, a...) }

// exitCodeOf is the exit code main uses for an error returned by run.
func exitCodeOf(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupt
	}
	return 1
}

// credentials say which server, team and token the remote commands use: from
// flags, else STATEWARD_SERVER / STATEWARD_TENANT / STATEWARD_TOKEN, else the
// config file that `stateward login` wrote.
type credentials struct {
	Server string `json:"server"`
	Tenant string `json:"tenant"`
	Token  string `json:"token"`
}

// configPath is $XDG_CONFIG_HOME/stateward/config.json, or ~/.config/… .
func configPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "stateward", "config.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", usageError("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the credentials")
	}
	return filepath.Join(home, ".config", "stateward", "config.json"), nil
}

func readConfigFile(path string, stderr io.Writer) (credentials, error) {
	var c credentials
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "Warning: %s holds a token and is readable by others (mode %o): chmod 600 it\n", path, fi.Mode().Perm())
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// writeConfigFile replaces the config file atomically; the file is created with
// mode 0600 (it holds a token) in a 0700 directory.
func writeConfigFile(path string, c credentials) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	f, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// loadCredentials merges the config file, the environment and the flags (in
// rising precedence).
func loadCredentials(getenv func(string) string, flags map[string]string, stderr io.Writer) (credentials, error) {
	path, err := configPath(getenv)
	if err != nil {
		return credentials{}, err
	}
	c, err := readConfigFile(path, stderr)
	if err != nil {
		return c, exitWith(exitUsage, "config file: %v", err)
	}
	for _, s := range []struct {
		dst       *string
		env, flag string
	}{{&c.Server, "STATEWARD_SERVER", "server"}, {&c.Tenant, "STATEWARD_TENANT", "tenant"}, {&c.Token, "STATEWARD_TOKEN", "token"}} {
		if v := getenv(s.env); v != "" {
			*s.dst = v
		}
		if v := flags[s.flag]; v != "" {
			*s.dst = v
		}
	}
	c.Server = strings.TrimRight(c.Server, "/")
	return c, nil
}

func checkServerURL(server string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--server %q: want the server's URL, e.g. https://stateward.example.com", server)
	}
	return nil
}

// client calls one team's API with a token.
type client struct {
	creds credentials
	http  *http.Client
}

func newClient(c credentials) (*client, error) {
	if c.Server == "" || c.Token == "" {
		return nil, exitWith(exitAuth, "not signed in: run stateward login --server URL (or set STATEWARD_SERVER and STATEWARD_TOKEN)")
	}
	if err := checkServerURL(c.Server); err != nil {
		return nil, err
	}
	if c.Tenant == "" {
		return nil, usageError("no team: pass --tenant SLUG or set STATEWARD_TENANT")
	}
	return &client{creds: c, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// call sends one request to the team's API (path relative to
// /api/v1/tenants/{tenant}) and decodes a 2xx JSON answer into out (raw bytes into
// a *[]byte). Anything else becomes an exitError with the server's own message.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body []byte, contentType string, out any) (int, error) {
	u := c.creds.Server + "/api/v1/tenants/" + url.PathEscape(c.creds.Tenant) + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, exitWith(exitUsage, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.creds.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, exitWith(exitServer, "%s: %v", c.creds.Server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, exitWith(exitServer, "reading the answer: %v", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, answerError(resp.StatusCode, b)
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = b
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, exitWith(exitServer, "unexpected answer (%d) from %s: %v", resp.StatusCode, u, err)
		}
	}
	return resp.StatusCode, nil
}

// serverError is the API's error body: {"error", "field", "errors": [...]}.
type serverError struct {
	Error  string `json:"error"`
	Field  string `json:"field"`
	Errors []struct {
		Index   int    `json:"index"`
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// answerError turns a refusal into a message that names the fields, and the exit
// code of its class.
func answerError(code int, body []byte) error {
	var se serverError
	if json.Unmarshal(body, &se) != nil || se.Error == "" {
		se.Error = strings.TrimSpace(string(body))
		if len(se.Error) > 300 {
			se.Error = se.Error[:300] + "…"
		}
	}
	var b strings.Builder
	switch {
	case len(se.Errors) > 0: // the first one is also the summary: list them once
		fmt.Fprintf(&b, "the server refused the request (%d %s):", code, http.StatusText(code))
	case se.Field != "":
		fmt.Fprintf(&b, "%s (%d %s)\n  field: %s", se.Error, code, http.StatusText(code), se.Field)
	default:
		fmt.Fprintf(&b, "%s (%d %s)", se.Error, code, http.StatusText(code))
	}
	for _, e := range se.Errors {
		b.WriteString("\n  ")
		if e.Index > 0 {
			fmt.Fprintf(&b, "document %d", e.Index)
			if e.Kind != "" || e.Name != "" {
				fmt.Fprintf(&b, " (%s %s)", e.Kind, e.Name)
			}
			b.WriteString(": ")
		}
		if e.Field != "" {
			b.WriteString(e.Field + ": ")
		}
		b.WriteString(e.Message)
	}
	switch {
	case code == http.StatusUnauthorized:
		return exitWith(exitAuth, "%s\n  run stateward login again", b.String())
	case code >= 400 && code < 500:
		return exitWith(exitRefused, "%s", b.String())
	}
	return exitWith(exitServer, "%s", b.String())
}
