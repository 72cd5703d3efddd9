package esignet

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
)

// maxJWKSBytes bounds a JWKS document; eSignet's holds a handful of keys.
const maxJWKSBytes = 1 << 20

// verifyKey is a key a signature may be checked with.
type verifyKey struct {
	pub *rsa.PublicKey
	// alg, when the JWKS pins one, is the only algorithm the key may sign with.
	alg string
	// id names the key in results and logs: "jwks:<kid>" or
	// "certificate:<sha256 of the DER>".
	id string
	// named is true when the token's kid or x5c selected this key, so a
	// failure means a bad signature rather than an unknown key.
	named bool
}

type jwksKey struct {
	kid, alg string
	pub      *rsa.PublicKey
}

// keySource finds the keys that may have signed a token: pinned
// certificates (IDA's KYC signing certificate, in IDA-backed deployments)
// and eSignet's JWKS, cached and refetched when a token names a key id the
// cache lacks, at most once per minRefresh so forged tokens cannot make the
// service hammer eSignet.
type keySource struct {
	jwksURL    string
	client     *http.Client
	pinned     []*x509.Certificate
	minRefresh time.Duration
	ttl        time.Duration
	now        func() time.Time
	log        *slog.Logger

	fetchMu sync.Mutex // one fetch at a time

	mu          sync.Mutex
	keys        []jwksKey
	fetchedAt   time.Time // last successful fetch
	attemptedAt time.Time // last fetch attempt
	fetches     int64
}

// jwsHeader is what key selection reads from a protected header.
type jwsHeader struct {
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	X5C []string `json:"x5c"`
	Typ string   `json:"typ"`
	Cty string   `json:"cty"`
	Enc string   `json:"enc"`
}

// candidates returns the keys to try for a token with header h, the named
// ones (selected by x5c or kid) first.
func (s *keySource) candidates(ctx context.Context, h jwsHeader) ([]verifyKey, error) {
	var out []verifyKey
	if len(s.pinned) > 0 {
		var leaf []byte
		if len(h.X5C) > 0 {
			leaf, _ = mosipcrypto.DecodeBase64(h.X5C[0])
		}
		for _, c := range s.pinned {
			pub, ok := c.PublicKey.(*rsa.PublicKey)
			if !ok {
				continue
			}
			named := leaf != nil && string(leaf) == string(c.Raw)
			k := verifyKey{pub: pub, id: "certificate:" + certSum(c), named: named}
			if named {
				return []verifyKey{k}, nil
			}
			out = append(out, k)
		}
	}
	if s.jwksURL == "" {
		return out, nil
	}
	keys, err := s.current(ctx)
	if err != nil {
		if len(out) > 0 {
			// The pinned certificates may still verify it.
			s.log.WarnContext(ctx, "eSignet JWKS unavailable; trying the pinned certificates only", slog.String("error", err.Error()))
			return out, nil
		}
		return nil, err
	}
	if h.Kid != "" {
		matched := match(keys, h.Kid)
		if len(matched) == 0 {
			// An unknown kid may be a key eSignet rotated in since the
			// last fetch.
			if fresh, ok := s.refresh(ctx); ok {
				matched = match(fresh, h.Kid)
			}
		}
		return append(matched, out...), nil
	}
	for _, k := range keys {
		out = append(out, verifyKey{pub: k.pub, alg: k.alg, id: "jwks:" + k.kid})
	}
	return out, nil
}

func match(keys []jwksKey, kid string) []verifyKey {
	var out []verifyKey
	for _, k := range keys {
		if k.kid == kid {
			out = append(out, verifyKey{pub: k.pub, alg: k.alg, id: "jwks:" + k.kid, named: true})
		}
	}
	return out
}

// current returns the cached keys, fetching them when there are none yet
// or the cache is older than ttl.
func (s *keySource) current(ctx context.Context) ([]jwksKey, error) {
	s.mu.Lock()
	keys, fetched := s.keys, s.fetchedAt
	s.mu.Unlock()
	if !fetched.IsZero() && s.now().Sub(fetched) < s.ttl {
		return keys, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	s.mu.Lock()
	keys, fetched2 := s.keys, s.fetchedAt
	s.mu.Unlock()
	if fetched2.After(fetched) && s.now().Sub(fetched2) < s.ttl {
		return keys, nil // another caller fetched while we waited
	}
	fresh, err := s.fetch(ctx)
	if err != nil {
		if len(keys) > 0 {
			s.log.WarnContext(ctx, "refreshing eSignet JWKS failed; keeping the cached keys", slog.String("error", err.Error()))
			return keys, nil
		}
		return nil, err
	}
	return fresh, nil
}

// refresh refetches the JWKS unless a fetch was attempted within
// minRefresh; it reports whether fresh keys were obtained.
func (s *keySource) refresh(ctx context.Context) ([]jwksKey, bool) {
	s.mu.Lock()
	before := s.attemptedAt
	s.mu.Unlock()
	if s.now().Sub(before) < s.minRefresh {
		return nil, false
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	s.mu.Lock()
	attempted, keys := s.attemptedAt, s.keys
	s.mu.Unlock()
	if attempted.After(before) {
		// Another caller refetched while we waited: use its result.
		return keys, true
	}
	fresh, err := s.fetch(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "refetching eSignet JWKS for an unknown key id failed", slog.String("error", err.Error()))
		return nil, false
	}
	return fresh, true
}

// fetch downloads and parses the JWKS; the caller holds fetchMu.
func (s *keySource) fetch(ctx context.Context) ([]jwksKey, error) {
	s.mu.Lock()
	s.attemptedAt = s.now()
	s.fetches++
	s.mu.Unlock()
	keys, err := s.download(ctx)
	if err != nil {
		return nil, &UnavailableError{Endpoint: "jwks", Err: err}
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = keys, s.now()
	s.mu.Unlock()
	s.log.DebugContext(ctx, "eSignet JWKS fetched", slog.Int("keys", len(keys)))
	return keys, nil
}

func (s *keySource) download(ctx context.Context) ([]jwksKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("JWKS larger than 1 MiB")
	}
	return parseJWKS(body)
}

// parseJWKS keeps the RSA signature keys of a JWKS; keys of other types
// or for encryption are skipped rather than failing the whole set.
func parseJWKS(body []byte) ([]jwksKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("JWKS is not a JSON object with keys")
	}
	var out []jwksKey
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.Use == "enc" {
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok {
			continue
		}
		out = append(out, jwksKey{kid: k.KeyID, alg: k.Algorithm, pub: pub})
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS holds no RSA signature key")
	}
	return out, nil
}

func certSum(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
