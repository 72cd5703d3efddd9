// Package mosipcrypto implements the cryptography MOSIP expects from a
// partner, once for every service: partner keystores (PKCS#12 or PEM),
// certificate thumbprints, the keymanager's hybrid encryption (VER_R2 as
// credentials arrive, the IDA request form as authentication requests
// leave) and detached JWS signatures in both forms MOSIP uses.
//
// Formats and their sources are in docs/mosip-crypto.md; every function
// fails closed with an error that names what is wrong and never carries key
// material or plaintext.
package mosipcrypto

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Keystore is a partner's RSA private key with its certificate, as uploaded
// to MOSIP's partner management service.
type Keystore struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// Chain holds the CA certificates that came with the key, if any.
	Chain []*x509.Certificate
}

// Thumbprint is SHA-256 of the keystore certificate's DER, the value MOSIP
// puts in front of data encrypted for it.
func (k *Keystore) Thumbprint() []byte { return Thumbprint(k.Cert) }

// Thumbprint is SHA-256 of a certificate's DER encoding (32 bytes).
func Thumbprint(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

// LoadKeystoreFile reads a partner keystore: PKCS#12 when the name ends in
// .p12 or .pfx (as the TypeScript mosip-api's P12 files), otherwise a PEM
// file holding both the private key and the certificate.
func LoadKeystoreFile(path, password string) (*Keystore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	lower := strings.ToLower(path)
	if strings.HasSuffix(lower, ".p12") || strings.HasSuffix(lower, ".pfx") {
		ks, err := LoadPKCS12(data, password)
		if err != nil {
			return nil, fmt.Errorf("keystore %s: %w", path, err)
		}
		return ks, nil
	}
	ks, err := LoadPEM(data)
	if err != nil {
		return nil, fmt.Errorf("keystore %s: %w", path, err)
	}
	return ks, nil
}

// LoadPKCS12 decodes a PKCS#12 keystore holding one RSA key and its
// certificate.
func LoadPKCS12(data []byte, password string) (*Keystore, error) {
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, errors.New("PKCS#12: wrong password")
		}
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	return newKeystore(key, cert, chain)
}

// LoadPEM reads a private key (PKCS#8 or PKCS#1) and the certificate that
// matches it from PEM data; further certificates become the chain.
func LoadPEM(data []byte) (*Keystore, error) {
	var (
		key   any
		certs []*x509.Certificate
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM private key: %w", err)
			}
			key = k
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM private key: %w", err)
			}
			key = k
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM certificate: %w", err)
			}
			certs = append(certs, c)
		}
	}
	if key == nil {
		return nil, errors.New("PEM: no private key")
	}
	if len(certs) == 0 {
		return nil, errors.New("PEM: no certificate")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("PEM: key is %T, MOSIP partners use RSA", key)
	}
	// The leaf is the certificate of this key, wherever it is in the file.
	for i, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rsaKey.PublicKey) {
			chain := append(append([]*x509.Certificate{}, certs[:i]...), certs[i+1:]...)
			return newKeystore(rsaKey, c, chain)
		}
	}
	return nil, errors.New("PEM: no certificate matches the private key")
}

func newKeystore(key any, cert *x509.Certificate, chain []*x509.Certificate) (*Keystore, error) {
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, MOSIP partners use RSA", key)
	}
	if cert == nil {
		return nil, errors.New("no certificate")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&rsaKey.PublicKey) {
		return nil, errors.New("the certificate does not belong to the private key")
	}
	return &Keystore{Key: rsaKey, Cert: cert, Chain: chain}, nil
}

// LoadCertificateFile reads one certificate, PEM or DER.
func LoadCertificateFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	c, err := ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return c, nil
}

// ParseCertificate parses the first certificate of PEM data, or DER.
func ParseCertificate(pemOrDER []byte) (*x509.Certificate, error) {
	if bytes.Contains(pemOrDER, []byte("-----BEGIN")) {
		for rest := pemOrDER; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				return nil, errors.New("no CERTIFICATE block in PEM data")
			}
			if block.Type == "CERTIFICATE" {
				return x509.ParseCertificate(block.Bytes)
			}
		}
	}
	return x509.ParseCertificate(pemOrDER)
}

// EncodePKCS12 writes a keystore as PKCS#12 (modern encryption), for tools
// and tests that produce the files LoadKeystoreFile reads.
func EncodePKCS12(ks *Keystore, password string) ([]byte, error) {
	return pkcs12.Modern.Encode(ks.Key, ks.Cert, ks.Chain, password)
}
