package esignet

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

func sign(t testing.TB, c *testpki.Cert, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: c.Key},
		(&jose.SignerOptions{}).WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(c.Cert.Raw)}))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(claims)
	obj, err := s.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// FuzzVerifyToken feeds arbitrary userinfo bodies to the verifier: it
// never panics, and it accepts only what the pinned key signed.
func FuzzVerifyToken(f *testing.F) {
	kyc := testpki.Get(f, "ida-kyc")
	client := testpki.Get(f, "oidc-client")
	good := sign(f, kyc, map[string]any{"sub": "psut", "name": "Jane Doe"})
	f.Add(good)
	f.Add(good[:len(good)-4] + "AAAA")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c.d.e")
	f.Add(`{"sub":"x"}`)
	f.Add("..")
	c, err := New(Options{TokenURL: "http://127.0.0.1:1/oauth/v2/token", UserinfoURL: "http://127.0.0.1:1/oidc/userinfo",
		ClientKey: &ClientKey{Key: client.Key}, PinnedCerts: []*x509.Certificate{kyc.Cert}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		v, err := c.verifyToken(context.Background(), token, expectation{token: "userinfo", audience: "client"})
		if err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a VerificationError", err)
			}
			return
		}
		if v.claims["sub"] == nil || v.by == "" {
			t.Fatalf("accepted %q without sub or key", token)
		}
	})
}
