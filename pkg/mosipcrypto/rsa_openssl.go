//go:build openssl && cgo

package mosipcrypto

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "the openssl build tag needs OpenSSL 3 (libssl-dev)"
#endif

// mc_load parses a PKCS#1 DER RSA private key; NULL when it cannot.
static EVP_PKEY *mc_load(const unsigned char *der, long len) {
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	if (k == NULL) ERR_clear_error();
	return k;
}

// mc_oaep_sha256 decrypts in (inlen bytes) into out (*outlen bytes of room;
// the plaintext length on return). 1 on success, 0 on any failure, with
// OpenSSL's error queue cleared so nothing lingers on the thread.
static int mc_oaep_sha256(EVP_PKEY *k, const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok = ctx != NULL
		&& EVP_PKEY_decrypt_init(ctx) > 0
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0
		&& EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0
		&& EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0
		&& EVP_PKEY_decrypt(ctx, out, outlen, in, inlen) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) ERR_clear_error();
	return ok;
}

// mc_sign_pkcs1_sha256 signs a SHA-256 digest (RSASSA-PKCS1-v1_5) into
// sig (*siglen bytes of room; the signature length on return). 1 on
// success, 0 on any failure, the error queue cleared.
static int mc_sign_pkcs1_sha256(EVP_PKEY *k, const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok = ctx != NULL
		&& EVP_PKEY_sign_init(ctx) > 0
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
		&& EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0
		&& EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) ERR_clear_error();
	return ok;
}
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"sync"
	"unsafe"
)

// opensslKey is an RSA private key loaded into OpenSSL. The EVP_PKEY is
// read-only once loaded, so concurrent decryptions share it (each has its
// own EVP_PKEY_CTX), as do signatures.
type opensslKey struct {
	pkey *C.EVP_PKEY
	size int
}

var (
	errOpenSSLDecrypt = errors.New("crypto/rsa: decryption error")
	errOpenSSLSign    = errors.New("RSA signature failed (OpenSSL)")
)

func (k *opensslKey) decryptOAEPSHA256(ct []byte) ([]byte, error) {
	if len(ct) != k.size {
		return nil, errOpenSSLDecrypt
	}
	out := make([]byte, k.size)
	n := C.size_t(len(out))
	// Go byte slices hold no Go pointers: cgo lets C read and write them
	// for the duration of the call.
	if C.mc_oaep_sha256(k.pkey, (*C.uchar)(unsafe.Pointer(&ct[0])), C.size_t(len(ct)),
		(*C.uchar)(unsafe.Pointer(&out[0])), &n) != 1 || int(n) > len(out) {
		clear(out)
		return nil, errOpenSSLDecrypt
	}
	return out[:n], nil
}

func (k *opensslKey) signPKCS1v15SHA256(digest []byte) ([]byte, error) {
	sig := make([]byte, k.size)
	n := C.size_t(len(sig))
	if C.mc_sign_pkcs1_sha256(k.pkey, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n) != 1 || int(n) != len(sig) {
		return nil, errOpenSSLSign
	}
	return sig, nil
}

// opensslKeys holds the keys loaded so far, by Go key. A service has one
// or two partner keys for its whole life, so loaded keys are never freed;
// past maxOpenSSLKeys (tests create many) keys are no longer kept and
// crypto/rsa decrypts for them.
var (
	opensslKeys sync.Map // *rsa.PrivateKey → *opensslKey, or nil when OpenSSL refused it
	// loading serializes loads: converting a key writes its precomputed
	// values (rsa.PrivateKey.Precompute), which a concurrent load would
	// race with.
	loading       sync.Mutex
	opensslLoaded int
)

const maxOpenSSLKeys = 64

// fastRSA returns k loaded into OpenSSL, loading it the first time; nil
// when OpenSSL refused it or too many keys are loaded already.
func fastRSA(k *rsa.PrivateKey) rsaAccel {
	v, ok := opensslKeys.Load(k)
	if !ok {
		loading.Lock()
		if v, ok = opensslKeys.Load(k); !ok {
			if opensslLoaded >= maxOpenSSLKeys {
				loading.Unlock()
				return nil
			}
			v = loadOpenSSLKey(k)
			opensslKeys.Store(k, v)
			opensslLoaded++
		}
		loading.Unlock()
	}
	if key := v.(*opensslKey); key != nil {
		return key
	}
	return nil
}

// loadOpenSSLKey converts k for OpenSSL; nil when k is not a valid RSA key
// OpenSSL accepts (crypto/rsa then does the work and reports the problem).
func loadOpenSSLKey(k *rsa.PrivateKey) *opensslKey {
	if k == nil || k.Validate() != nil {
		return nil
	}
	der := x509.MarshalPKCS1PrivateKey(k)
	defer clear(der)
	p := C.mc_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)))
	if p == nil {
		return nil
	}
	return &opensslKey{pkey: p, size: k.Size()}
}

func rsaBackend() string {
	return C.GoString(C.OpenSSL_version(C.OPENSSL_VERSION))
}
