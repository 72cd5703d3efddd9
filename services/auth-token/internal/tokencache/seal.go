package tokencache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SealKeySize is the size of AUTH_TOKEN_CACHE_KEY once decoded.
const SealKeySize = 32

// Sealer encrypts the entries RedisStore writes (AES-256-GCM, the Redis key
// as additional data, so a value copied under another key does not open)
// and fingerprints their tokens (HMAC-SHA-256), so the compare-and-delete
// that runs inside Redis compares fingerprints and Redis never holds a
// token in the clear. Both keys are derived from one secret with HKDF.
type Sealer struct {
	aead  cipher.AEAD
	fpKey []byte
}

// ParseSealKey decodes AUTH_TOKEN_CACHE_KEY: 32 bytes in standard or
// URL-safe base64, padded or not (`openssl rand -base64 32`). Errors never
// show the value.
func ParseSealKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != SealKeySize {
				return nil, fmt.Errorf("want %d bytes once base64-decoded, got %d", SealKeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewSealer derives the sealing and fingerprint keys from secret
// (SealKeySize bytes).
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) != SealKeySize {
		return nil, fmt.Errorf("token cache key: want %d bytes, got %d", SealKeySize, len(secret))
	}
	encKey, err := hkdf.Key(sha256.New, secret, nil, "mosipcrvs/authtoken/entry-aes-256-gcm", 32)
	if err != nil {
		return nil, err
	}
	fpKey, err := hkdf.Key(sha256.New, secret, nil, "mosipcrvs/authtoken/token-fingerprint", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, fpKey: fpKey}, nil
}

// seal encrypts plaintext bound to the Redis key.
func (s *Sealer) seal(plaintext []byte, key string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, []byte(key)))
}

// open reverses seal; an error for anything another key or another Redis
// key sealed, or that was tampered with.
func (s *Sealer) open(sealed, key string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("sealed entry malformed")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, b[:n], b[n:], []byte(key))
}

// fingerprint identifies a token without revealing it: the first 16 bytes
// of HMAC-SHA-256 under the fingerprint key, in hex.
func (s *Sealer) fingerprint(token string) string {
	m := hmac.New(sha256.New, s.fpKey)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
