package writers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"
)

// remoteError is an error from talking to a Git remote: it says which operation on
// which URL failed and why in plain words, keeps the cause for errors.Is/As, and
// never shows the password.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// wrap describes err from operation op (e.g. "push to") on the remote.
func (r *gitRemote) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("git %s %s: ", op, r.url)
	if rl, ok := rateLimited(err); ok { // the host's words, not go-git's wrapping
		return &remoteError{msg: maskToken(msg+rl.Error(), r.secret), err: err}
	}
	if why := explain(err); why != "" && !strings.Contains(err.Error(), why) {
		msg += why + ": "
	}
	msg += err.Error()
	return &remoteError{msg: maskToken(msg, r.secret), err: err}
}

// maskToken replaces the secret where it stands as a whole word of msg (a remote
// that echoes what it was sent). Credentials never go into messages in the first
// place; masking every substring would turn "http" into "h***p" for a short
// password — garbled text and an oracle for the password.
func maskToken(msg, secret string) string {
	if secret == "" {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, secret)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		j := i + len(secret)
		whole := (i == 0 || isWordEdge(msg[i-1])) && (j == len(msg) || isWordEdge(msg[j]))
		b.WriteString(msg[:i])
		if whole {
			b.WriteString("***")
		} else {
			b.WriteString(secret)
		}
		msg = msg[j:]
	}
}

// isWordEdge reports whether c separates words: blanks, quotes, brackets, commas
// and semicolons (not ':', '/' or '@', which join the parts of a URL).
func isWordEdge(c byte) bool { return strings.IndexByte(" \t\r\n\"'`()[]{}<>,;", c) >= 0 }

// explain names the kind of failure behind err, or returns "" when the error text
// already says it.
func explain(err error) string {
	cause := unexpectedCause(err)
	var (
		dnsErr  *net.DNSError
		keyErr  *knownhosts.KeyError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		verify  *tls.CertificateVerificationError
		status  *githttp.Err
	)
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return "authentication failed (check the username and password)"
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return "access denied (the credentials lack permission on this repository)"
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return "repository not found"
	case errors.As(cause, &dnsErr):
		return "DNS lookup failed"
	case errors.Is(cause, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(cause, &unknown), errors.As(cause, &host), errors.As(cause, &invalid),
		errors.As(cause, &record), errors.As(cause, &verify):
		return "TLS failure"
	case errors.As(cause, &keyErr):
		return "ssh host key not accepted by knownHosts"
	case strings.Contains(cause.Error(), "unable to authenticate"):
		return "authentication failed (check the ssh private key)"
	case errors.Is(cause, context.DeadlineExceeded):
		return "timed out"
	case errors.As(cause, &status):
		return fmt.Sprintf("the server answered HTTP %d", status.StatusCode())
	}
	return ""
}

// unexpectedCause unwraps go-git's UnexpectedError, which hides its cause from
// errors.As (it has no Unwrap method).
func unexpectedCause(err error) error {
	var ue *plumbing.UnexpectedError
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
