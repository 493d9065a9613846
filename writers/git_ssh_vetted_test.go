package writers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestGitOverSSHConnectsToVettedAddress: go-git's SSH session goes to the address
// the guarded dialer resolved and checked, not to a second lookup of the name
// (DNS rebinding). The name here resolves only through the test's dialer, so a
// second lookup by go-git fails; host keys are still matched by name.
func TestGitOverSSHConnectsToVettedAddress(t *testing.T) {
	srv := gitPeer(t, false)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	clientPub, _ := ssh.NewPublicKey(pub)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	addr, hostKey := sshGitServer(t, srv, clientPub)
	_, port, _ := net.SplitHostPort(addr)
	name := "git.rebind.invalid:" + port
	var dials atomic.Int32
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		if a != name {
			return nil, fmt.Errorf("test resolver: unexpected address %q", a)
		}
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	cfgFor := func(known string) func(*GitConfig) {
		return func(c *GitConfig) {
			c.URL, c.AuthMethod, c.Password = fmt.Sprintf("ssh://git@%s%s", name, srv.Dir()), GitAuthSSH, ""
			c.SSHPrivateKey, c.KnownHosts = string(pem.EncodeToMemory(block)), known
			c.Dial = dial
		}
	}
	g := newTestGit(t, srv, cfgFor(knownhosts.Line([]string{name}, hostKey)))
	if err := g.Check(context.Background()); err != nil {
		t.Fatalf("Check over ssh through the vetted address: %v", err)
	}
	apply(t, g, puts("ssh", "vetted/ssh.yaml", "yes"))
	if dials.Load() == 0 {
		t.Error("the guarded dialer was never asked")
	}
	// Host keys are matched against the name: a key known for the name only, but
	// the wrong one, is refused even though the session goes to the IP address.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	stranger := newTestGit(t, srv, cfgFor(knownhosts.Line([]string{name}, other.PublicKey())))
	wantErr(t, "Check with a wrong host key for the name", stranger.Check(context.Background()), "ssh host key not accepted")
}
