package mosipcrypto

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
)

// decryptOAEPSHA256 is RSA-OAEP decryption with SHA-256 for both the hash
// and MGF1 and no label, as MOSIP's keymanager wraps its session keys. It
// uses OpenSSL when the package is built with the openssl tag (cgo and
// libcrypto 3; see rsa_openssl.go): one private-key operation there costs
// about 0.26 ms on this project's 2-core reference machine, against about
// 0.6 ms in Go's BoringCrypto mode and 1.0 ms in pure Go, and it is paid for
// every credential the bridge receives. Otherwise, and for a key OpenSSL
// cannot take, crypto/rsa does it. Either way a failure says nothing about
// why (no padding oracle).
func decryptOAEPSHA256(k *rsa.PrivateKey, ciphertext []byte) ([]byte, error) {
	if f := fastRSA(k); f != nil {
		return f.decryptOAEPSHA256(ciphertext)
	}
	return rsa.DecryptOAEP(sha256.New(), nil, k, ciphertext, nil)
}

// signPKCS1v15SHA256 is an RSASSA-PKCS1-v1_5 signature of a SHA-256
// digest (JWS RS256), the other private-key operation paid per request:
// every IDA request is signed. The signature is deterministic, so OpenSSL's
// and crypto/rsa's are the same bytes.
func signPKCS1v15SHA256(k *rsa.PrivateKey, digest []byte) ([]byte, error) {
	if f := fastRSA(k); f != nil && len(digest) == sha256.Size {
		return f.signPKCS1v15SHA256(digest)
	}
	return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest)
}

// rsaAccel is a private key prepared for a faster RSA implementation.
type rsaAccel interface {
	decryptOAEPSHA256(ciphertext []byte) ([]byte, error)
	signPKCS1v15SHA256(digest []byte) ([]byte, error)
}

// RSABackend names what performs the partner key's RSA private-key
// operations (OAEP decryption, RS256 signatures): "OpenSSL <version>" or
// "Go crypto/rsa" (BoringCrypto's when built with GOEXPERIMENT=boringcrypto).
// Services log it at start.
func RSABackend() string { return rsaBackend() }
