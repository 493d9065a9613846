package testpeers

import (
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runMainActive is set by RunMain before the tests run. Shared peers need it,
// because only RunMain stops them.
var runMainActive atomic.Bool

// RunMain runs the tests of m, stops the peers that the tests shared (the
// MinIO, PostgreSQL and Gitea processes), and exits with the result of m.Run. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testpeers.RunMain(m) }
func RunMain(m *testing.M) {
	runMainActive.Store(true)
	code := m.Run()
	stopSharedMinIO()
	stopSharedPostgres()
	stopSharedGitea()
	os.Exit(code)
}

// peersDir is where scripts/peers.sh installs the peers it builds:
// $STATEWARD_PEERS_DIR, else $HOME/.cache/stateward-peers; empty when neither is
// known.
func peersDir() string {
	if dir := os.Getenv("STATEWARD_PEERS_DIR"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "stateward-peers")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener has no TCP address")
	}
	return addr.Port, nil
}

// randomName returns a random lowercase string of n characters (n <= 26) that
// is valid in bucket names, user names and passwords.
func randomName(n int) string {
	return strings.ToLower(rand.Text()[:n])
}

// Poll calls ok every interval until it returns true or within has passed, and
// reports whether ok returned true: the one wait of the tests (for a peer, a
// process, a row), never a bare sleep.
func Poll(within, interval time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// WaitFor polls ok every 20 ms until it holds, failing t with ok's last words
// after within.
func WaitFor(t testing.TB, within time.Duration, ok func() (bool, string)) {
	t.Helper()
	var why string
	if !Poll(within, 20*time.Millisecond, func() bool {
		var done bool
		done, why = ok()
		return done
	}) {
		t.Fatalf("not within %v: %s", within, why)
	}
}
