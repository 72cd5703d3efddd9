package mosipcrypto

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeystore returns a fresh self-signed RSA-2048 partner keystore.
func testKeystore(t testing.TB, cn string) *Keystore {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Keystore{Key: key, Cert: cert}
}

var (
	sharedOnce sync.Once
	sharedA    *Keystore
	sharedB    *Keystore
)

// keys returns two keystores shared by the tests (RSA generation is slow
// under -race).
func keys(t testing.TB) (*Keystore, *Keystore) {
	sharedOnce.Do(func() { sharedA, sharedB = testKeystore(t, "partner-a"), testKeystore(t, "partner-b") })
	return sharedA, sharedB
}

// independentVERR2 builds the keymanager format with stdlib calls only,
// straight from mosip-apis.md §5.1, so DecryptVERR2 is checked against a
// second implementation rather than its own inverse.
func independentVERR2(t testing.TB, cert *x509.Certificate, pt []byte) string {
	t.Helper()
	key := bytes.Repeat([]byte{7}, 32)
	aad := bytes.Repeat([]byte{9}, 32)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	thumb := sha256.Sum256(cert.Raw)
	out := []byte("VER_R2")
	out = append(out, thumb[:]...)
	out = append(out, wrapped...)
	out = append(out, "#KEY_SPLITTER#"...)
	out = append(out, aad...)
	out = append(out, gcm.Seal(nil, aad[:12], pt, aad)...)
	return base64.RawURLEncoding.EncodeToString(out)
}

func TestDecryptVERR2(t *testing.T) {
	a, b := keys(t)
	pt := []byte(`{"credentialSubject":{"id":"x"}}`)
	enc := independentVERR2(t, a.Cert, pt)

	got, err := DecryptVERR2(enc, a)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("DecryptVERR2 = %q, %v; want the plaintext", got, err)
	}
	// Padded standard base64 (Node's "base64") decodes the same.
	raw, _ := base64.RawURLEncoding.DecodeString(enc)
	if got, err := DecryptVERR2(base64.StdEncoding.EncodeToString(raw), a); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("standard base64: %q, %v", got, err)
	}
	if _, err := DecryptVERR2(enc, b); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("other keystore: err = %v, want ErrWrongRecipient", err)
	}

	tampered := append([]byte{}, raw...)
	tampered[len(tampered)-20] ^= 1
	if _, err := DecryptVERR2(base64.RawURLEncoding.EncodeToString(tampered), a); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered ciphertext: err = %v, want ErrDecrypt", err)
	}
	// The AAD is authenticated too.
	tampered = append([]byte{}, raw...)
	tampered[bytes.Index(raw, []byte(KeySplitter))+len(KeySplitter)+20] ^= 1
	if _, err := DecryptVERR2(base64.RawURLEncoding.EncodeToString(tampered), a); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered AAD: err = %v, want ErrDecrypt", err)
	}
	for name, in := range map[string]string{
		"not base64": "%%%", "no splitter": base64.RawURLEncoding.EncodeToString([]byte("VER_R2abc")),
		"short key": base64.RawURLEncoding.EncodeToString([]byte("VER_R2#KEY_SPLITTER#abc")),
	} {
		if _, err := DecryptVERR2(in, a); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestVERR2RoundTrip(t *testing.T) {
	a, _ := keys(t)
	pt := bytes.Repeat([]byte("credential "), 500)
	enc, err := EncryptVERR2(a.Cert, pt)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecryptVERR2(enc, a); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestEncryptIDARequestIndependentDecrypt(t *testing.T) {
	ida, _ := keys(t)
	authJSON := []byte(`{"timestamp":"2025-01-10T06:11:44.123Z","demographics":{"dob":"1990/01/31"}}`)
	c, err := EncryptIDARequest(ida.Cert, authJSON)
	if err != nil {
		t.Fatal(err)
	}
	// What IDA does, written with stdlib only (mosip-apis.md §6.3).
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%q is not unpadded base64url: %v", s, err)
		}
		return b
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, ida.Key, dec(c.RequestSessionKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	open := func(b []byte) []byte {
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCMWithNonceSize(block, 16)
		pt, err := gcm.Open(nil, b[len(b)-16:], b[:len(b)-16], nil)
		if err != nil {
			t.Fatal(err)
		}
		return pt
	}
	if got := open(dec(c.Request)); !bytes.Equal(got, authJSON) {
		t.Fatalf("request = %q", got)
	}
	sum := sha256.Sum256(authJSON)
	if got, want := string(open(dec(c.RequestHMAC))), strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Fatalf("requestHMAC = %q, want %q", got, want)
	}
	thumb := sha256.Sum256(ida.Cert.Raw)
	if !bytes.Equal(dec(c.Thumbprint), thumb[:]) {
		t.Fatal("thumbprint is not SHA-256 of the certificate DER")
	}
	if got, err := DecryptIDARequest(ida.Key, c); err != nil || !bytes.Equal(got, authJSON) {
		t.Fatalf("DecryptIDARequest: %v", err)
	}
	// A fresh key and IV every time.
	c2, _ := EncryptIDARequest(ida.Cert, authJSON)
	if c2.Request == c.Request || c2.RequestSessionKey == c.RequestSessionKey {
		t.Fatal("two requests share key or IV")
	}
	// HMAC of another request is refused.
	c2.RequestHMAC = c.RequestHMAC
	if _, err := DecryptIDARequest(ida.Key, c2); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("swapped HMAC: err = %v", err)
	}
}

func TestSignDetachedRS256(t *testing.T) {
	a, b := keys(t)
	body := []byte(`{"id":"mosip.identity.auth"}`)
	jws, err := SignDetachedRS256(a, body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not detached: %q", jws)
	}
	// Independent check: header form and an RS256 signature over
	// b64url(header).b64url(body).
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "RS256" || len(h.X5C) != 1 {
		t.Fatalf("header %s: %v", hb, err)
	}
	der, err := base64.StdEncoding.DecodeString(h.X5C[0])
	if err != nil || !bytes.Equal(der, a.Cert.Raw) {
		t.Fatalf("x5c is not standard base64 of the DER: %v", err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)))
	if err := rsa.VerifyPKCS1v15(&a.Key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}

	if c, err := VerifyDetached(jws, body, VerifyOptions{Trusted: []*x509.Certificate{b.Cert, a.Cert}}); err != nil || c != a.Cert {
		t.Fatalf("VerifyDetached pinned: %v", err)
	}
	cases := map[string]struct {
		body []byte
		opts VerifyOptions
	}{
		"other key":         {body, VerifyOptions{Key: &b.Key.PublicKey}},
		"untrusted x5c":     {body, VerifyOptions{Trusted: []*x509.Certificate{b.Cert}}},
		"nothing trusted":   {body, VerifyOptions{}},
		"changed payload":   {[]byte(`{"id":"x"}`), VerifyOptions{Key: &a.Key.PublicKey}},
		"algorithm refused": {body, VerifyOptions{Key: &a.Key.PublicKey, Algorithms: []string{"PS256"}}},
	}
	for name, tc := range cases {
		if _, err := VerifyDetached(jws, tc.body, tc.opts); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
}

// TestVerifyUnencodedPS256 checks the RsaSignature2018 form: RFC 7797
// b64=false, PS256 over header "." raw payload.
func TestVerifyUnencodedPS256(t *testing.T) {
	a, b := keys(t)
	payload := []byte{0, 1, 2, 255, '.', 'x'}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"b64":false,"crit":["b64"],"alg":"PS256"}`))
	digest := sha256.Sum256(append([]byte(h+"."), payload...))
	sig, err := rsa.SignPSS(rand.Reader, a.Key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	jws := h + ".." + base64.RawURLEncoding.EncodeToString(sig)
	if _, err := VerifyDetached(jws, payload, VerifyOptions{Key: &a.Key.PublicKey}); err != nil {
		t.Fatalf("valid proof: %v", err)
	}
	if _, err := VerifyDetached(jws, payload, VerifyOptions{Key: &b.Key.PublicKey}); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	// b64=false without crit must not be honoured.
	h2 := base64.RawURLEncoding.EncodeToString([]byte(`{"b64":false,"alg":"PS256"}`))
	if _, err := VerifyDetached(h2+".."+base64.RawURLEncoding.EncodeToString(sig), payload, VerifyOptions{Key: &a.Key.PublicKey}); !errors.Is(err, ErrSignature) {
		t.Fatalf("b64 without crit: %v", err)
	}
}

func TestKeystoreFiles(t *testing.T) {
	a, b := keys(t)
	dir := t.TempDir()
	p12, err := EncodePKCS12(a, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p12Path := write("partner.p12", p12)
	ks, err := LoadKeystoreFile(p12Path, "s3cret")
	if err != nil || !ks.Key.Equal(a.Key) || !ks.Cert.Equal(a.Cert) {
		t.Fatalf("P12: %v", err)
	}
	if _, err := LoadKeystoreFile(p12Path, "wrong"); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Fatalf("wrong password: %v", err)
	}

	keyDER, _ := x509.MarshalPKCS8PrivateKey(a.Key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Cert.Raw})
	certB := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Cert.Raw})
	// The leaf is found by its key, wherever it is in the file.
	ks, err = LoadKeystoreFile(write("partner.pem", bytes.Join([][]byte{certB, keyPEM, certA}, nil)), "")
	if err != nil || !ks.Cert.Equal(a.Cert) || len(ks.Chain) != 1 {
		t.Fatalf("PEM: %v", err)
	}
	if _, err := LoadKeystoreFile(write("mismatch.pem", append(append([]byte{}, keyPEM...), certB...)), ""); err == nil {
		t.Fatal("a key with another's certificate was accepted")
	}
	if _, err := LoadKeystoreFile(write("nokey.pem", certA), ""); err == nil {
		t.Fatal("a file without a key was accepted")
	}
	c, err := LoadCertificateFile(write("ida.crt", certA))
	if err != nil || !c.Equal(a.Cert) {
		t.Fatalf("certificate PEM: %v", err)
	}
	c, err = LoadCertificateFile(write("ida.der", a.Cert.Raw))
	if err != nil || !c.Equal(a.Cert) {
		t.Fatalf("certificate DER: %v", err)
	}
}

func FuzzDecryptVERR2(f *testing.F) {
	a, _ := keys(f)
	f.Add(independentVERR2(f, a.Cert, []byte(`{}`)))
	f.Add("VER_R2#KEY_SPLITTER#")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = DecryptVERR2(s, a) // must not panic
	})
}

func FuzzVerifyDetached(f *testing.F) {
	a, _ := keys(f)
	jws, _ := SignDetachedRS256(a, []byte("x"))
	f.Add(jws, []byte("x"))
	f.Add("e30..", []byte{})
	f.Fuzz(func(t *testing.T, jws string, payload []byte) {
		_, _ = VerifyDetached(jws, payload, VerifyOptions{Trusted: []*x509.Certificate{a.Cert}})
	})
}

func BenchmarkDecryptVERR2(b *testing.B) {
	a, _ := keys(b)
	enc, err := EncryptVERR2(a.Cert, bytes.Repeat([]byte("c"), 4096))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptVERR2(enc, a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIDARequestEncryptAndSign(b *testing.B) {
	a, ida := keys(b)
	authJSON := []byte(`{"timestamp":"2025-01-10T06:11:44.123Z","demographics":{"name":[{"language":"eng","value":"Jane Doe"}],"dob":"1990/01/31"}}`)
	b.ReportAllocs()
	for b.Loop() {
		c, err := EncryptIDARequest(ida.Cert, authJSON)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SignDetachedRS256(a, []byte(c.Request)); err != nil {
			b.Fatal(err)
		}
	}
}
