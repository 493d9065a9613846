package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// replicaLockFile in the data dir holds the id of the replica that uses it.
const replicaLockFile = "replica.lock"

// newReplicaID names this process in job leases and sweep turns: host, pid and a
// random suffix, so a restarted replica is a new owner.
func newReplicaID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), strings.ToLower(rand.Text()[:6]))
}

// lockDataDir makes dir this replica's own: each replica keeps its own Git clone
// cache, and two processes working in one clone would corrupt it. It takes an
// exclusive lock on dir/replica.lock (held until release or exit, also after a
// kill -9, since the kernel drops it) and writes id into it; a second serve on
// the same dir is refused naming the replica that holds it.
func lockDataDir(dir, id string) (release func(), err error) {
	if err := makeDataDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, replicaLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir lock %s: %w", path, err)
		}
		holder, _ := os.ReadFile(path)
		return nil, fmt.Errorf("STATEWARD_DATA_DIR %s is in use by replica %s: each replica needs its own data dir "+
			"(it holds that replica's Git clone cache); give this one another directory or volume", dir, strings.TrimSpace(string(holder)))
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if _, err := f.WriteAt([]byte(id+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	return func() { f.Close() }, nil // closing drops the lock
}

// makeDataDir creates the data dir, private to the user, if it is not there.
func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}
