package writers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/stateward/stateward/tenants"
)

// commitSigner signs commits with a store's OpenPGP key, the way `git commit -S`
// does: a detached, ASCII-armored signature over the commit object without its
// signature, in the commit's gpgsig header. Every signed commit is verified
// against the key's public half before it is written, so a commit that `git
// verify-commit` would not accept is never pushed.
type commitSigner struct {
	entity      *openpgp.Entity
	public      string // armored public key
	fingerprint string
}

// newCommitSigner opens an armored private key (with passphrase when encrypted)
// and proves that it signs what its public half verifies.
func newCommitSigner(armored, passphrase string) (*commitSigner, error) {
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
	s := &commitSigner{entity: e, public: pub.String(), fingerprint: strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))}
	return s, s.probe()
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

// probe signs a fixed text now and verifies it: a key that has expired, been
// revoked or cannot sign fails here, before any commit is built.
func (s *commitSigner) probe() error {
	const text = "stateward signing probe\n"
	sig, err := s.detachSign([]byte(text))
	if err != nil {
		return err
	}
	return s.check([]byte(text), sig)
}

func (s *commitSigner) detachSign(payload []byte) (string, error) {
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, s.entity, bytes.NewReader(payload), nil); err != nil {
		return "", fmt.Errorf("signing key %s cannot sign: %w", s.fingerprint, err)
	}
	return sig.String(), nil
}

func (s *commitSigner) check(payload []byte, sig string) error {
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(s.public))
	if err == nil {
		_, err = openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(payload), strings.NewReader(sig), nil)
	}
	if err != nil {
		return fmt.Errorf("signature by key %s does not verify: %w", s.fingerprint, err)
	}
	return nil
}

// sign sets c's signature and verifies the commit as it will be written:
// encoded, decoded again and checked as `git verify-commit` checks it.
func (s *commitSigner) sign(c *object.Commit) error {
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return err
	}
	r, err := payload.Reader()
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	sig, err := s.detachSign(raw)
	if err != nil {
		return err
	}
	c.PGPSignature = sig
	return s.verify(c)
}

// verify checks the signature of c over its encoded form; nothing unverified is
// ever written, let alone pushed.
func (s *commitSigner) verify(c *object.Commit) error {
	encoded := &plumbing.MemoryObject{}
	if err := c.Encode(encoded); err != nil {
		return err
	}
	back := &object.Commit{}
	if err := back.Decode(encoded); err != nil {
		return err
	}
	if _, err := back.Verify(s.public); err != nil {
		return fmt.Errorf("signed commit does not verify with key %s, not pushing it: %w", s.fingerprint, err)
	}
	return nil
}
