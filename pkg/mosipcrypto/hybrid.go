package mosipcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Markers of the keymanager's hybrid encryption
// (CryptomanagerServiceImpl#encrypt, mosip.kernel.data-key-splitter).
const (
	KeySplitter = "#KEY_SPLITTER#"
	VersionR2   = "VER_R2"
	aadSize     = 32
	thumbSize   = 32
)

// Errors a decryption can end in; wrapped with detail, test with errors.Is.
var (
	// ErrMalformed: the data is not in the keymanager's format.
	ErrMalformed = errors.New("not MOSIP hybrid-encrypted data")
	// ErrWrongRecipient: the data was encrypted for another certificate.
	ErrWrongRecipient = errors.New("encrypted for another certificate (thumbprint mismatch)")
	// ErrDecrypt: the key unwrap or the authenticated decryption failed
	// (tampered data, or a wrong key).
	ErrDecrypt = errors.New("decryption failed")
)

// DecodeBase64 accepts the alphabets and paddings MOSIP components emit
// (keymanager: URL-safe without padding; others: standard or padded).
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// DecryptVERR2 decrypts what MOSIP's keymanager encrypted for a partner
// (an encrypted credential in a CREDENTIAL_ISSUED event):
//
//	base64url( "VER_R2" ‖ SHA-256(cert DER) ‖ RSA-OAEP-SHA256(key) ‖ "#KEY_SPLITTER#"
//	           ‖ AAD(32) ‖ AES-256-GCM(data) ‖ tag )   nonce = AAD[:12]
//
// The thumbprint must be ks's certificate: data for another certificate is
// refused before any RSA work. Data without the VER_R2 header (older
// keymanagers: no thumbprint, no AAD, 12-byte IV after the ciphertext)
// is accepted too.
func DecryptVERR2(data string, ks *Keystore) ([]byte, error) {
	raw, err := DecodeBase64(data)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", ErrMalformed, err)
	}
	i := bytes.Index(raw, []byte(KeySplitter))
	if i < 0 {
		return nil, fmt.Errorf("%w: no key splitter", ErrMalformed)
	}
	keyPart, body := raw[:i], raw[i+len(KeySplitter):]
	versioned := bytes.HasPrefix(keyPart, []byte(VersionR2))
	if versioned {
		keyPart = keyPart[len(VersionR2):]
		if len(keyPart) < thumbSize {
			return nil, fmt.Errorf("%w: key part too short", ErrMalformed)
		}
		if subtle.ConstantTimeCompare(keyPart[:thumbSize], ks.Thumbprint()) != 1 {
			return nil, ErrWrongRecipient
		}
		keyPart = keyPart[thumbSize:]
	}
	if len(keyPart) != ks.Key.Size() {
		return nil, fmt.Errorf("%w: wrapped key is %d bytes, the RSA key needs %d", ErrMalformed, len(keyPart), ks.Key.Size())
	}
	key, err := decryptOAEPSHA256(ks.Key, keyPart)
	if err != nil {
		return nil, fmt.Errorf("%w: key unwrap", ErrDecrypt)
	}
	defer clear(key)
	if versioned {
		if len(body) < aadSize+16 {
			return nil, fmt.Errorf("%w: data too short", ErrMalformed)
		}
		aad := body[:aadSize]
		gcm, err := newGCM(key, 12)
		if err != nil {
			return nil, err
		}
		pt, err := gcm.Open(nil, aad[:12], body[aadSize:], aad)
		if err != nil {
			return nil, fmt.Errorf("%w: AES-GCM", ErrDecrypt)
		}
		return pt, nil
	}
	return openIVAtEnd(key, body, 16)
}

// EncryptVERR2 encrypts plaintext for the holder of cert in the VER_R2
// form DecryptVERR2 reads. The bridge never needs it in production; tests
// and benchmarks use it to produce credentials.
func EncryptVERR2(cert *x509.Certificate, plaintext []byte) (string, error) {
	pub, err := rsaPublic(cert)
	if err != nil {
		return "", err
	}
	key, aad := make([]byte, 32), make([]byte, aadSize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if _, err := rand.Read(aad); err != nil {
		return "", err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", fmt.Errorf("RSA-OAEP: %w", err)
	}
	gcm, err := newGCM(key, 12)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	b.WriteString(VersionR2)
	b.Write(Thumbprint(cert))
	b.Write(wrapped)
	b.WriteString(KeySplitter)
	b.Write(aad)
	b.Write(gcm.Seal(nil, aad[:12], plaintext, aad))
	return base64.RawURLEncoding.EncodeToString(b.Bytes()), nil
}

// IDARequestCrypto holds the encrypted fields of an IDA authentication
// request, each base64url without padding as MOSIP's reference client
// sends them.
type IDARequestCrypto struct {
	// Request is the encrypted auth JSON.
	Request string
	// RequestHMAC is the encrypted upper-case hex SHA-256 of the auth JSON.
	RequestHMAC string
	// RequestSessionKey is the AES key wrapped for the IDA certificate.
	RequestSessionKey string
	// Thumbprint is SHA-256 of the IDA certificate.
	Thumbprint string
}

// EncryptIDARequest encrypts authJSON for MOSIP IDA (mosip-apis.md §6.3):
// a fresh AES-256 key, AES-GCM with a 16-byte IV appended after the tag
// and no additional data, the same key over the upper-case hex SHA-256 of
// authJSON for requestHMAC, the key wrapped with RSA-OAEP-SHA256 for the
// IDA partner certificate.
func EncryptIDARequest(idaCert *x509.Certificate, authJSON []byte) (IDARequestCrypto, error) {
	pub, err := rsaPublic(idaCert)
	if err != nil {
		return IDARequestCrypto{}, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return IDARequestCrypto{}, err
	}
	defer clear(key)
	gcm, err := newGCM(key, 16)
	if err != nil {
		return IDARequestCrypto{}, err
	}
	req, err := sealIVAtEnd(gcm, authJSON)
	if err != nil {
		return IDARequestCrypto{}, err
	}
	sum := sha256.Sum256(authJSON)
	hmac, err := sealIVAtEnd(gcm, []byte(strings.ToUpper(hex.EncodeToString(sum[:]))))
	if err != nil {
		return IDARequestCrypto{}, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return IDARequestCrypto{}, fmt.Errorf("RSA-OAEP: %w", err)
	}
	enc := base64.RawURLEncoding
	return IDARequestCrypto{
		Request:           enc.EncodeToString(req),
		RequestHMAC:       enc.EncodeToString(hmac),
		RequestSessionKey: enc.EncodeToString(wrapped),
		Thumbprint:        enc.EncodeToString(Thumbprint(idaCert)),
	}, nil
}

// DecryptIDARequest reverses EncryptIDARequest with the IDA private key,
// checking requestHMAC; it is what IDA does and what tests and the
// sandbox use to read a request.
func DecryptIDARequest(idaKey *rsa.PrivateKey, c IDARequestCrypto) ([]byte, error) {
	wrapped, err := DecodeBase64(c.RequestSessionKey)
	if err != nil {
		return nil, fmt.Errorf("%w: requestSessionKey: %v", ErrMalformed, err)
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, idaKey, wrapped, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: key unwrap", ErrDecrypt)
	}
	defer clear(key)
	open := func(field, v string) ([]byte, error) {
		b, err := DecodeBase64(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
		}
		return openIVAtEnd(key, b, 16)
	}
	pt, err := open("request", c.Request)
	if err != nil {
		return nil, err
	}
	mac, err := open("requestHMAC", c.RequestHMAC)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pt)
	if subtle.ConstantTimeCompare(mac, []byte(strings.ToUpper(hex.EncodeToString(sum[:])))) != 1 {
		return nil, fmt.Errorf("%w: requestHMAC does not match the request", ErrDecrypt)
	}
	return pt, nil
}

func newGCM(key []byte, nonceSize int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES: %w", err)
	}
	if nonceSize == 12 {
		return cipher.NewGCM(block)
	}
	return cipher.NewGCMWithNonceSize(block, nonceSize)
}

// sealIVAtEnd is the keymanager's symmetric form: ciphertext ‖ tag ‖ IV.
func sealIVAtEnd(gcm cipher.AEAD, pt []byte) ([]byte, error) {
	iv := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	return append(gcm.Seal(nil, iv, pt, nil), iv...), nil
}

func openIVAtEnd(key, data []byte, ivSize int) ([]byte, error) {
	if len(data) < ivSize+16 {
		return nil, fmt.Errorf("%w: data too short", ErrMalformed)
	}
	gcm, err := newGCM(key, ivSize)
	if err != nil {
		return nil, err
	}
	n := len(data) - ivSize
	pt, err := gcm.Open(nil, data[n:], data[:n], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: AES-GCM", ErrDecrypt)
	}
	return pt, nil
}

func rsaPublic(cert *x509.Certificate) (*rsa.PublicKey, error) {
	if cert == nil {
		return nil, errors.New("no certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate key is %T, MOSIP uses RSA", cert.PublicKey)
	}
	return pub, nil
}
