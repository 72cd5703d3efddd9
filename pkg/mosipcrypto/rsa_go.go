//go:build !openssl || !cgo

package mosipcrypto

import "crypto/rsa"

// fastRSA: without the openssl build tag there is no faster implementation.
func fastRSA(*rsa.PrivateKey) rsaAccel { return nil }

func rsaBackend() string { return "Go crypto/rsa" }
