package writers

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// signingKey makes an OpenPGP key and returns its armored private half
// (encrypted with passphrase unless empty) and public half.
func signingKey(t testing.TB, passphrase string, cfg *packet.Config) (private, public string) {
	t.Helper()
	e, err := openpgp.NewEntity("Stateward Test", "", "sw@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	arm := func(kind string, write func(w *bytes.Buffer) error) string {
		var buf bytes.Buffer
		w, err := armor.Encode(&buf, kind, nil)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		if err := write(&raw); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(raw.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	public = arm(openpgp.PublicKeyType, func(w *bytes.Buffer) error { return e.Serialize(w) })
	if passphrase != "" {
		if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
			t.Fatal(err)
		}
		private = arm(openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return e.SerializePrivateWithoutSigning(w, nil) })
	} else {
		private = arm(openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return e.SerializePrivate(w, nil) })
	}
	return private, public
}

// TestGitSignedCommitsPassGitVerifyCommit: every commit Stateward pushes for a
// store with a signing key is accepted by the real `git verify-commit` (gpg) with
// the public key, on the remote's history; the commit it did not make is not.
func TestGitSignedCommitsPassGitVerifyCommit(t *testing.T) {
	private, public := signingKey(t, "correct horse", nil)
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) {
		c.SigningKey, c.SigningKeyPassphrase = private, "correct horse"
		c.Now = time.Now
	})
	apply(t, g, puts("one", "a.yaml", "1"))
	srv.PushOutside(t, "theirs.yaml", "x") // our next commit goes on top of theirs
	apply(t, g, Batch{Message: "two", Puts: []File{{Key: "b.yaml", Content: []byte("2")}}, Deletes: []string{"a.yaml"}})

	gpg := testpeers.NewGPG(t)
	gpg.Import(t, public)
	ours := 0
	for _, h := range srv.Commits(t, srv.Branch()) {
		out, err := srv.VerifyCommit(gpg, h)
		mine := srv.CommitAuthor(t, h) == "Stateward Test"
		switch {
		case mine && err != nil:
			t.Errorf("git verify-commit %s (ours): %v\n%s", h, err, out)
		case mine && !strings.Contains(out, "GOODSIG"):
			t.Errorf("git verify-commit %s (ours): no GOODSIG in\n%s", h, out)
		case !mine && err == nil:
			t.Errorf("git verify-commit %s (not ours, unsigned) passed: the check proves nothing", h)
		}
		if mine {
			ours++
		}
	}
	if ours != 2 {
		t.Errorf("commits by Stateward on the remote = %d, want 2", ours)
	}
}

func TestGitUnsignedWithoutKey(t *testing.T) {
	_, public := signingKey(t, "", nil)
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, nil)
	res := apply(t, g, puts("one", "a.yaml", "1"))
	gpg := testpeers.NewGPG(t)
	gpg.Import(t, public)
	if out, err := srv.VerifyCommit(gpg, res.Version); err == nil {
		t.Errorf("git verify-commit of a commit made without a signing key passed:\n%s", out)
	}
}

// TestGitBadSigningKeyIsNotReady: a key that cannot sign stops the store before
// anything is pushed, and says why.
func TestGitBadSigningKeyIsNotReady(t *testing.T) {
	private, _ := signingKey(t, "right", nil)
	expiredCfg := &packet.Config{KeyLifetimeSecs: 60, Time: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	expired, _ := signingKey(t, "", expiredCfg)
	for _, tc := range []struct {
		name, key, pass, want string
	}{
		{"no passphrase", private, "", "signingKeyPassphrase"},
		{"wrong passphrase", private, "wrong", "does not open it"},
		{"expired", expired, "", "cannot sign"},
		{"not a key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n", "", "signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := gitPeer(t, false)
			_, err := NewGit(GitConfig{URL: srv.URL(), AuthMethod: GitAuthBasic, Password: testGitPassword, CacheDir: t.TempDir(),
				SigningKey: tc.key, SigningKeyPassphrase: tc.pass})
			wantErr(t, "NewGit", err, tc.want)
			if n := srv.CommitCount(t, srv.Branch()); n != 1 {
				t.Errorf("commits on the remote = %d, want the initial one only", n)
			}
		})
	}
}

// TestGitNeverPushesAnUnverifiableCommit: when the signature does not verify
// against the key, the write fails and the remote is untouched.
func TestGitNeverPushesAnUnverifiableCommit(t *testing.T) {
	private, _ := signingKey(t, "", nil)
	_, otherPublic := signingKey(t, "", nil)
	srv := gitPeer(t, false)
	g := newTestGit(t, srv, func(c *GitConfig) { c.SigningKey = private; c.Now = time.Now })
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(otherPublic))
	if err != nil {
		t.Fatal(err)
	}
	g.signer.check = func(payload []byte, sig string) error { // a signer whose output does not verify
		_, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(payload), strings.NewReader(sig), nil)
		return err
	}
	_, err = g.Apply(context.Background(), puts("one", "a.yaml", "1"))
	wantErr(t, "Apply", err, "does not verify", "not pushing")
	if n := srv.CommitCount(t, srv.Branch()); n != 1 {
		t.Errorf("commits on the remote = %d, want the initial one only", n)
	}
}

// sshKey makes an SSH key with the real ssh-keygen and returns the private key
// file's text and the public key line.
func sshKey(t *testing.T, kind, passphrase string) (private, public string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "id")
	args := []string{"-q", "-t", kind, "-N", passphrase, "-C", "stateward", "-f", file}
	if kind == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (apt-get install -y openssh-client): %v: %s", err, out)
	}
	priv, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return string(priv), strings.TrimSpace(string(pub))
}

// TestGitSSHSignedCommitsPassGitVerifyCommit: with an SSH signing key the
// commits carry SSHSIG signatures that git (gpg.format=ssh, ssh-keygen -Y)
// accepts against an allowed-signers file; without the key in that file, or on
// the commit Stateward did not make, it refuses.
func TestGitSSHSignedCommitsPassGitVerifyCommit(t *testing.T) {
	for _, kind := range []string{"ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			private, public := sshKey(t, kind, "hunter2")
			_, otherPublic := sshKey(t, "ed25519", "")
			srv := gitPeer(t, false)
			g := newTestGit(t, srv, func(c *GitConfig) { c.SigningKey, c.SigningKeyPassphrase = private, "hunter2" })
			res := apply(t, g, puts("one", "a.yaml", "1"))
			allowed := "sw@example.com " + public + "\n"
			if out, err := srv.VerifyCommitSSH(t, allowed, res.Version); err != nil || !strings.Contains(out, `Good "git" signature`) {
				t.Errorf("git verify-commit (ssh) of our commit: %v\n%s", err, out)
			}
			if out, err := srv.VerifyCommitSSH(t, "sw@example.com "+otherPublic+"\n", res.Version); err == nil {
				t.Errorf("git verify-commit accepted our commit against another key:\n%s", out)
			}
			first := srv.Commits(t, srv.Branch())[1]
			if out, err := srv.VerifyCommitSSH(t, allowed, first); err == nil {
				t.Errorf("git verify-commit accepted the unsigned initial commit:\n%s", out)
			}
			// The fingerprint shown is ssh-keygen's, read from the encrypted key
			// without its passphrase.
			cmd := exec.Command("ssh-keygen", "-l", "-f", "-")
			cmd.Stdin = strings.NewReader(public)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(string(out))[1]
			if got := tenants.SigningKeyFingerprint(private); got != want || g.signer.fingerprint != want {
				t.Errorf("fingerprint: stored %q, signer %q, ssh-keygen -l %q", got, g.signer.fingerprint, want)
			}
		})
	}
}

func TestGitSSHSigningKeyWrongPassphrase(t *testing.T) {
	private, _ := sshKey(t, "ed25519", "right")
	for pass, want := range map[string]string{"": "signingKeyPassphrase", "wrong": "does not open it"} {
		_, err := NewGit(GitConfig{URL: "https://example.com/r.git", AuthMethod: GitAuthNone, CacheDir: t.TempDir(),
			SigningKey: private, SigningKeyPassphrase: pass})
		wantErr(t, "NewGit with passphrase "+pass, err, want)
	}
}
