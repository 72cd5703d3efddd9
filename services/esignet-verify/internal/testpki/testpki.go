// Package testpki makes throw-away RSA keys and certificates for the
// service's tests: real keys, real certificates, cached per name so a
// test run pays for each 2048-bit key once.
package testpki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// Cert is a key with a self-signed certificate.
type Cert struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

var (
	mu    sync.Mutex
	certs = map[string]*Cert{}
)

// Get returns the key and certificate named name, made on first use.
func Get(tb testing.TB, name string) *Cert {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if c, ok := certs[name]; ok {
		return c
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"esignet-verify tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cert{Key: key, Cert: cert}
	certs[name] = c
	return c
}

// CertPEM is the certificate as PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key as PKCS#8 PEM.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// JWK is the private key as a JSON Web Key, with kid when given.
func (c *Cert) JWK(kid string) []byte {
	k := c.Key
	b := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
	m := map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b(k.N), "e": b(big.NewInt(int64(k.E))), "d": b(k.D), "p": b(k.Primes[0]), "q": b(k.Primes[1]),
		"dp": b(k.Precomputed.Dp), "dq": b(k.Precomputed.Dq), "qi": b(k.Precomputed.Qinv)}
	if kid != "" {
		m["kid"] = kid
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// Write writes data to name in dir and returns the path.
func Write(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// P12 is the key and certificate as a PKCS#12 keystore.
func (c *Cert) P12(tb testing.TB, password string) []byte {
	tb.Helper()
	b, err := mosipcrypto.EncodePKCS12(&mosipcrypto.Keystore{Key: c.Key, Cert: c.Cert}, password)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Keystore is the key and certificate as a mosipcrypto keystore.
func (c *Cert) Keystore() *mosipcrypto.Keystore {
	return &mosipcrypto.Keystore{Key: c.Key, Cert: c.Cert}
}
