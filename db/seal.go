package db

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// sealVersion prefixes every sealed value so the format can change later.
const sealVersion = "v1"

// Sealer seals credentials with AES-256-GCM. The current key seals; older keys (kept
// for a rotation) only open. A sealed value names the key that sealed it, so a
// database can hold values sealed by several keys while `stateward keys rotate` runs.
type Sealer struct {
	current string // key id
	keys    map[string]cipher.AEAD
}

// NewSealer builds a Sealer from the current 32-byte key and any previous keys.
func NewSealer(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{keys: map[string]cipher.AEAD{}}
	id, err := s.add(current)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	s.current = id
	for i, k := range previous {
		if _, err := s.add(k); err != nil {
			return nil, fmt.Errorf("previous secret key %d: %w", i+1, err)
		}
	}
	return s, nil
}

func (s *Sealer) add(key []byte) (string, error) {
	if len(key) != 32 {
		return "", fmt.Errorf("must be 32 bytes (base64 of 32 random bytes), got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(key)
	id := hex.EncodeToString(sum[:4])
	s.keys[id] = aead
	return id, nil
}

// KeyID identifies the current key (the first bytes of its SHA-256, safe to show).
func (s *Sealer) KeyID() string { return s.current }

// Seal encrypts plaintext bound to binding (tenant, object and field), so a sealed
// value copied to another row or tenant does not open.
func (s *Sealer) Seal(binding, plaintext string) (string, error) {
	aead := s.keys[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(binding))
	return sealVersion + ":" + s.current + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// ErrUnknownKey means a value was sealed by a key this process does not have.
var ErrUnknownKey = errors.New("sealed with a key this server does not have")

// Open decrypts a sealed value for binding. It also reports whether the value was
// sealed by an older key (and should be re-sealed).
func (s *Sealer) Open(binding, sealed string) (plaintext string, stale bool, err error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != sealVersion {
		return "", false, errors.New("sealed value has an unknown format")
	}
	aead, ok := s.keys[parts[1]]
	if !ok {
		return "", false, fmt.Errorf("%w (key id %s)", ErrUnknownKey, parts[1])
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return "", false, errors.New("sealed value is corrupt")
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(binding))
	if err != nil {
		return "", false, errors.New("sealed value does not open: wrong key or moved between rows")
	}
	return string(pt), parts[1] != s.current, nil
}

// ParseKey decodes a base64 key (standard or URL alphabet, padding optional).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("secret key must decode to 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("secret key is not valid base64")
}

// LoadOrCreateKeyFile reads a base64 key from path, creating it (0600, 32 random
// bytes) when missing. Used only for the local default; production sets
// STATEWARD_SECRET_KEY.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(b))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Close()
}

const canaryBinding, canaryText = "meta/seal_canary", "stateward seal canary"

// checkCanary proves at start-up that the configured key opens what the database
// holds: a wrong STATEWARD_SECRET_KEY fails here, loudly, not at the first write.
func (d *DB) checkCanary(ctx context.Context) error {
	var sealed string
	err := d.w.GetContext(ctx, &sealed, `SELECT value FROM meta WHERE key = 'seal_canary'`)
	if errors.Is(err, sql.ErrNoRows) {
		if err := d.writeCanary(ctx); err != nil {
			return err
		}
		// Read it back: a replica starting at the same moment may have written its
		// own first, and it must have been sealed with this key too.
		err = d.w.GetContext(ctx, &sealed, `SELECT value FROM meta WHERE key = 'seal_canary'`)
	}
	if err != nil {
		return fmt.Errorf("read seal canary: %w", err)
	}
	pt, _, err := d.sealer.Open(canaryBinding, sealed)
	if err != nil || pt != canaryText {
		return fmt.Errorf("STATEWARD_SECRET_KEY (key id %s) does not open this database's credentials: %v; "+
			"set the key it was sealed with, or pass the old one in STATEWARD_PREVIOUS_SECRET_KEYS and run `stateward keys rotate`",
			d.sealer.KeyID(), err)
	}
	return nil
}

func (d *DB) writeCanary(ctx context.Context) error {
	sealed, err := d.sealer.Seal(canaryBinding, canaryText)
	if err != nil {
		return err
	}
	_, err = d.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('seal_canary', ?) ON CONFLICT (key) DO NOTHING`, sealed)
	return err
}
