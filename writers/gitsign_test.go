package writers

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

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
	g.signer.public = otherPublic // a signer whose output does not verify
	_, err := g.Apply(context.Background(), puts("one", "a.yaml", "1"))
	wantErr(t, "Apply", err, "does not verify", "not pushing")
	if n := srv.CommitCount(t, srv.Branch()); n != 1 {
		t.Errorf("commits on the remote = %d, want the initial one only", n)
	}
}
