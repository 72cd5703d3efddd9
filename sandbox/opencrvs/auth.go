// Package opencrvs emulates the OpenCRVS side the bridge talks to, faithfully
// on the wire:
//
//   - the auth service: the PEM public key at /.well-known that verifies
//     OpenCRVS JWTs, a minter for the tokens OpenCRVS core hands out (record
//     specific action-confirmation tokens in their 1.9 and 2.0 shapes, user
//     session tokens, system tokens) and POST /auth/token (client_credentials
//     for the 2.1 system-client mode, token exchange for the interim variant);
//   - the events service's tRPC API the bridge calls back: accept / reject a
//     Requested REGISTER action, accept an APPROVE_CORRECTION and event.get,
//     over tRPC v11 HTTP with the superjson transformer, batched or not, with
//     OpenCRVS's authorization rules and error envelopes.
//
// Tests and `make run` create events and Requested actions with CRVS, mint the
// record token the country config would forward to the bridge with
// Auth.RecordToken, and read back what OpenCRVS received with CRVS.Calls.
//
// Where one OpenCRVS generation differs from another the emulator accepts
// the union, so one sandbox serves a bridge configured for any of them:
// scopes in the 1.9 plain and the 2.0 "type=…" encodings; record tokens
// (1.9, 2.0) and 2.1 system-client tokens, whose scope list is not final
// (record.action.accept / record.action.reject of the draft docs, or
// record.register / record.correct of the 2.1 mosip-api code). It is stricter
// than core in one place, to catch bridge bugs: a correction accept whose
// requestId is not the pending APPROVE_CORRECTION's answers NOT_FOUND
// "Correction request not found with ID: …" (core's message for an unknown
// request). The "stack" of development-mode errors is synthetic.
package opencrvs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Auth emulates OpenCRVS's auth service keys.
type Auth struct {
	mu  sync.RWMutex
	key *rsa.PrivateKey
}

// NewAuth generates a signing key.
func NewAuth() (*Auth, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Auth{key: key}, nil
}

// Rotate replaces the signing key, as an OpenCRVS redeploy with new keys does.
// Tokens signed before the rotation stop verifying, exactly the failure a
// stored 7-day record token meets after such a redeploy.
func (a *Auth) Rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.key = key
	a.mu.Unlock()
	return nil
}

// ServeHTTP serves the public key as PEM, like GET {auth}/.well-known.
func (a *Auth) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	der, err := x509.MarshalPKIXPublicKey(a.PublicKey())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_ = pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PublicKey returns the key that currently verifies OpenCRVS tokens.
func (a *Auth) PublicKey() *rsa.PublicKey {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return &a.key.PublicKey
}

// Token mints an RS256 token with OpenCRVS's issuer and audiences, the given
// scopes and extra claims (eventId, actionId, ...), valid for ttl.
func (a *Auth) Token(sub string, scopes []string, extra map[string]any, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": Issuer, "sub": sub, "scope": scopes, "userType": "user",
		"aud": []string{"opencrvs:gateway-user", "opencrvs:events-user", "opencrvs:countryconfig-user"},
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	return a.sign(claims)
}

// sign signs claims with the current key. The header is exactly
// {"alg":"RS256","typ":"JWT"} with no kid, as jsonwebtoken writes it.
func (a *Auth) sign(claims jwt.Claims) (string, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// ErrTokenInvalid wraps every reason Verify refuses a token.
var ErrTokenInvalid = errors.New("opencrvs: invalid token")

// Verify checks a token the way OpenCRVS's events service does before it
// trusts a caller: RS256 only, signed by the current key, issuer
// opencrvs:auth-service, an audience of opencrvs:gateway-user or
// opencrvs:events-user, not expired at now. It returns the claims.
func (a *Auth) Verify(token string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	key := a.PublicKey()
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience("opencrvs:gateway-user", "opencrvs:events-user"),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, errors.Join(ErrTokenInvalid, err)
	}
	return claims, nil
}
