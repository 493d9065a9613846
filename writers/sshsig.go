package writers

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSH signatures in the format `git commit -S` writes with gpg.format=ssh and
// `ssh-keygen -Y sign` makes (OpenSSH's PROTOCOL.sshsig): a detached signature
// over the SHA-512 of the message, in namespace "git", armored between BEGIN/END
// SSH SIGNATURE lines.
const (
	sshsigMagic     = "SSHSIG"
	sshsigVersion   = 1
	sshsigNamespace = "git"
	sshsigHash      = "sha512"
	sshsigBegin     = "-----BEGIN SSH SIGNATURE-----"
	sshsigEnd       = "-----END SSH SIGNATURE-----"
	sshsigLineWidth = 70
)

// sshsigSigned is the blob that is signed: the magic, then these fields.
type sshsigSigned struct {
	Namespace string
	Reserved  string
	HashAlg   string
	Hash      string
}

// sshsigBlob is the signature blob after the magic.
type sshsigBlob struct {
	Version   uint32
	PublicKey string
	Namespace string
	Reserved  string
	HashAlg   string
	Signature string
}

func sshsigData(hashAlg string, msg []byte) ([]byte, error) {
	var h hash.Hash
	switch hashAlg {
	case "sha512":
		h = sha512.New()
	case "sha256":
		h = sha256.New()
	default:
		return nil, fmt.Errorf("ssh signature: unsupported hash %q", hashAlg)
	}
	h.Write(msg)
	return append([]byte(sshsigMagic), ssh.Marshal(sshsigSigned{Namespace: sshsigNamespace, HashAlg: hashAlg, Hash: string(h.Sum(nil))})...), nil
}

// sshsigSign signs msg with signer; RSA keys sign with rsa-sha2-512, never SHA-1.
func sshsigSign(signer ssh.Signer, msg []byte) (string, error) {
	data, err := sshsigData(sshsigHash, msg)
	if err != nil {
		return "", err
	}
	var sig *ssh.Signature
	if as, ok := signer.(ssh.AlgorithmSigner); ok && signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return "", err
	}
	blob := append([]byte(sshsigMagic), ssh.Marshal(sshsigBlob{Version: sshsigVersion,
		PublicKey: string(signer.PublicKey().Marshal()), Namespace: sshsigNamespace, HashAlg: sshsigHash,
		Signature: string(ssh.Marshal(sig))})...)
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString(sshsigBegin + "\n")
	for len(enc) > sshsigLineWidth {
		b.WriteString(enc[:sshsigLineWidth] + "\n")
		enc = enc[sshsigLineWidth:]
	}
	b.WriteString(enc + "\n" + sshsigEnd + "\n")
	return b.String(), nil
}

// sshsigVerify checks an armored SSH signature over msg by pub in namespace git.
func sshsigVerify(pub ssh.PublicKey, msg []byte, armored string) error {
	body := strings.TrimSpace(armored)
	if !strings.HasPrefix(body, sshsigBegin) || !strings.HasSuffix(body, sshsigEnd) {
		return errors.New("not an armored SSH signature")
	}
	body = strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimPrefix(body, sshsigBegin), sshsigEnd)), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil || !bytes.HasPrefix(raw, []byte(sshsigMagic)) {
		return errors.New("SSH signature: bad encoding")
	}
	var b sshsigBlob
	if err := ssh.Unmarshal(raw[len(sshsigMagic):], &b); err != nil {
		return fmt.Errorf("SSH signature: %w", err)
	}
	if b.Version != sshsigVersion || b.Namespace != sshsigNamespace {
		return fmt.Errorf("SSH signature: version %d, namespace %q; want %d, %q", b.Version, b.Namespace, sshsigVersion, sshsigNamespace)
	}
	if !bytes.Equal([]byte(b.PublicKey), pub.Marshal()) {
		return errors.New("SSH signature: made by another key")
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal([]byte(b.Signature), &sig); err != nil {
		return fmt.Errorf("SSH signature: %w", err)
	}
	data, err := sshsigData(b.HashAlg, msg)
	if err != nil {
		return err
	}
	return pub.Verify(data, &sig)
}
