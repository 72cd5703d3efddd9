package esignet_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeesignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

// IDA's KYC-exchange claims for one person: sub, the released claims, no
// iss, aud or exp.
var janeClaims = map[string]any{"name": "Jane Mary Doe", "gender": "Female", "birthdate": "1990/01/31", "individual_id": "1234567890"}

func newClient(t *testing.T, s *fakeesignet.Server, mutate func(*esignet.Options)) *esignet.Client {
	t.Helper()
	o := esignet.Options{
		TokenURL: s.TokenURL(), UserinfoURL: s.UserinfoURL(), JWKSURL: s.Issuer() + "/oauth/.well-known/jwks.json",
		Issuer: s.Issuer(), ClientKey: &esignet.ClientKey{Key: s.Client.Key}, Timeout: 5 * time.Second,
	}
	if mutate != nil {
		mutate(&o)
	}
	c, err := esignet.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exchange(t *testing.T, s *fakeesignet.Server, c *esignet.Client, sub string) (*esignet.Result, error) {
	t.Helper()
	code := s.Issue(sub, janeClaims)
	return c.Exchange(context.Background(), code, fakeesignet.ClientID, fakeesignet.RedirectURI)
}

// The code is exchanged with a private_key_jwt assertion eSignet ≥ 1.6
// accepts (iss = sub = client, aud = token endpoint, iat, exp, a fresh
// jti), and the userinfo is returned only once verified.
func TestExchange(t *testing.T) {
	t.Parallel()
	s := fakeesignet.New(t)
	c := newClient(t, s, nil)
	res, err := exchange(t, s, c, "psut-1")
	if err != nil {
		t.Fatalf("Exchange = %v", err)
	}
	if res.Claims["sub"] != "psut-1" || res.Claims["name"] != "Jane Mary Doe" || res.VerifiedBy != "jwks:"+fakeesignet.KeyID {
		t.Errorf("result = %+v", res)
	}
	if _, err := exchange(t, s, c, "psut-2"); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d token requests", len(reqs))
	}
	a, h := reqs[0].Assertion, reqs[0].Header
	iat, _ := a["iat"].(float64)
	exp, _ := a["exp"].(float64)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if h["alg"] != "RS256" || h["typ"] != "JWT" || a["aud"] != s.TokenURL() || exp-iat != 120 ||
		!uuid.MatchString(a["jti"].(string)) || a["jti"] == reqs[1].Assertion["jti"] {
		t.Errorf("assertion header %v claims %v", h, a)
	}
	if reqs[0].Form.Get("redirect_uri") != fakeesignet.RedirectURI || reqs[0].Form.Get("client_id") != fakeesignet.ClientID {
		t.Errorf("form = %v", reqs[0].Form)
	}
	// PS256 assertions with a kid from the JWK.
	c2 := newClient(t, s, func(o *esignet.Options) {
		o.AssertionAlgorithm = "PS256"
		o.ClientKey.KeyID = "client-kid"
	})
	if _, err := exchange(t, s, c2, "psut-3"); err != nil {
		t.Fatal(err)
	}
	if h := s.Requests()[2].Header; h["alg"] != "PS256" || h["kid"] != "client-kid" {
		t.Errorf("PS256 header = %v", h)
	}
}

func TestUserinfoVerification(t *testing.T) {
	t.Parallel()
	s := fakeesignet.New(t)
	attacker := testpki.Get(t, "attacker")
	kyc := testpki.Get(t, "ida-kyc")
	signed := func(mut func(*fakeesignet.Server, map[string]any)) func(*fakeesignet.Server, string, map[string]any) string {
		return func(f *fakeesignet.Server, sub string, claims map[string]any) string {
			c := map[string]any{}
			for k, v := range claims {
				c[k] = v
			}
			mut(f, c)
			return fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, c)
		}
	}
	now := time.Now()
	tests := []struct {
		name     string
		userinfo func(*fakeesignet.Server, string, map[string]any) string
		idToken  func(*fakeesignet.Server, string) string
		opts     func(*esignet.Options)
		token    string // which token fails
		reason   string // "" = accepted
		by       string
	}{
		{name: "eSignet-signed, IDA claims only", userinfo: nil, by: "jwks:" + fakeesignet.KeyID},
		{name: "PS256 by a pinned certificate", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.SignAlg(kyc, jose.PS256, "", true, c)
		}, opts: func(o *esignet.Options) { o.PinnedCerts = []*x509.Certificate{kyc.Cert} }, by: "certificate:"},
		{name: "PS256 by a JWKS key published for RS256", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.SignAlg(s.Signing, jose.PS256, fakeesignet.KeyID, false, c)
		}, token: "userinfo", reason: esignet.ReasonSignature},
		{name: "no kid: every JWKS key is tried", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(s.Signing, "", false, c)
		}},
		{name: "unknown key", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(attacker, "attacker-kid", false, c)
		}, token: "userinfo", reason: esignet.ReasonUnknownKey},
		{name: "unknown key, no kid", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(attacker, "", false, c)
		}, token: "userinfo", reason: esignet.ReasonSignature},
		{name: "our kid, another key", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(attacker, fakeesignet.KeyID, false, c)
		}, token: "userinfo", reason: esignet.ReasonSignature},
		{name: "tampered claims", userinfo: func(_ *fakeesignet.Server, sub string, c map[string]any) string {
			tok := fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, c)
			p := strings.Split(tok, ".")
			forged := map[string]any{"sub": sub, "name": "Somebody Else"}
			return p[0] + "." + b64json(forged) + "." + p[2]
		}, token: "userinfo", reason: esignet.ReasonSignature},
		{name: "alg none", userinfo: func(_ *fakeesignet.Server, sub string, c map[string]any) string {
			return b64json(map[string]any{"alg": "none"}) + "." + b64json(c) + "."
		}, token: "userinfo", reason: esignet.ReasonUnsigned},
		{name: "HS256 with the public key as secret", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return b64json(map[string]any{"alg": "HS256", "kid": fakeesignet.KeyID}) + "." + b64json(c) + ".c2ln"
		}, token: "userinfo", reason: esignet.ReasonAlgorithm},
		{name: "plain JSON", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string { return `{"sub":"psut"}` },
			token: "userinfo", reason: esignet.ReasonUnsigned},
		{name: "garbage", userinfo: func(*fakeesignet.Server, string, map[string]any) string { return "not a token" }, token: "userinfo", reason: esignet.ReasonMalformed},
		{name: "expired", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), token: "userinfo", reason: esignet.ReasonExpired},
		{name: "within the clock skew", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })},
		{name: "not yet valid", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), token: "userinfo", reason: esignet.ReasonNotYetValid},
		{name: "wrong audience", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["aud"] = "another-client" }), token: "userinfo", reason: esignet.ReasonAudience},
		{name: "audience list naming us", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["aud"] = []string{"x", fakeesignet.ClientID} })},
		{name: "wrong issuer", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["iss"] = "https://evil.example.org" }), token: "userinfo", reason: esignet.ReasonIssuer},
		{name: "right issuer", userinfo: signed(func(f *fakeesignet.Server, c map[string]any) { c["iss"] = f.Issuer() })},
		{name: "no sub", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { delete(c, "sub") }), token: "userinfo", reason: esignet.ReasonSubject},
		{name: "another person than the id_token", userinfo: signed(func(_ *fakeesignet.Server, c map[string]any) { c["sub"] = "someone-else" }),
			token: "userinfo", reason: esignet.ReasonSubjectMismatch},
		{name: "JWE for the client", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Encrypt(&s.Client.Key.PublicKey, fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, c))
		}},
		{name: "JWE for someone else", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Encrypt(&attacker.Key.PublicKey, fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, c))
		}, token: "userinfo", reason: esignet.ReasonDecryption},
		{name: "JWE hiding an unsigned token", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Encrypt(&s.Client.Key.PublicKey, `{"sub":"psut"}`)
		}, token: "userinfo", reason: esignet.ReasonUnsigned},
		{name: "IDA KYC key, certificate pinned", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(kyc, "ida-kid", true, c)
		}, opts: func(o *esignet.Options) { o.PinnedCerts = []*x509.Certificate{kyc.Cert} }, by: "certificate:"},
		{name: "IDA KYC key, pinned, no x5c", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(kyc, "", false, c)
		}, opts: func(o *esignet.Options) { o.PinnedCerts = []*x509.Certificate{kyc.Cert} }, by: "certificate:"},
		{name: "IDA KYC key, not pinned", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			return fakeesignet.Sign(kyc, "ida-kid", true, c)
		}, token: "userinfo", reason: esignet.ReasonUnknownKey},
		{name: "pinned certificate in x5c, signed by another key", userinfo: func(_ *fakeesignet.Server, _ string, c map[string]any) string {
			tok := fakeesignet.Sign(attacker, "", false, c)
			p := strings.Split(tok, ".")
			h := b64json(map[string]any{"alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(kyc.Cert.Raw)}})
			return h + "." + p[1] + "." + p[2]
		}, opts: func(o *esignet.Options) { o.PinnedCerts = []*x509.Certificate{kyc.Cert} }, token: "userinfo", reason: esignet.ReasonSignature},
		{name: "id_token expired", idToken: func(f *fakeesignet.Server, sub string) string {
			return fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, map[string]any{"iss": f.Issuer(), "sub": sub, "aud": fakeesignet.ClientID,
				"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
		}, token: "id_token", reason: esignet.ReasonExpired},
		{name: "id_token for another client", idToken: func(f *fakeesignet.Server, sub string) string {
			return fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, map[string]any{"iss": f.Issuer(), "sub": sub, "aud": "another-client",
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		}, token: "id_token", reason: esignet.ReasonAudience},
		{name: "id_token without exp", idToken: func(f *fakeesignet.Server, sub string) string {
			return fakeesignet.Sign(s.Signing, fakeesignet.KeyID, false, map[string]any{"iss": f.Issuer(), "sub": sub, "aud": fakeesignet.ClientID})
		}, token: "id_token", reason: esignet.ReasonMalformed},
		{name: "id_token by an unknown key", idToken: func(f *fakeesignet.Server, sub string) string {
			return fakeesignet.Sign(attacker, "nope", false, map[string]any{"iss": f.Issuer(), "sub": sub, "aud": fakeesignet.ClientID,
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		}, token: "id_token", reason: esignet.ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case gets its own fake: they change its behaviour.
			s2 := fakeesignet.New(t)
			s2.Set(func(f *fakeesignet.Server) {
				if tt.userinfo != nil {
					f.Userinfo = func(sub string, claims map[string]any) string { return tt.userinfo(f, sub, claims) }
				}
				if tt.idToken != nil {
					f.IDToken = func(sub string) string { return tt.idToken(f, sub) }
				}
			})
			c := newClient(t, s2, tt.opts)
			res, err := c.Exchange(context.Background(), s2.Issue("psut", janeClaims), fakeesignet.ClientID, fakeesignet.RedirectURI)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if !strings.HasPrefix(res.VerifiedBy, tt.by) {
					t.Errorf("verified by %q, want %q…", res.VerifiedBy, tt.by)
				}
				return
			}
			var ve *esignet.VerificationError
			if !errors.As(err, &ve) || ve.Reason != tt.reason || ve.Token != tt.token {
				t.Fatalf("Exchange = %v, %v; want %s %s", res, err, tt.token, tt.reason)
			}
			if strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), "psut") {
				t.Errorf("the error quotes claims: %v", err)
			}
		})
	}
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// An unknown kid refetches the JWKS (eSignet may have rotated its key),
// but at most once per minimum interval, so forged tokens cannot make the
// bridge hammer eSignet.
func TestJWKSRotationAndThrottle(t *testing.T) {
	t.Parallel()
	s := fakeesignet.New(t)
	c := newClient(t, s, func(o *esignet.Options) { o.JWKSMinRefresh = time.Second })
	if _, err := exchange(t, s, c, "p1"); err != nil {
		t.Fatal(err)
	}
	if n := s.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times for the first exchange", n)
	}
	time.Sleep(1100 * time.Millisecond) // past the minimum refetch interval
	rotated := testpki.Get(t, "esignet-rotated")
	s.Set(func(f *fakeesignet.Server) {
		f.ExtraKeys = []jose.JSONWebKey{{Key: &rotated.Key.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"}}
		f.Userinfo = func(_ string, cl map[string]any) string { return fakeesignet.Sign(rotated, "k2", false, cl) }
	})
	if _, err := exchange(t, s, c, "p2"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := s.JWKSFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times after a rotation, want 2", n)
	}
	attacker := testpki.Get(t, "attacker")
	s.Set(func(f *fakeesignet.Server) {
		f.Userinfo = func(_ string, cl map[string]any) string { return fakeesignet.Sign(attacker, "k3", false, cl) }
	})
	for range 3 {
		if _, err := exchange(t, s, c, "p3"); err == nil {
			t.Fatal("a token of an unknown key was accepted")
		}
	}
	// The rotation refetch just happened, so the forged kids refetch nothing.
	if n := s.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2: unknown kids must be throttled", n)
	}
}

func TestProviderErrors(t *testing.T) {
	t.Parallel()
	s := fakeesignet.New(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	code := s.Issue("p", janeClaims)
	if _, err := c.Exchange(ctx, code, fakeesignet.ClientID, fakeesignet.RedirectURI); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exchange(ctx, code, fakeesignet.ClientID, fakeesignet.RedirectURI)
	var pe *esignet.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" || pe.Endpoint != "token" || strings.Contains(err.Error(), code) {
		t.Errorf("code reused = %v", err)
	}
	_, err = c.Exchange(ctx, s.Issue("p", janeClaims), fakeesignet.ClientID, fakeesignet.RedirectURI+"?state=x")
	if !errors.As(err, &pe) || pe.Code != "invalid_redirect_uri" {
		t.Errorf("redirect with query = %v", err)
	}
	s.Set(func(f *fakeesignet.Server) { f.TokenError = &fakeesignet.ErrorAnswer{Status: 503, Body: "down"} })
	_, err = c.Exchange(ctx, s.Issue("p", janeClaims), fakeesignet.ClientID, fakeesignet.RedirectURI)
	var ue *esignet.UnavailableError
	if !errors.As(err, &ue) || ue.Status != 503 {
		t.Errorf("eSignet down = %v", err)
	}
	s.Set(func(f *fakeesignet.Server) {
		f.TokenError = &fakeesignet.ErrorAnswer{Status: 200, Body: `{"access_token":"access-nobody","token_type":"Bearer"}`,
			Header: http.Header{"Content-Type": {"application/json"}}}
	})
	_, err = c.Exchange(ctx, "x", fakeesignet.ClientID, fakeesignet.RedirectURI)
	if !errors.As(err, &pe) || pe.Endpoint != "userinfo" || pe.Code != "invalid_token" || pe.Status != 401 {
		t.Errorf("userinfo refused = %v", err)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c2 := newClient(t, s, func(o *esignet.Options) { o.TokenURL = gone.URL + "/oauth/v2/token" })
	if _, err := c2.Exchange(ctx, "x", fakeesignet.ClientID, fakeesignet.RedirectURI); !errors.As(err, &ue) || ue.Status != 0 {
		t.Errorf("unreachable = %v", err)
	}
}

func TestParseClientKey(t *testing.T) {
	t.Parallel()
	c := testpki.Get(t, "oidc-client")
	jwk := c.JWK("kid-1")
	tests := []struct {
		name string
		data []byte
		kid  string
		ok   bool
	}{
		{"base64 JWK, as the TypeScript mosip-api", []byte(base64.StdEncoding.EncodeToString(jwk) + "\n"), "kid-1", true},
		{"base64url JWK", []byte(base64.RawURLEncoding.EncodeToString(jwk)), "kid-1", true},
		{"JSON JWK", jwk, "kid-1", true},
		{"PEM", c.KeyPEM(), "", true},
		{"public JWK", []byte(`{"kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(c.Key.N.Bytes()) + `","e":"AQAB"}`), "", false},
		{"garbage", []byte("hello"), "", false},
		{"empty", nil, "", false},
		{"certificate only", c.CertPEM(), "", false},
	}
	for _, tt := range tests {
		k, err := esignet.ParseClientKey(tt.data)
		if tt.ok != (err == nil) {
			t.Errorf("%s: ParseClientKey = %v", tt.name, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), string(tt.data)) && len(tt.data) > 0 {
				t.Errorf("%s: the error quotes the key file", tt.name)
			}
			continue
		}
		if !k.Key.Equal(c.Key) || k.KeyID != tt.kid {
			t.Errorf("%s: key or kid %q differ", tt.name, k.KeyID)
		}
	}
}

// With eSignet's JWKS unreachable the code is not spent: the exchange
// stops before the token request, so the browser can retry with it.
func TestJWKSUnavailableKeepsTheCode(t *testing.T) {
	t.Parallel()
	s := fakeesignet.New(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c := newClient(t, s, func(o *esignet.Options) { o.JWKSURL = gone.URL + "/jwks.json" })
	code := s.Issue("p", janeClaims)
	_, err := c.Exchange(context.Background(), code, fakeesignet.ClientID, fakeesignet.RedirectURI)
	var ue *esignet.UnavailableError
	if !errors.As(err, &ue) || ue.Endpoint != "jwks" || len(s.Requests()) != 0 {
		t.Fatalf("Exchange = %v after %d token requests, want jwks unavailable and none", err, len(s.Requests()))
	}
	if _, err := newClient(t, s, nil).Exchange(context.Background(), code, fakeesignet.ClientID, fakeesignet.RedirectURI); err != nil {
		t.Errorf("the code was spent: %v", err)
	}
}
