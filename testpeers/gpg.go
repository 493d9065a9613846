package testpeers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const gpgInstall = "gpg not found: apt-get install -y gnupg (scripts/peers.sh installs it)"

// GPG is a throwaway GnuPG home that trusts nothing but the public keys a test
// imports, for checking signed commits with the real `git verify-commit`.
type GPG struct {
	home string
}

// NewGPG makes an empty GnuPG home, removed at cleanup. Its path is kept short:
// gpg puts sockets in it, and socket paths are limited to ~100 bytes.
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("%s", gpgInstall)
	}
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatalf("gnupg home: %v", err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatalf("gnupg home: %v", err)
	}
	g := &GPG{home: home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	return g
}

// Import adds an armored public key.
func (g *GPG) Import(t testing.TB, armored string) {
	t.Helper()
	cmd := exec.Command("gpg", "--batch", "--quiet", "--homedir", g.home, "--import")
	cmd.Stdin = strings.NewReader(armored)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v: %s", err, out)
	}
}

// VerifyCommit runs `git verify-commit --raw rev` in the bare repository with
// this GnuPG home and returns gpg's status output; err is non-nil when git
// refuses the commit (unsigned, bad signature, unknown key).
func (s *GitServer) VerifyCommit(g *GPG, rev string) (string, error) {
	cmd := exec.Command("git", "verify-commit", "--raw", rev)
	cmd.Dir = s.dir
	cmd.Env = append(gitEnv(), "GNUPGHOME="+g.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Commits lists the commits reachable from branch, newest first.
func (s *GitServer) Commits(t testing.TB, branch string) []string {
	t.Helper()
	out, err := runGit(s.dir, nil, "rev-list", "refs/heads/"+branch)
	if err != nil {
		t.Fatalf("git rev-list %s: %v", branch, err)
	}
	return strings.Fields(out)
}

// CommitAuthor is the author name of commit rev.
func (s *GitServer) CommitAuthor(t testing.TB, rev string) string {
	t.Helper()
	out, err := runGit(s.dir, nil, "log", "-1", "--format=%an", rev)
	if err != nil {
		t.Fatalf("git log %s: %v", rev, err)
	}
	return strings.TrimSpace(out)
}

// VerifyCommitSSH runs `git verify-commit rev` for an SSH-signed commit, with an
// allowed-signers file (ssh-keygen's "principal keytype key" lines) holding
// allowedSigners; err is non-nil when git refuses the commit.
func (s *GitServer) VerifyCommitSSH(t testing.TB, allowedSigners, rev string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen not found: apt-get install -y openssh-client")
	}
	file := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(file, []byte(allowedSigners), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+file, "verify-commit", rev)
	cmd.Dir = s.dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}
