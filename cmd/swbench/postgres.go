package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is the fixture's PostgreSQL cluster in dir/pg, kept between runs
// (initdb on first use), started the way testpeers starts its throwaway one:
// loopback only, fsync off, as the user nobody when swbench runs as root.
type postgres struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startPostgres(ctx context.Context, dir string) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "stateward", "--auth", "trust",
			"-E", "UTF8", "--locale", "C", "--no-sync")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %v\n%s", err, out)
		}
	}
	portFile := filepath.Join(dir, "port")
	port, _ := os.ReadFile(portFile)
	if len(port) == 0 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		port = []byte(addr[strings.LastIndexByte(addr, ':')+1:])
		if err := os.WriteFile(portFile, port, 0o644); err != nil {
			return nil, err
		}
	}
	p := &postgres{url: "postgres://stateward@127.0.0.1:" + string(port) + "/postgres?sslmode=disable", done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", string(port),
		"-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=256MB")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); logFile.Close(); close(p.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("PostgreSQL exited at start: see %s", logFile.Name())
		default:
		}
		c, err := pgx.Connect(ctx, p.url)
		if err == nil {
			c.Close(ctx)
			return p, nil
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
	p.stop()
	return nil, errors.New("PostgreSQL not ready after 90 s")
}

// stop shuts PostgreSQL down (fast shutdown) and waits for it.
func (p *postgres) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// postgresBin finds initdb and postgres as testpeers does: $STATEWARD_POSTGRES_BIN,
// /usr/lib/postgresql/15/bin, the newest /usr/lib/postgresql/*/bin, PATH.
func postgresBin() (string, error) {
	candidates := []string{os.Getenv("STATEWARD_POSTGRES_BIN"), "/usr/lib/postgresql/15/bin"}
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(others)))
	candidates = append(candidates, others...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL not found: bash scripts/peers.sh, or apt-get install -y postgresql")
}

// pgCredential is nobody's identity when swbench runs as root (PostgreSQL refuses
// root), else nil.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
