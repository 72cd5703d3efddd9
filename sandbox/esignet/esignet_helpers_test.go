package esignet_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/sandbox/esignet"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// Keys are generated once: RSA generation dominates test time otherwise.
var esKeys struct {
	once                          sync.Once
	clientA, clientB, enc, signer *rsa.PrivateKey
	other                         *rsa.PrivateKey
	ca                            *pki.CA
	uiSigner                      *pki.Cert
}

func esLoadKeys(t *testing.T) {
	t.Helper()
	esKeys.once.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		esKeys.clientA, esKeys.clientB, esKeys.enc, esKeys.signer, esKeys.other = gen(), gen(), gen(), gen(), gen()
		ca, err := pki.NewCA("sandbox test CA")
		if err != nil {
			panic(err)
		}
		esKeys.ca = ca
		if esKeys.uiSigner, err = ca.Issue("ida-kyc-exchange"); err != nil {
			panic(err)
		}
	})
}

// Test clients: a and a2 belong to one partner, b to another, jwe wants
// encrypted userinfo.
const (
	esRedirect   = "https://register.example/callback"
	esRedirectRe = "https://register.example/events/**"
	esJenny      = "1234567891" // Jenny Debra Doe, VID 8000567892
	esJennyVID   = "8000567892"
	esFarajaland = `{"userinfo":{"name":{"essential":true},"birthdate":{"essential":true},"address":{"essential":true}},"id_token":{}}`
)

// esClock is a settable clock.
type esClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *esClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *esClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type esEnv struct {
	srv    *httptest.Server
	es     *esignet.Server
	reg    *mosip.Registry
	clock  *esClock
	base   string // issuer
	client *http.Client
}

func esSetup(t *testing.T, mutate func(*esignet.Options)) *esEnv {
	t.Helper()
	esLoadKeys(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clock := &esClock{t: time.Now()}
	reg := mosip.NewRegistry(mosip.DefaultIdentities())
	o := esignet.Options{
		Registry:   reg,
		Issuer:     srv.URL + "/esignet",
		SigningKey: esKeys.signer,
		Now:        clock.Now,
		Clients: []esignet.Client{
			{ClientID: "client-a", RelyingPartyID: "partner-a", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{esRedirect, esRedirectRe}},
			{ClientID: "client-a2", RelyingPartyID: "partner-a", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{esRedirect}},
			{ClientID: "client-b", RelyingPartyID: "partner-b", PublicJWK: &esKeys.clientB.PublicKey, RedirectURIs: []string{esRedirect}},
			{ClientID: "client-jwe", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{esRedirect},
				UserinfoJWE: true, ClientEncryptionKey: &esKeys.enc.PublicKey},
			{ClientID: "client-narrow", PublicJWK: &esKeys.clientA.PublicKey, RedirectURIs: []string{esRedirect},
				Claims: []string{"name", "birthdate"}},
		},
	}
	if mutate != nil {
		mutate(&o)
	}
	es, err := esignet.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	es.Register(mux)
	return &esEnv{srv: srv, es: es, reg: reg, clock: clock, base: srv.URL + "/esignet",
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func esKeyOf(clientID string) *rsa.PrivateKey {
	if clientID == "client-b" {
		return esKeys.clientB
	}
	return esKeys.clientA
}

// esAssertion builds a client assertion the way a relying party should.
func (e *esEnv) assertion(clientID, aud string, mutate func(jwt.MapClaims)) string {
	now := e.clock.Now()
	c := jwt.MapClaims{"iss": clientID, "sub": clientID, "aud": aud, "iat": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(), "jti": esJTI()}
	if mutate != nil {
		mutate(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(esKeyOf(clientID))
	if err != nil {
		panic(err)
	}
	return s
}

func esJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (e *esEnv) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *esEnv) get(t *testing.T, path string, q url.Values) (*http.Response, string) {
	t.Helper()
	u := e.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return e.do(t, req)
}

func (e *esEnv) postForm(t *testing.T, path string, f url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req)
}

// authQuery is an authorization request as OpenCRVS (Farajaland) sends it.
func esAuthQuery(clientID, redirect, state, nonce string) url.Values {
	return url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid profile"}, "state": {state}, "nonce": {nonce},
		"acr_values": {"mosip:idp:acr:generated-code"}, "claims": {esFarajaland}, "ui_locales": {"en"}}
}

var esTxnRe = regexp.MustCompile(`name="transaction_id" value="([^"]+)"`)

// login drives the authorize page: GET it, pick individualID, POST. It
// returns the redirect's query.
func (e *esEnv) login(t *testing.T, q url.Values, individualID string) url.Values {
	t.Helper()
	resp, body := e.get(t, "/authorize", q)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorize = %d: %s", resp.StatusCode, body)
	}
	m := esTxnRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("authorize page has no transaction_id:\n%s", body)
	}
	resp, body = e.postForm(t, "/authorize", url.Values{"transaction_id": {m[1]}, "individual_id": {individualID}, "action": {"login"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /authorize = %d, want 302: %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	redirect := q.Get("redirect_uri")
	if !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("redirected to %q, want %s?…", loc, redirect)
	}
	got, err := url.ParseQuery(strings.TrimPrefix(loc, redirect+"?"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *esEnv) code(t *testing.T, clientID, individualID string) string {
	t.Helper()
	c, err := e.es.IssueCode(clientID, esRedirect, individualID, "st", "n-0S6_WzA2Mj")
	if err != nil {
		t.Fatalf("IssueCode: %v", err)
	}
	return c
}

func (e *esEnv) tokenForm(clientID, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {clientID},
		"redirect_uri": {esRedirect}, "client_assertion_type": {esignet.ClientAssertionType},
		"client_assertion": {e.assertion(clientID, e.base+"/oauth/v2/token", nil)}}
}

// token posts to a token endpoint and decodes the JSON answer.
func (e *esEnv) token(t *testing.T, path string, f url.Values) (int, map[string]any) {
	t.Helper()
	resp, body := e.postForm(t, path, f)
	out := map[string]any{}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("POST %s = %d, body not JSON: %q", path, resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

// exchange gets tokens for a code, failing the test otherwise.
func (e *esEnv) exchange(t *testing.T, clientID, code string) (access, idToken string) {
	t.Helper()
	st, out := e.token(t, "/oauth/v2/token", e.tokenForm(clientID, code))
	if st != http.StatusOK {
		t.Fatalf("token = %d %v", st, out)
	}
	return out["access_token"].(string), out["id_token"].(string)
}

func (e *esEnv) userinfo(t *testing.T, authz string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/oidc/userinfo", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return e.do(t, req)
}

// claimsFor runs code → token → userinfo and returns the verified claims.
func (e *esEnv) claimsFor(t *testing.T, clientID, code string) map[string]any {
	t.Helper()
	access, _ := e.exchange(t, clientID, code)
	resp, body := e.userinfo(t, "Bearer "+access)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo = %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	keys := esFetchJWKS(t, e)
	_, claims := esVerifyJWS(t, body, keys)
	return claims
}

// esFetchJWKS reads the JWKS over HTTP and builds the keys with math/big.
func esFetchJWKS(t *testing.T, e *esEnv) map[string]*rsa.PublicKey {
	t.Helper()
	resp, body := e.get(t, "/.well-known/jwks.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks = %d", resp.StatusCode)
	}
	var set struct {
		Keys []struct{ Kid, Kty, N, E string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		ex, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || k.Kty != "RSA" {
			t.Fatalf("bad JWK %+v", k)
		}
		out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(ex).Int64())}
	}
	return out
}

func esB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// esSplitJWS checks a compact RS256 JWS against pub with crypto/rsa and
// returns its header and claims; ok is false when the signature is wrong.
func esCheckJWS(t *testing.T, token string, pub *rsa.PublicKey) (header, claims map[string]any, ok bool) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS (%d parts): %.80s", len(parts), token)
	}
	if err := json.Unmarshal(esB64(t, parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(esB64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "RS256" {
		t.Fatalf("alg = %v", header["alg"])
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], esB64(t, parts[2])) == nil
	return header, claims, ok
}

// esVerifyJWS verifies against the JWKS key named by kid.
func esVerifyJWS(t *testing.T, token string, keys map[string]*rsa.PublicKey) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	var h map[string]any
	if len(parts) != 3 || json.Unmarshal(esB64(t, parts[0]), &h) != nil {
		t.Fatalf("not a JWS: %.80s", token)
	}
	kid, _ := h["kid"].(string)
	pub, ok := keys[kid]
	if !ok {
		t.Fatalf("kid %q not in JWKS", kid)
	}
	header, claims, ok := esCheckJWS(t, token, pub)
	if !ok {
		t.Fatalf("signature does not verify with JWKS key %s", kid)
	}
	return header, claims
}

// esDecryptJWE opens a compact RSA-OAEP-256 / A256GCM JWE with the
// standard library alone.
func esDecryptJWE(t *testing.T, token string, priv *rsa.PrivateKey) (map[string]any, []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		t.Fatalf("not a compact JWE (%d parts)", len(parts))
	}
	var h map[string]any
	if err := json.Unmarshal(esB64(t, parts[0]), &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "RSA-OAEP-256" || h["enc"] != "A256GCM" {
		t.Fatalf("JWE header = %v", h)
	}
	cek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, esB64(t, parts[1]), nil)
	if err != nil {
		t.Fatalf("unwrap CEK: %v", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	sealed := append(esB64(t, parts[3]), esB64(t, parts[4])...)
	plain, err := gcm.Open(nil, esB64(t, parts[2]), sealed, []byte(parts[0]))
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	return h, plain
}

// esX5C parses the first certificate of a JWS header's x5c.
func esX5C(t *testing.T, header map[string]any) *x509.Certificate {
	t.Helper()
	list, _ := header["x5c"].([]any)
	if len(list) == 0 {
		t.Fatalf("no x5c in header %v", header)
	}
	der, err := base64.StdEncoding.DecodeString(list[0].(string))
	if err != nil {
		t.Fatalf("x5c is not standard base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
