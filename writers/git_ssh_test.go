package writers

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/stateward/stateward/testpeers"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGitServer serves the bare repository of srv over SSH on loopback, running the
// real git-upload-pack and git-receive-pack for every exec request from a client
// that presents clientKey. It returns the address and the server's host key.
func sshGitServer(t *testing.T, srv *testpeers.GitServer, clientKey ssh.PublicKey) (string, ssh.PublicKey) {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if !bytes.Equal(k.Marshal(), clientKey.Marshal()) {
			return nil, errors.New("unknown key")
		}
		return nil, nil
	}}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveSSHConn(c, cfg, srv.Dir())
		}
	}()
	return l.Addr().String(), hostSigner.PublicKey()
}

func serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, repo string) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go serveSSHExec(ch, chReqs, repo)
	}
}

// serveSSHExec runs "git-upload-pack '<repo>'" or "git-receive-pack '<repo>'".
func serveSSHExec(ch ssh.Channel, reqs <-chan *ssh.Request, repo string) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(false, nil)
			continue
		}
		cmdline := string(req.Payload[4:])
		service, _, _ := strings.Cut(cmdline, " ")
		if service != "git-upload-pack" && service != "git-receive-pack" {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		cmd := exec.Command("git", strings.TrimPrefix(service, "git-"), repo)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 1
		}
		_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
		return
	}
}

func TestGitOverSSH(t *testing.T) {
	srv := gitPeer(t, false)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	clientPub, _ := ssh.NewPublicKey(pub)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	addr, hostKey := sshGitServer(t, srv, clientPub)
	sshURL := fmt.Sprintf("ssh://git@%s%s", addr, srv.Dir())
	sshCfg := func(known string) func(*GitConfig) {
		return func(c *GitConfig) {
			c.URL, c.AuthMethod, c.Password = sshURL, GitAuthSSH, ""
			c.SSHPrivateKey, c.KnownHosts = string(pem.EncodeToMemory(block)), known
		}
	}
	g := newTestGit(t, srv, sshCfg(knownhosts.Line([]string{addr}, hostKey)))
	if err := g.Check(context.Background()); err != nil {
		t.Fatalf("Check over ssh: %v", err)
	}
	apply(t, g, puts("ssh", "over/ssh.yaml", "yes"))
	wantFiles(t, srv, map[string]string{testpeers.InitialFile: testpeers.InitialContent, "over/ssh.yaml": "yes"})

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	stranger := newTestGit(t, srv, sshCfg(knownhosts.Line([]string{addr}, otherSigner.PublicKey())))
	wantErr(t, "Check with a wrong host key", stranger.Check(context.Background()), "ssh host key not accepted")
}
