// Package opencrvs emulates the OpenCRVS side the bridge talks to. This first
// part is OpenCRVS's auth service: the PEM public key at /.well-known that
// verifies OpenCRVS JWTs, and a minter for RS256 tokens shaped like the ones
// OpenCRVS core hands to the country configuration.
package opencrvs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
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
	a.mu.RLock()
	der, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	a.mu.RUnlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_ = pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Token mints an RS256 token with OpenCRVS's issuer and audiences, the given
// scopes and extra claims (eventId, actionId, ...), valid for ttl.
func (a *Auth) Token(sub string, scopes []string, extra map[string]any, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": "opencrvs:auth-service", "sub": sub, "scope": scopes, "userType": "user",
		"aud": []string{"opencrvs:gateway-user", "opencrvs:events-user", "opencrvs:countryconfig-user"},
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}
