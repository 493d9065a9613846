package testpeers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const postgresInstall = "PostgreSQL not found (initdb and postgres, version 15 or later); run scripts/test.sh, " +
	"or: apt-get install -y postgresql (or set STATEWARD_POSTGRES_BIN to the directory holding initdb and postgres)"

// postgresReadyTimeout bounds initdb plus the start of the server.
const postgresReadyTimeout = 90 * time.Second

// postgresUser is the unprivileged account the cluster runs as when the tests run
// as root (initdb and postgres refuse root).
const postgresUser = "nobody"

// PostgresServer is a throwaway PostgreSQL cluster that every test of the test
// binary shares: a fresh initdb in a temporary directory, listening on a free
// 127.0.0.1 port, fsync off. Give each test its own database with NewDatabase.
type PostgresServer struct {
	port     int
	password string
	dir      string // removed at stop: data directory, password file
	cmd      *exec.Cmd
	exited   chan struct{}
	output   *syncBuffer
	durable  bool // synchronous_commit on (PrivatePostgres)
}

var (
	sharedPostgresMu   sync.Mutex
	sharedPostgres     *PostgresServer
	sharedPostgresErr  error
	sharedPostgresDone bool
)

// Postgres returns the PostgreSQL server of the test binary, starting it on first
// use. The test package's TestMain must call RunMain, which stops it after the
// tests.
//
// The binaries come from $STATEWARD_POSTGRES_BIN, else /usr/lib/postgresql/15/bin
// (Debian's postgresql package), else the newest /usr/lib/postgresql/*/bin, else
// PATH. Run as root, the cluster runs as the user nobody.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	if !runMainActive.Load() {
		t.Fatalf("testpeers.Postgres needs the test package to stop the shared PostgreSQL: add\n\tfunc TestMain(m *testing.M) { testpeers.RunMain(m) }")
	}
	sharedPostgresMu.Lock()
	defer sharedPostgresMu.Unlock()
	if !sharedPostgresDone {
		sharedPostgresDone = true
		sharedPostgres, sharedPostgresErr = startPostgres()
	}
	if sharedPostgresErr != nil {
		t.Fatalf("%v", sharedPostgresErr)
	}
	return sharedPostgres
}

func stopSharedPostgres() {
	sharedPostgresMu.Lock()
	defer sharedPostgresMu.Unlock()
	if sharedPostgres != nil {
		sharedPostgres.stop()
		sharedPostgres = nil
	}
	sharedPostgresErr = errors.New("testpeers: PostgreSQL was already stopped by RunMain")
}

// postgresBin finds the directory holding initdb and postgres.
func postgresBin() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, b))
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("STATEWARD_POSTGRES_BIN"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("STATEWARD_POSTGRES_BIN=%s holds no initdb and postgres; %s", dir, postgresInstall)
		}
		return dir, nil
	}
	candidates := []string{"/usr/lib/postgresql/15/bin"}
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(others))) // newest first (two-digit majors)
	candidates = append(candidates, others...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if has(dir) {
			return dir, nil
		}
	}
	return "", errors.New(postgresInstall)
}

// runAs is the identity the cluster runs as: nil for the current user, nobody's
// when the tests run as root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(postgresUser)
	if err != nil {
		return nil, fmt.Errorf("testpeers: PostgreSQL refuses to run as root and there is no user %q to run it as: %w", postgresUser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testpeers: user %q: %w", postgresUser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startPostgres() (*PostgresServer, error) { return startPostgresWith(false) }

// startPostgresWith starts a cluster; durable turns synchronous_commit on.
func startPostgresWith(durable bool) (*PostgresServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stateward-postgres-")
	if err != nil {
		return nil, fmt.Errorf("testpeers: PostgreSQL dir: %w", err)
	}
	s := &PostgresServer{password: randomName(24), dir: dir, output: &syncBuffer{}, durable: durable}
	if err := s.initdb(bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port can be taken between freePort and the start of the server; try again
	// then.
	for range 3 {
		if err = s.start(bin, cred); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// initdb creates the cluster: superuser stateward with a random password,
// scram-sha-256 authentication, UTF-8.
func (s *PostgresServer) initdb(bin string, cred *syscall.Credential) error {
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("testpeers: PostgreSQL password file: %w", err)
	}
	if cred != nil {
		for _, p := range []string{s.dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("testpeers: hand %s to %s: %w", p, postgresUser, err)
			}
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"), "-U", "stateward",
		"--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync")
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testpeers: initdb: %v\n%s", err, out)
	}
	return nil
}

func (s *PostgresServer) start(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("testpeers: PostgreSQL port: %w", err)
	}
	s.port = port
	return s.startOn(bin, cred)
}

// startOn starts the server on s.port and waits until it answers.
func (s *PostgresServer) startOn(bin string, cred *syscall.Credential) error {
	port := s.port
	s.exited = make(chan struct{})
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit="+map[bool]string{true: "on", false: "off"}[s.durable], "-c", "full_page_writes=off",
		"-c", "max_connections=500", "-c", "shared_buffers=64MB")
	s.cmd.Dir = s.dir
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	// Kill the server when the test binary dies without running RunMain's
	// cleanup (a panic or the test timeout); its backends follow the postmaster.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("testpeers: start PostgreSQL %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	exited := false
	ok := Poll(postgresReadyTimeout, 50*time.Millisecond, func() bool {
		select {
		case <-s.exited:
			exited = true
			return true
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.url("postgres"))
		if err != nil {
			return false
		}
		c.Close(ctx)
		return true
	})
	switch {
	case exited:
		return fmt.Errorf("testpeers: PostgreSQL exited at start:\n%s", s.output.String())
	case !ok:
		s.kill()
		return fmt.Errorf("testpeers: PostgreSQL not ready after %s:\n%s", postgresReadyTimeout, s.output.String())
	}
	return nil
}

// stop shuts the server down (fast shutdown), waits for it and removes its files.
func (s *PostgresServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	os.RemoveAll(s.dir)
}

func (s *PostgresServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// url is the connection URL of database name.
func (s *PostgresServer) url(name string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("stateward", s.password),
		Host: "127.0.0.1:" + strconv.Itoa(s.port), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

// NewDatabase creates an empty database with a unique name and returns its
// postgres:// URL (superuser stateward). The database is dropped at cleanup,
// after the test's own cleanups that were registered later (closing its pools).
func (s *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	return s.NewDatabaseWith(t, "")
}

// NewDatabaseWith is NewDatabase with options appended to CREATE DATABASE, such
// as another collation than the cluster's C: "TEMPLATE template0 LOCALE_PROVIDER
// icu ICU_LOCALE 'en-US' LOCALE 'C'".
func (s *PostgresServer) NewDatabaseWith(t testing.TB, options string) string {
	t.Helper()
	name := "sw_" + randomName(20)
	if err := s.admin(fmt.Sprintf(`CREATE DATABASE %q %s`, name, options)); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.admin(fmt.Sprintf(`DROP DATABASE %q WITH (FORCE)`, name)); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.url(name)
}

// admin runs one statement in the postgres database.
func (s *PostgresServer) admin(stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, stmt)
	return err
}

// PrivatePostgres starts a PostgreSQL cluster of the test's own, which it may
// stop and start (RestartImmediate) without disturbing the other tests; it is
// removed at cleanup.
//
// Unlike the shared server it commits durably (synchronous_commit on): a crash
// must not lose what it said it committed, or a test of "nothing accepted is
// lost" would find the test cluster's own loss.
func PrivatePostgres(t testing.TB) *PostgresServer {
	t.Helper()
	s, err := startPostgresWith(true)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Crash stops the server as "pg_ctl stop -m immediate" does (SIGQUIT: every
// backend ends at once, no checkpoint; the next start recovers from the WAL)
// and waits until it is gone. Connections see their socket close.
func (s *PostgresServer) Crash(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("testpeers: PostgreSQL did not stop within 30 s of SIGQUIT")
	}
}

// Start starts a server stopped by Crash again, on the same port, and waits
// until it answers (after crash recovery).
func (s *PostgresServer) Start(t testing.TB) {
	t.Helper()
	bin, err := postgresBin()
	if err == nil {
		var cred *syscall.Credential
		if cred, err = runAs(); err == nil {
			err = s.startOn(bin, cred)
		}
	}
	if err != nil {
		t.Fatalf("testpeers: restart PostgreSQL: %v", err)
	}
}
