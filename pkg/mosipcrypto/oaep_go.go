//go:build !openssl || !cgo

package mosipcrypto

import "crypto/rsa"

// oaepDecrypter is a key prepared for a faster RSA implementation.
type oaepDecrypter interface {
	decrypt(ciphertext []byte) ([]byte, error)
}

// fastOAEP: without the openssl build tag there is none.
func fastOAEP(*rsa.PrivateKey) oaepDecrypter { return nil }

func rsaBackend() string { return "Go crypto/rsa" }
