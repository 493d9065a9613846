package writers

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/stateward/stateward/tenants"
)

// commitSigner signs commits with a store's key, the way `git commit -S` does: a
// detached, armored signature over the commit object without its signature, in
// the commit's gpgsig header — OpenPGP (gpg.format=openpgp) or SSHSIG
// (gpg.format=ssh). Every signed commit is verified against the key's public
// half before it is written, so a commit that `git verify-commit` would not
// accept is never pushed.
type commitSigner struct {
	fingerprint string
	detachSign  func(payload []byte) (string, error)
	check       func(payload []byte, sig string) error
}

// newCommitSigner opens a private key (with passphrase when encrypted) and
// proves that it signs what its public half verifies.
func newCommitSigner(key, passphrase string) (*commitSigner, error) {
	var s *commitSigner
	var err error
	if tenants.IsSSHSigningKey(key) {
		s, err = newSSHSigner(key, passphrase)
	} else {
		s, err = newPGPSigner(key, passphrase)
	}
	if err != nil {
		return nil, err
	}
	return s, s.probe()
}

func newPGPSigner(armored, passphrase string) (*commitSigner, error) {
	e, err := tenants.ParseSigningKey(armored)
	if err != nil {
		return nil, fmt.Errorf("signing key %v", err)
	}
	if err := decryptKey(e, passphrase); err != nil {
		return nil, err
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err == nil {
		err = e.Serialize(w)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: export the public key: %w", err)
	}
	ring, err := openpgp.ReadArmoredKeyRing(&pub)
	if err != nil {
		return nil, fmt.Errorf("signing key: read the public key: %w", err)
	}
	fp := strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
	return &commitSigner{
		fingerprint: fp,
		detachSign: func(payload []byte) (string, error) {
			var sig bytes.Buffer
			if err := openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(payload), nil); err != nil {
				return "", fmt.Errorf("signing key %s cannot sign: %w", fp, err)
			}
			return sig.String(), nil
		},
		check: func(payload []byte, sig string) error {
			_, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(payload), strings.NewReader(sig), nil)
			return err
		},
	}, nil
}

// decryptKey opens every encrypted private key of e with passphrase.
func decryptKey(e *openpgp.Entity, passphrase string) error {
	encrypted := e.PrivateKey != nil && e.PrivateKey.Encrypted
	for _, sk := range e.Subkeys {
		encrypted = encrypted || (sk.PrivateKey != nil && sk.PrivateKey.Encrypted)
	}
	switch {
	case !encrypted:
		return nil
	case passphrase == "":
		return errors.New("signing key is encrypted: put its passphrase in signingKeyPassphrase")
	}
	if err := e.DecryptPrivateKeys([]byte(passphrase)); err != nil {
		return fmt.Errorf("signing key: the passphrase in signingKeyPassphrase does not open it (%v)", err)
	}
	return nil
}

func newSSHSigner(key, passphrase string) (*commitSigner, error) {
	var raw any
	var err error
	if passphrase != "" {
		raw, err = ssh.ParseRawPrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	} else {
		raw, err = ssh.ParseRawPrivateKey([]byte(key))
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("signing key is encrypted: put its passphrase in signingKeyPassphrase")
	case errors.Is(err, x509.IncorrectPasswordError) || (err != nil && passphrase != "" && strings.Contains(err.Error(), "decryption")):
		return nil, fmt.Errorf("signing key: the passphrase in signingKeyPassphrase does not open it (%v)", err)
	case err != nil:
		return nil, fmt.Errorf("signing key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(raw)
	if err != nil {
		return nil, fmt.Errorf("signing key: %v", err)
	}
	pub := signer.PublicKey()
	fp := ssh.FingerprintSHA256(pub)
	return &commitSigner{
		fingerprint: fp,
		detachSign: func(payload []byte) (string, error) {
			sig, err := sshsigSign(signer, payload)
			if err != nil {
				return "", fmt.Errorf("signing key %s cannot sign: %w", fp, err)
			}
			return sig, nil
		},
		check: func(payload []byte, sig string) error { return sshsigVerify(pub, payload, sig) },
	}, nil
}

// probe signs a fixed text now and verifies it: a key that has expired, been
// revoked or cannot sign fails here, before any commit is built.
func (s *commitSigner) probe() error {
	const text = "stateward signing probe\n"
	sig, err := s.detachSign([]byte(text))
	if err != nil {
		return err
	}
	if err := s.check([]byte(text), sig); err != nil {
		return fmt.Errorf("signature by key %s does not verify: %w", s.fingerprint, err)
	}
	return nil
}

// sign sets c's signature and verifies the commit as it will be written.
func (s *commitSigner) sign(c *object.Commit) error {
	payload, err := unsignedBytes(c)
	if err != nil {
		return err
	}
	sig, err := s.detachSign(payload)
	if err != nil {
		return err
	}
	c.PGPSignature = sig
	return s.verify(c)
}

// verify encodes c, decodes it again and checks its signature over what `git
// verify-commit` checks it over: nothing unverified is ever written, let alone
// pushed.
func (s *commitSigner) verify(c *object.Commit) error {
	encoded := &plumbing.MemoryObject{}
	if err := c.Encode(encoded); err != nil {
		return err
	}
	back := &object.Commit{}
	if err := back.Decode(encoded); err != nil {
		return err
	}
	payload, err := unsignedBytes(back)
	if err == nil {
		err = s.check(payload, back.PGPSignature)
	}
	if err != nil {
		return fmt.Errorf("signed commit does not verify with key %s, not pushing it: %w", s.fingerprint, err)
	}
	return nil
}

// unsignedBytes is the commit object without its signature: what is signed.
func unsignedBytes(c *object.Commit) ([]byte, error) {
	o := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(o); err != nil {
		return nil, err
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
