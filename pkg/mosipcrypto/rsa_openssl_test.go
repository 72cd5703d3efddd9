//go:build openssl && cgo

package mosipcrypto

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

// With the openssl tag, OpenSSL really does the work.
func TestOpenSSLBackend(t *testing.T) {
	t.Parallel()
	if b := RSABackend(); !strings.HasPrefix(b, "OpenSSL 3") {
		t.Errorf("RSABackend() = %q, want OpenSSL 3", b)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if fastRSA(key) == nil {
		t.Fatal("OpenSSL refused a valid RSA key")
	}
	if fastRSA(&rsa.PrivateKey{PublicKey: key.PublicKey}) != nil {
		t.Error("OpenSSL took a key without its private part")
	}
}
