package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one `stateward serve` process on the fixture's data dir.
type server struct {
	bin  string
	env  []string
	base string // http://addr
	log  *os.File
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // how it exited, once done is closed
}

// newServer describes the process; start runs it.
func newServer(bin, dataDir, addr, databaseURL, secretKey string, logFile *os.File) *server {
	env := append(os.Environ(), "STATEWARD_DATA_DIR="+dataDir, "STATEWARD_ADDR="+addr)
	if databaseURL != "" {
		env = append(env, "STATEWARD_DATABASE_URL="+databaseURL, "STATEWARD_SECRET_KEY="+secretKey)
	}
	return &server{bin: bin, env: env, base: "http://" + addr, log: logFile}
}

// start runs the server and waits until /readyz answers 200; it returns how
// long that took from the start of the process.
func (s *server) start(ctx context.Context) (time.Duration, error) {
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = s.env, s.log, s.log
	began := time.Now()
	if err := s.cmd.Start(); err != nil {
		return 0, err
	}
	s.done = make(chan struct{})
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return 0, fmt.Errorf("stateward serve exited at start: %v (see %s)", s.err, s.log.Name())
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		if resp, err := readyClient.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began), nil
			}
		}
		time.Sleep(5 * time.Millisecond) // polling an outside process, not synchronising goroutines
	}
	return 0, fmt.Errorf("stateward serve not ready after 2 minutes (see %s)", s.log.Name())
}

var readyClient = &http.Client{Timeout: 5 * time.Second}

// stop ends the process: SIGTERM, then SIGKILL after 30 s.
func (s *server) stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return nil
}

// restart stops the process and starts it again; it returns how long the new
// one took to answer /readyz 200.
func (s *server) restart(ctx context.Context) (time.Duration, error) {
	if err := s.stop(); err != nil {
		return 0, err
	}
	return s.start(ctx)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// memory reads VmRSS and VmHWM (bytes) of the process.
func (s *server) memory() (rss, hwm int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(s.pid()), "status"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
const clockTicks = 100

// cpu is the CPU time (user + system) the process has used.
func (s *server) cpu() (time.Duration, error) { return processCPU(s.pid()) }

// processCPU is the user and system CPU time process pid used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of the whole line
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// metric sums the samples of a Prometheus metric on /metrics whose labels
// contain every one of match (e.g. `state="pending"`).
func (s *server) metric(name string, match ...string) (float64, error) {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("/metrics line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// devLogin signs email in through the embedded development issuer, as a browser
// does, and returns a client holding the session cookie.
func devLogin(base, email string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	// The sign-in stops at the issuer's page, and once signed in: the page it
	// lands on is a team's overview, the probe team's, which holds every Work
	// the accept streams ever submitted (5 million after a dozen runs of the
	// million: its overview took over a minute cold) and is not measured.
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/dev/oidc/authorize") || req.URL.Path == "/" || strings.HasPrefix(req.URL.Path, "/t/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(base + "/login")
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasSuffix(loc.Path, "/dev/oidc/authorize") {
		return nil, fmt.Errorf("sign in: /login answered %s without the development issuer's page (is the server on loopback with no OIDC issuer?)", resp.Status)
	}
	form := url.Values{}
	for k, v := range loc.Query() {
		form[k] = v
	}
	form.Set("email", email)
	resp, err = c.PostForm(loc.Scheme+"://"+loc.Host+loc.Path, form)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && (resp.StatusCode < 300 || resp.StatusCode > 399) {
		return nil, fmt.Errorf("sign in: %s at %s", resp.Status, resp.Request.URL)
	}
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) == 0 {
		return nil, errors.New("sign in: no session cookie")
	}
	return c, nil
}
