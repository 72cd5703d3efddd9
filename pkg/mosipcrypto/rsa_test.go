package mosipcrypto

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // a ciphertext of the wrong OAEP hash must be refused
	"crypto/sha256"
	"sync"
	"testing"
)

// decryptOAEPSHA256 (OpenSSL with the openssl tag, crypto/rsa otherwise:
// `make test` runs both) reads exactly what crypto/rsa's RSA-OAEP-SHA256
// writes, and refuses anything else without saying why.
func TestDecryptOAEPSHA256(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RSA backend: %s", RSABackend())
	maxLen := key.Size() - 2*sha256.Size - 2
	var wg sync.WaitGroup
	for _, n := range []int{0, 1, 16, 32, 100, maxLen} {
		wg.Go(func() {
			msg := make([]byte, n)
			_, _ = rand.Read(msg)
			ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, msg, nil)
			if err != nil {
				t.Error(err)
				return
			}
			got, err := decryptOAEPSHA256(key, ct)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%d-byte message: got %x, %v", n, got, err)
			}
		})
	}
	wg.Wait()

	msg := []byte("0123456789abcdef0123456789abcdef")
	good, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, msg, nil)
	tampered := bytes.Clone(good)
	tampered[len(tampered)/2] ^= 0x01
	labelled, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, msg, []byte("label"))
	sha1OAEP, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, msg, nil)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forOther, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &other.PublicKey, msg, nil)
	tooBig := bytes.Repeat([]byte{0xff}, key.Size())
	for name, ct := range map[string][]byte{
		"tampered": tampered, "with a label": labelled, "SHA-1 OAEP": sha1OAEP, "for another key": forOther,
		"empty": {}, "short": good[1:], "long": append(bytes.Clone(good), 0), "above the modulus": tooBig,
	} {
		if got, err := decryptOAEPSHA256(key, ct); err == nil {
			t.Errorf("%s: decrypted to %x, want an error", name, got)
		}
	}
	// The key still works after the failures (nothing left in a queue).
	if got, err := decryptOAEPSHA256(key, good); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("after failures: %x, %v", got, err)
	}
}

// signPKCS1v15SHA256 gives crypto/rsa's exact signature (PKCS#1 v1.5 is
// deterministic), from any goroutine, and refuses a digest of the wrong size.
func TestSignPKCS1v15SHA256(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			digest := sha256.Sum256([]byte{byte(i)})
			got, err := signPKCS1v15SHA256(key, digest[:])
			want, werr := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
			if err != nil || werr != nil || !bytes.Equal(got, want) {
				t.Errorf("signature %d: %x, %v; crypto/rsa gives %x, %v", i, got, err, want, werr)
			}
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], got); err != nil {
				t.Errorf("signature %d does not verify: %v", i, err)
			}
		})
	}
	wg.Wait()
	if sig, err := signPKCS1v15SHA256(key, []byte("short")); err == nil {
		t.Errorf("signed a 5-byte digest: %x", sig)
	}
}

func BenchmarkSignPKCS1v15SHA256(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	digest := sha256.Sum256([]byte("payload"))
	for b.Loop() {
		if _, err := signPKCS1v15SHA256(key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptOAEPSHA256(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, make([]byte, 32), nil)
	b.Logf("RSA backend: %s", RSABackend())
	for b.Loop() {
		if _, err := decryptOAEPSHA256(key, ct); err != nil {
			b.Fatal(err)
		}
	}
}
