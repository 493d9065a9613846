package writers

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testSSHSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSSHSigRoundTrip(t *testing.T) {
	s := testSSHSigner(t)
	msg := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n")
	sig, err := sshsigSign(s, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, sshsigBegin+"\n") || !strings.HasSuffix(sig, sshsigEnd+"\n") {
		t.Errorf("armor: %q", sig)
	}
	if err := sshsigVerify(s.PublicKey(), msg, sig); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := sshsigVerify(s.PublicKey(), append(msg, 'x'), sig); err == nil {
		t.Error("a changed message verified")
	}
	if err := sshsigVerify(testSSHSigner(t).PublicKey(), msg, sig); err == nil {
		t.Error("another key verified")
	}
}

func FuzzSSHSigVerify(f *testing.F) {
	s := testSSHSigner(f)
	good, err := sshsigSign(s, []byte("m"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("m"), good)
	f.Add([]byte("m"), sshsigBegin+"\nU1NIU0lH\n"+sshsigEnd)
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, msg []byte, armored string) {
		// Only the one signature made, over "m", may verify (its armor may be
		// re-wrapped); no parse may panic.
		if err := sshsigVerify(s.PublicKey(), msg, armored); err == nil && string(msg) != "m" {
			t.Errorf("verified %q over %q, which was never signed", armored, msg)
		}
	})
}
