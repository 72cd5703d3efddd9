package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// keySize is AES-256's key length.
const keySize = 32

// maxKeyIDLen bounds key ids: they prefix every sealed value.
const maxKeyIDLen = 32

// Keyring holds the AES-256-GCM keys that seal tokens and payloads at rest.
// New data is sealed with the current key; data sealed with any key of the
// ring stays readable, so a key is rotated by putting a new one first and
// keeping the old one until Store.Rewrap has re-sealed everything.
//
// A sealed value is "<key id>:<base64(nonce | ciphertext | tag)>". The key
// id says which key opens it; the GCM additional data binds it to its
// transaction and column, so a value copied into another row does not open.
type Keyring struct {
	current string
	ids     []string // in configuration order, current first
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring from raw 32-byte keys; current names the key
// that seals. Most callers use ParseKeyring.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{current: current, aeads: make(map[string]cipher.AEAD, len(keys))}
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("keyring: current key %q is not among the keys", current)
	}
	k.ids = append(k.ids, current)
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		if id != current {
			k.ids = append(k.ids, id)
		}
	}
	for _, id := range k.ids {
		if err := k.add(id, keys[id]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ParseKeyring reads a keyring from its configuration form: comma-separated
// "<key id>:<base64 key>" entries, the first being the current key, e.g.
// "k2:BASE64,k1:BASE64". Key ids are 1 to 32 letters, digits, '-', '_' or
// '.'; keys are 32 bytes in standard or URL-safe base64, padded or not
// (`openssl rand -base64 32` makes one). Errors name the entry but never
// show key material.
func ParseKeyring(spec string) (*Keyring, error) {
	var k Keyring
	k.aeads = map[string]cipher.AEAD{}
	var problems []error
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, b64, ok := strings.Cut(entry, ":")
		id = strings.TrimSpace(id)
		if !ok {
			problems = append(problems, fmt.Errorf("entry %d: want <key id>:<base64 key>", i+1))
			continue
		}
		if _, dup := k.aeads[id]; dup {
			problems = append(problems, fmt.Errorf("entry %d: key id %q appears twice", i+1, id))
			continue
		}
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			problems = append(problems, fmt.Errorf("entry %d (%q): %w", i+1, id, err))
			continue
		}
		if err := k.add(id, key); err != nil {
			problems = append(problems, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		k.ids = append(k.ids, id)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("keyring: %w", errors.Join(problems...))
	}
	if len(k.ids) == 0 {
		return nil, errors.New("keyring: no keys; want <key id>:<base64 32-byte key>[,<older id>:<key>...]")
	}
	k.current = k.ids[0]
	return &k, nil
}

// decodeKey accepts the base64 alphabets people paste.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != keySize {
				return nil, fmt.Errorf("key is %d bytes, want %d (AES-256)", len(b), keySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64")
}

func (k *Keyring) add(id string, key []byte) error {
	if !validKeyID(id) {
		return fmt.Errorf("key id %q: want 1 to %d letters, digits, dashes, underscores or dots", id, maxKeyIDLen)
	}
	if len(key) != keySize {
		return fmt.Errorf("key %q is %d bytes, want %d (AES-256)", id, len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("key %q: %w", id, err)
	}
	k.aeads[id] = aead
	return nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Current is the id of the key that seals new data.
func (k *Keyring) Current() string { return k.current }

// IDs lists the key ids, current first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// String names the keys and never shows them.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring(current=%s, keys=%s)", k.current, strings.Join(k.ids, ","))
}

// GoString keeps %#v from printing key material.
func (k *Keyring) GoString() string { return k.String() }

// seal encrypts plaintext with the current key, bound to aad. Empty
// plaintext seals to the empty string so "absent" needs no ciphertext.
func (k *Keyring) seal(plaintext []byte, aad string) (string, error) {
	if len(plaintext) == 0 {
		return "", nil
	}
	aead := k.aeads[k.current]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	buf = aead.Seal(buf, buf, plaintext, []byte(aad))
	return k.current + ":" + base64.StdEncoding.EncodeToString(buf), nil
}

// open decrypts a value seal produced with any key of the ring and the same
// aad. It fails with ErrUnknownKey when the key is not in the ring.
func (k *Keyring) open(sealed, aad string) ([]byte, error) {
	if sealed == "" {
		return nil, nil
	}
	id, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, errors.New("open: sealed value has no key id")
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("open: key %q: %w", id, ErrUnknownKey)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, errors.New("open: sealed value is not base64")
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("open: sealed value too short")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		// Wrong key material under a known id, tampering, or a value moved
		// from another row: all look the same to GCM.
		return nil, fmt.Errorf("open: key %q: authentication failed", id)
	}
	return plain, nil
}

// sealedWith reports the key id of a sealed value.
func sealedWith(sealed string) string {
	id, _, _ := strings.Cut(sealed, ":")
	return id
}
