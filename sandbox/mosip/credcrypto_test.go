package mosip

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCredEncryptForPartner(t *testing.T) {
	t.Parallel()
	partner := credTestCerts(t).partner
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"json", []byte(`{"credentialSubject":{"fullName":[{"language":"eng","value":"Jenny"}]}}`)},
		{"large", bytes.Repeat([]byte("0123456789abcdef"), 4096)},
		{"contains splitter", []byte("before#KEY_SPLITTER#after")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			enc, err := EncryptForPartner(partner.Cert, tc.plaintext)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(enc, "+/=") {
				t.Error("not URL-safe base64 without padding")
			}
			raw, _ := base64.RawURLEncoding.DecodeString(enc)
			if want := 6 + 32 + 256 + 14 + 32 + len(tc.plaintext) + 16; len(raw) != want {
				t.Errorf("%d bytes, want %d (VER_R2 + thumbprint + RSA-2048 + splitter + AAD + data + tag)", len(raw), want)
			}
			if got := credTestDecrypt(t, partner.Key, partner.DER, enc); !bytes.Equal(got, tc.plaintext) {
				t.Errorf("round trip: got %q", got)
			}
		})
	}

	a, _ := EncryptForPartner(partner.Cert, []byte("same"))
	b, _ := EncryptForPartner(partner.Cert, []byte("same"))
	if a == b {
		t.Error("two encryptions of the same plaintext are identical (key/AAD not random)")
	}

	// Tampering with the additional data must fail authentication: the AAD
	// is bound into GCM, not only used as nonce material.
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	i := bytes.Index(raw, []byte(KeySplitter)) + len(KeySplitter)
	raw[i+20] ^= 1 // beyond the 12 nonce bytes
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, partner.Key, raw[6+32:i-len(KeySplitter)], nil)
	if err != nil {
		t.Fatal(err)
	}
	if credTestGCMOpens(aesKey, tampered) {
		t.Error("AES-GCM accepted modified additional data")
	}
}

func credTestGCMOpens(key []byte, enc string) bool {
	raw, _ := base64.RawURLEncoding.DecodeString(enc)
	i := bytes.Index(raw, []byte(KeySplitter)) + len(KeySplitter)
	data := raw[i:]
	gcm := credTestGCM(key)
	_, err := gcm.Open(nil, data[:12], data[32:], data[:32])
	return err == nil
}

func credTestGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

func TestCredEncryptForPartnerErrors(t *testing.T) {
	t.Parallel()
	if _, err := EncryptForPartner(nil, []byte("x")); err == nil {
		t.Error("nil certificate accepted")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := x509.ParseCertificate(der)
	if _, err := EncryptForPartner(ec, []byte("x")); err == nil {
		t.Error("EC certificate accepted; keymanager partner encryption is RSA")
	}
}

func TestCredCertJWS(t *testing.T) {
	t.Parallel()
	signing := credTestCerts(t).signing
	payload := []byte(`{"a":"<b>&"}`)
	jws, err := credCertJWS(signing, payload)
	if err != nil {
		t.Fatal(err)
	}
	if cert := credTestVerifyCertJWS(t, jws, payload); !cert.Equal(signing.Cert) {
		t.Error("x5c is not the signing certificate")
	}
	// Detached: the payload travels separately and a changed byte fails.
	parts := strings.Split(jws, ".")
	digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"a":"<b>&" }`))))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if rsa.VerifyPKCS1v15(&signing.Key.PublicKey, crypto.SHA256, digest[:], sig) == nil {
		t.Error("signature verifies over different bytes")
	}
}

func TestCredLDJWS(t *testing.T) {
	t.Parallel()
	signing := credTestCerts(t).signing
	payload := bytes.Repeat([]byte{0xAB}, 64)
	jws, err := credLDJWS(signing.Key, "kid-1", payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("jws %q is not detached", jws)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hb) != `{"b64":false,"crit":["b64"],"kid":"kid-1","alg":"PS256"}` {
		t.Errorf("header = %s", hb)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	// b64=false: the raw payload bytes follow the dot, not their base64.
	if err := credTestVerifyPS256(parts[0], payload, sig, &signing.Key.PublicKey); err != nil {
		t.Errorf("PS256 over ASCII(header).payload: %v", err)
	}
	if credTestVerifyPS256(parts[0], []byte(base64.RawURLEncoding.EncodeToString(payload)), sig, &signing.Key.PublicKey) == nil {
		t.Error("signature verifies over the base64 payload (b64=true semantics)")
	}
}

func TestCredGenerateTokenID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uin, partner, uinSalt, pSalt string
		n                            int
	}{
		{"2178026904", "opencrvs-partner", "s1", "s2", 36},
		{"2178026904", "opencrvs-partner", DefaultTokenIDUINSalt, DefaultTokenIDPartnerSalt, 36},
		{"1234567890", "792112", "zH", "yS", 20},
		{"1234567890", "792112", "zH", "yS", 10},
	}
	for _, tc := range tests {
		got := GenerateTokenID(tc.uin, tc.partner, tc.uinSalt, tc.pSalt, tc.n)
		if want := credTestTokenID(tc.uin, tc.partner, tc.uinSalt, tc.pSalt, tc.n); got != want {
			t.Errorf("GenerateTokenID(%s, %s) = %s, want %s", tc.uin, tc.partner, got, want)
		}
		if !regexp.MustCompile(`^\d+$`).MatchString(got) || len(got) != tc.n {
			t.Errorf("token %q: want %d digits", got, tc.n)
		}
	}
	if GenerateTokenID("1", "p", "a", "b", 0) != GenerateTokenID("1", "p", "a", "b", DefaultTokenIDLength) {
		t.Error("length 0 does not mean the default")
	}
	if n := len(GenerateTokenID("1", "p", "a", "b", 10000)); n < 150 || n > 160 {
		t.Errorf("over-long length not clamped to the number's %d digits", n)
	}
}

// RFC 8785 examples (§3.2.2.3 numbers, §3.2.3 sorting) and the escaping
// rules of ECMAScript JSON.stringify.
func TestCredJCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"numbers", `[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0, 1e21, 1e20, 123e-9, 100, -1.5]`,
			`[333333333.3333333,1e+30,4.5,0.002,1e-27,0,1e+21,100000000000000000000,1.23e-7,100,-1.5]`},
		{"sorting by UTF-16", `{"\u20ac":"Euro","\r":"CR","\ufb33":"Hebrew","1":"One","\ud83d\ude00":"Smiley","\u0080":"Ctl","\u00f6":"Latin"}`,
			"{\"\\r\":\"CR\",\"1\":\"One\",\"\u0080\":\"Ctl\",\"\u00f6\":\"Latin\",\"\u20ac\":\"Euro\",\"\U0001F600\":\"Smiley\",\"\ufb33\":\"Hebrew\"}"},
		{"escaping", `{"s":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/<>&\u2028"}`,
			"{\"s\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/<>&\u2028\"}"},
		{"nesting", `{"b":[true,false,null,{"z":1,"a":"x"}],"a":{}}`, `{"a":{},"b":[true,false,null,{"a":"x","z":1}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			got, err := ldJCS(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("JCS\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := ldJCS(map[string]any{"x": struct{}{}}); err == nil {
		t.Error("non-JSON value accepted")
	}
}
