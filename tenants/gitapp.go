package tenants

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// DefaultGitHubAPIURL is where a githubApp store gets its installation tokens
// unless spec.githubAPIURL names a GitHub Enterprise Server.
const DefaultGitHubAPIURL = "https://api.github.com"

// GitHubAPI is the API base URL a githubApp store talks to, without a trailing "/".
func (s GitStateStore) GitHubAPI() string {
	if s.GitHubAPIURL == "" {
		return DefaultGitHubAPIURL
	}
	return strings.TrimRight(s.GitHubAPIURL, "/")
}

func (s *GitStateStore) normalizeAppAndSigning() {
	s.GitHubAPIURL = strings.TrimRight(strings.TrimSpace(s.GitHubAPIURL), "/")
	c := &s.Credentials
	c.AppID = TrimSecret(c.AppID)
	c.InstallationID = TrimSecret(c.InstallationID)
	c.PrivateKey = trimPEM(c.PrivateKey)
	c.SigningKey = trimPEM(c.SigningKey)
	c.SigningKeyPassphrase = strings.TrimRight(c.SigningKeyPassphrase, "\r\n")
}

// trimPEM removes surrounding blanks and ends a non-empty key with one newline.
func trimPEM(k string) string {
	if k = strings.TrimSpace(k); k != "" {
		return k + "\n"
	}
	return ""
}

// validateGitHubApp checks what authMethod githubApp needs: the App's id, the
// installation's id, its RSA private key, an https repository URL and an API URL.
func (s *GitStateStore) validateGitHubApp(es *ValidationErrors) {
	c := s.Credentials
	switch {
	case c.AppID == "":
		_ = es.Add(Invalid("appID", "is required for githubApp (the Secret key \"appID\")"))
	case strings.Trim(c.AppID, "0123456789") != "" && !strings.HasPrefix(c.AppID, "Iv"):
		_ = es.Add(Invalid("appID", "must be the App's numeric id (or its client id, Iv…), as its settings page shows it"))
	}
	switch {
	case c.InstallationID == "":
		_ = es.Add(Invalid("installationID", "is required for githubApp (the Secret key \"installationID\")"))
	case strings.Trim(c.InstallationID, "0123456789") != "":
		_ = es.Add(Invalid("installationID", "must be numeric: the number at the end of the installation's settings URL"))
	}
	if c.PrivateKey == "" {
		_ = es.Add(Invalid("privateKey", "is required for githubApp (the Secret key \"privateKey\")"))
	} else if _, err := ParseAppPrivateKey(c.PrivateKey); err != nil {
		_ = es.Add(Invalid("privateKey", "%v", err))
	}
	if u, err := ParseGitURL(s.URL); err == nil && u.Form != FormHTTPS && u.Form != FormHTTP {
		_ = es.Add(Invalid("spec.url", "githubApp authenticates over HTTPS: use the https:// URL of the repository"))
	}
	if s.GitHubAPIURL != "" {
		_ = es.Add(validateAPIURL(s.GitHubAPIURL, s.Insecure))
	}
}

func validateAPIURL(raw string, insecure bool) error {
	return validateBaseURL("spec.githubAPIURL", raw, insecure, "GitHub Enterprise Server: https://HOST/api/v3")
}

// ParseAppPrivateKey reads a GitHub App's private key: the PEM file GitHub
// offers for download (PKCS #1 "RSA PRIVATE KEY"), or PKCS #8.
func ParseAppPrivateKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return nil, fmt.Errorf("is not a PEM private key (paste the whole .pem file GitHub generated)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("is not an RSA private key: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("is a %T, but GitHub Apps sign with RSA keys", k)
	}
	return rk, nil
}

// validateSigningKey checks that a signing key, when given, is an OpenPGP or an
// SSH private key. Whether it opens with the passphrase and can sign today is the
// readiness check's business: a key can expire after it was saved.
func (s *GitStateStore) validateSigningKey(es *ValidationErrors) {
	c := s.Credentials
	if c.SigningKey == "" {
		if c.SigningKeyPassphrase != "" {
			_ = es.Add(Invalid("signingKeyPassphrase", "is set, but there is no signingKey"))
		}
		return
	}
	if _, err := signingPublicKey(c.SigningKey); err != nil {
		_ = es.Add(Invalid("signingKey", "%v", err))
	}
}

// IsSSHSigningKey reports whether a signing key is an SSH key (signatures in
// git's gpg.format=ssh) rather than an OpenPGP one.
func IsSSHSigningKey(key string) bool {
	return !strings.Contains(key, "BEGIN PGP") && strings.Contains(key, "PRIVATE KEY-----")
}

// ParseSigningKey reads an ASCII-armored OpenPGP private key (gpg
// --export-secret-keys --armor) holding exactly one key.
func ParseSigningKey(armored string) (*openpgp.Entity, error) {
	if !strings.Contains(armored, "BEGIN PGP PRIVATE KEY BLOCK") {
		return nil, fmt.Errorf("is neither an ASCII-armored OpenPGP private key (gpg --export-secret-keys --armor KEYID) nor an SSH private key")
	}
	list, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("does not parse as an OpenPGP key: %v", err)
	}
	switch {
	case len(list) != 1:
		return nil, fmt.Errorf("holds %d keys; export exactly one", len(list))
	case list[0].PrivateKey == nil:
		return nil, fmt.Errorf("holds no private key (export it with --export-secret-keys)")
	}
	return list[0], nil
}

// signingPublicKey checks a signing key's structure and returns its fingerprint:
// OpenPGP as gpg prints it (upper-case hex), SSH as ssh-keygen -l does
// (SHA256:…). An encrypted SSH key needs no passphrase for this.
func signingPublicKey(key string) (string, error) {
	if !IsSSHSigningKey(key) {
		e, err := ParseSigningKey(key)
		if err != nil {
			return "", err
		}
		return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint)), nil
	}
	var pub ssh.PublicKey
	k, err := ssh.ParseRawPrivateKey([]byte(key))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && missing.PublicKey != nil:
		pub = missing.PublicKey
	case err != nil:
		return "", fmt.Errorf("does not parse as an SSH private key: %v", err)
	default:
		signer, err := ssh.NewSignerFromKey(k)
		if err != nil {
			return "", fmt.Errorf("is not an SSH signing key: %v", err)
		}
		pub = signer.PublicKey()
	}
	return ssh.FingerprintSHA256(pub), nil
}

// SigningKeyFingerprint is the fingerprint of the signing key (see
// signingPublicKey), "" when there is no key or it does not parse.
func SigningKeyFingerprint(key string) string {
	if key == "" {
		return ""
	}
	fp, err := signingPublicKey(key)
	if err != nil {
		return ""
	}
	return fp
}

// ReadsSecret reports whether the store takes anything from the Secret its
// secretRef names: its auth method's credentials, or (any method) a signing key.
func (s GitStateStore) ReadsSecret() bool {
	switch s.AuthMethod {
	case AuthBasic, AuthSSH, AuthGitHubApp:
		return true
	}
	return s.SecretRef != ""
}
