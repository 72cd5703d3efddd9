package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/pkg/logging"
)

func TestParsePublicKeys(t *testing.T) {
	key, other := testKey(t, "opencrvs"), testKey(t, "other")
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opencrvs"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		pem      []byte
		wantKeys int
		wantErr  string
	}{
		{"PKIX public key", publicPEM(t, key), 1, ""},
		{"PKIX with surrounding text and CRLF", []byte("key:\r\n" + strings.ReplaceAll(string(publicPEM(t, key)), "\n", "\r\n")), 1, ""},
		{"PKCS1 public key", pkcs1, 1, ""},
		{"certificate", cert, 1, ""},
		{"old and new key", append(publicPEM(t, key), publicPEM(t, other)...), 2, ""},
		{"EC key only", ecPEM, 0, "not an RSA key"},
		{"EC key next to RSA key", append(ecPEM, publicPEM(t, key)...), 1, ""},
		{"weak RSA key", publicPEM(t, weak), 0, "1024-bit"},
		{"not PEM", []byte("<html>Not Found</html>"), 0, "no PEM-encoded RSA public key"},
		{"empty", nil, 0, "no PEM-encoded RSA public key"},
		{"corrupt block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), 0, "PUBLIC KEY block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := parsePublicKeys(tc.pem)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ks.keys) != tc.wantKeys || len(ks.set.Keys) != tc.wantKeys || !strings.HasPrefix(ks.fingerprint, "sha256:") {
				t.Fatalf("got %d keys, fingerprint %q", len(ks.keys), ks.fingerprint)
			}
		})
	}

	a, _ := parsePublicKeys(publicPEM(t, key))
	b, _ := parsePublicKeys(cert)
	c, _ := parsePublicKeys(publicPEM(t, other))
	if a.fingerprint != b.fingerprint || a.fingerprint == c.fingerprint {
		t.Fatal("fingerprints must identify the key, whatever its encoding")
	}
}

// loadedVerifier verifies against a loaded key and never refetches, so the
// fuzzer exercises parsing and verification alone.
func loadedVerifier(tb testing.TB) *verifier {
	ks, err := parsePublicKeys(publicPEM(tb, testKey(tb, "opencrvs")))
	if err != nil {
		tb.Fatal(err)
	}
	store := newKeyStore(tb.Context(), "http://127.0.0.1:1/unused", http.DefaultClient, time.Hour, logging.Discard())
	store.keys = ks
	store.lastRefetch = time.Now()
	return newVerifier(store)
}

func FuzzVerifyToken(f *testing.F) {
	v := loadedVerifier(f)
	key := testKey(f, "opencrvs")
	exp := time.Now().Add(time.Hour)
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor(exp)).SignedString(publicPEM(f, key))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(exp)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	expired := signRS256(f, key, claimsFor(time.Now().Add(-time.Hour)))
	foreign := validToken(f, testKey(f, "other"))
	valid := validToken(f, key)
	// Same header and signature as valid, payload claiming another subject.
	forged := signRS256(f, testKey(f, "other"), jwt.MapClaims{"sub": "admin", "exp": exp.Unix()})
	tampered := strings.Split(valid, ".")[0] + "." + strings.Split(forged, ".")[1] + "." + strings.Split(valid, ".")[2]
	for _, seed := range []string{
		"", ".", "..", "a.b.c", "Bearer x", hs256, none, expired, foreign,
		valid[:len(valid)-4], // truncated signature
		tampered,
		"eyJhbGciOiJSUzI1NiJ9.e30.", "eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := v.verify(t.Context(), s); err == nil {
			t.Fatalf("verified a fuzzed token %q: %+v", s, c)
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+s)
		if raw, err := bearerToken(h); err == nil {
			if c, err := v.verify(t.Context(), raw); err == nil {
				t.Fatalf("verified a fuzzed bearer token %q: %+v", raw, c)
			}
		}
	})
}

func TestLoadedVerifierAcceptsValidTokens(t *testing.T) {
	// Guards the fuzz target against passing because its verifier is broken.
	if _, err := loadedVerifier(t).verify(t.Context(), validToken(t, testKey(t, "opencrvs"))); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
}
