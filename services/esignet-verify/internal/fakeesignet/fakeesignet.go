// Package fakeesignet is a small eSignet for the service's tests: a real
// HTTP server with the token endpoint (private_key_jwt checked as eSignet
// checks it), userinfo (a JWS by default, shaped per test) and the JWKS.
// The sandbox's eSignet emulator is the fuller one; this one keeps the
// service's tests inside its module and lets them forge what eSignet
// never would.
package fakeesignet

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

// Fixed values of the fake.
const (
	ClientID    = "crvs-client"
	RedirectURI = "https://register.example.org/events/declare/1/pages/mother"
	KeyID       = "esignet-key-1"
	prefix      = "/v1/esignet"
)

// Server is the fake eSignet.
type Server struct {
	*httptest.Server
	// Signing is the key in the JWKS (kid KeyID).
	Signing *testpki.Cert
	// Client is the registered client's key pair.
	Client *testpki.Cert

	mu sync.Mutex
	// Userinfo, when set, makes the userinfo body for the person with sub
	// and claims (default: the claims signed with Signing, kid KeyID).
	Userinfo func(sub string, claims map[string]any) string
	// IDToken, when set, makes the id_token (default: signed with Signing).
	IDToken func(sub string) string
	// TokenError, when set, is answered by the token endpoint.
	TokenError *ErrorAnswer
	// ExtraKeys are published in the JWKS besides Signing.
	ExtraKeys []jose.JSONWebKey
	codes     map[string]string // code → sub
	jtis      map[string]bool
	requests  []TokenRequest
	people    map[string]map[string]any
	fetches   atomic.Int64
}

// ErrorAnswer is a canned error response.
type ErrorAnswer struct {
	Status int
	Body   string
	Header http.Header
}

// TokenRequest is what the token endpoint received, with the assertion
// decoded after its signature was checked.
type TokenRequest struct {
	Form      url.Values
	Header    map[string]any
	Assertion map[string]any
	Refusal   string
}

// New starts the fake.
func New(tb testing.TB) *Server {
	s := &Server{Signing: testpki.Get(tb, "esignet"), Client: testpki.Get(tb, "oidc-client"),
		codes: map[string]string{}, jtis: map[string]bool{}, people: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+prefix+"/oauth/v2/token", s.token)
	mux.HandleFunc("GET "+prefix+"/oidc/userinfo", s.userinfo)
	mux.HandleFunc("GET "+prefix+"/oauth/.well-known/jwks.json", s.jwks)
	s.Server = httptest.NewServer(mux)
	tb.Cleanup(s.Close)
	return s
}

// Issuer is the fake's issuer (its base URL).
func (s *Server) Issuer() string { return s.URL + prefix }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.Issuer() + "/oauth/v2/token" }

// UserinfoURL is the userinfo endpoint.
func (s *Server) UserinfoURL() string { return s.Issuer() + "/oidc/userinfo" }

// JWKSFetches counts JWKS downloads.
func (s *Server) JWKSFetches() int64 { return s.fetches.Load() }

// Issue registers a login of the person with sub and userinfo claims and
// returns the authorization code.
func (s *Server) Issue(sub string, claims map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := fmt.Sprintf("code-%d-%s", len(s.codes), sub)
	s.codes[code] = sub
	c := maps.Clone(claims)
	if c == nil {
		c = map[string]any{}
	}
	c["sub"] = sub
	s.people[sub] = c
	return code
}

// Requests returns the token requests received.
func (s *Server) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Set changes the fake's behaviour under its lock.
func (s *Server) Set(f func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tr := TokenRequest{Form: r.PostForm}
	refuse := func(code, why string) {
		tr.Refusal = why
		s.mu.Lock()
		s.requests = append(s.requests, tr)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": code})
	}
	s.mu.Lock()
	canned := s.TokenError
	s.mu.Unlock()
	if canned != nil {
		for k, v := range canned.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(canned.Status)
		_, _ = w.Write([]byte(canned.Body))
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" || f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		refuse("invalid_request", "grant or assertion type")
		return
	}
	jws, err := jose.ParseSignedCompact(f.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256, jose.PS256})
	if err != nil {
		refuse("invalid_client", "assertion does not parse")
		return
	}
	payload, err := jws.Verify(&s.Client.Key.PublicKey)
	if err != nil {
		refuse("invalid_client", "assertion signature")
		return
	}
	hb, _ := base64.RawURLEncoding.DecodeString(splitFirst(f.Get("client_assertion")))
	_ = json.Unmarshal(hb, &tr.Header)
	_ = json.Unmarshal(payload, &tr.Assertion)
	a := tr.Assertion
	now := float64(time.Now().Unix())
	exp, _ := a["exp"].(float64)
	iat, _ := a["iat"].(float64)
	jti, _ := a["jti"].(string)
	switch {
	case a["iss"] != ClientID || a["sub"] != ClientID || f.Get("client_id") != ClientID:
		refuse("invalid_client", "iss/sub/client_id")
		return
	case a["aud"] != s.TokenURL() && a["aud"] != s.Issuer():
		refuse("invalid_client", "aud")
		return
	case exp < now-5 || iat == 0 || iat > now+5:
		refuse("invalid_client", "exp/iat")
		return
	case jti == "":
		refuse("invalid_client", "jti missing")
		return
	}
	s.mu.Lock()
	replay := s.jtis[jti]
	s.jtis[jti] = true
	sub, ok := s.codes[f.Get("code")]
	delete(s.codes, f.Get("code"))
	idf := s.IDToken
	s.mu.Unlock()
	switch {
	case replay:
		refuse("invalid_client", "jti replayed")
		return
	case !ok:
		refuse("invalid_grant", "code")
		return
	case f.Get("redirect_uri") != RedirectURI:
		refuse("invalid_redirect_uri", "redirect_uri")
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, tr)
	s.mu.Unlock()
	idToken := ""
	if idf != nil {
		idToken = idf(sub)
	} else {
		idToken = Sign(s.Signing, KeyID, false, map[string]any{"iss": s.Issuer(), "sub": sub, "aud": ClientID,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "access-" + sub, "token_type": "Bearer",
		"id_token": idToken, "expires_in": 3600})
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	const bearer = "Bearer access-"
	if len(auth) <= len(bearer) || auth[:len(bearer)] != bearer {
		w.Header().Set("WWW-Authenticate", `error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	sub := auth[len(bearer):]
	s.mu.Lock()
	claims, ok := s.people[sub]
	uf := s.Userinfo
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body string
	if uf != nil {
		body = uf(sub, claims)
	} else {
		body = Sign(s.Signing, KeyID, false, claims)
	}
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(body))
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	keys := append([]jose.JSONWebKey{{Key: &s.Signing.Key.PublicKey, KeyID: KeyID, Algorithm: "RS256", Use: "sig"}}, s.ExtraKeys...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
}

// Sign makes a compact JWS (RS256) of claims with c's key, naming kid and,
// with x5c, carrying the certificate.
func Sign(c *testpki.Cert, kid string, x5c bool, claims map[string]any) string {
	return SignAlg(c, jose.RS256, kid, x5c, claims)
}

// SignAlg is Sign with another algorithm.
func SignAlg(c *testpki.Cert, alg jose.SignatureAlgorithm, kid string, x5c bool, claims map[string]any) string {
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	if x5c {
		opts.WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(c.Cert.Raw)})
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: c.Key}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// Encrypt wraps a token in a compact JWE for pub (RSA-OAEP-256, A256GCM),
// as eSignet does for clients that want encrypted userinfo.
func Encrypt(pub *rsa.PublicKey, token string) string {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: pub},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		panic(err)
	}
	obj, err := enc.Encrypt([]byte(token))
	if err != nil {
		panic(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

func splitFirst(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i]
		}
	}
	return s
}
