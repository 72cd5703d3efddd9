package mosipcrypto

import (
	"crypto/rsa"
	"crypto/sha256"
)

// decryptOAEPSHA256 is RSA-OAEP decryption with SHA-256 for both the hash
// and MGF1 and no label, as MOSIP's keymanager wraps its session keys. It
// uses OpenSSL when the package is built with the openssl tag (cgo and
// libcrypto 3; see oaep_openssl.go): one private-key operation there costs
// about 0.26 ms on this project's 2-core reference machine, against about
// 0.6 ms in Go's BoringCrypto mode and 1.0 ms in pure Go, and it is paid for
// every credential the bridge receives. Otherwise, and for a key OpenSSL
// cannot take, crypto/rsa does it. Either way a failure says nothing about
// why (no padding oracle).
func decryptOAEPSHA256(k *rsa.PrivateKey, ciphertext []byte) ([]byte, error) {
	if d := fastOAEP(k); d != nil {
		return d.decrypt(ciphertext)
	}
	return rsa.DecryptOAEP(sha256.New(), nil, k, ciphertext, nil)
}

// RSABackend names what performs the partner key's RSA private-key
// operations (OAEP decryption): "OpenSSL <version>" or "Go crypto/rsa"
// (BoringCrypto's when built with GOEXPERIMENT=boringcrypto). Services log
// it at start.
func RSABackend() string { return rsaBackend() }
