package gateway

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// keyFetchTimeout bounds one fetch of the public key. The fetch is shared
	// by every request waiting for it, so it must not hang on one of them.
	keyFetchTimeout = 5 * time.Second
	// keyRetryBackoff spaces fetch attempts while no key has ever been
	// loaded, so an unreachable key server costs one attempt per backoff
	// rather than one per request.
	keyRetryBackoff = 2 * time.Second
	// maxKeyBytes caps the key server's answer; a PEM key or certificate is
	// a few KiB.
	maxKeyBytes = 1 << 20
	// minRSABits rejects keys too weak to trust for signatures.
	minRSABits = 2048
)

// errNoKey means no public key is available to verify with.
var errNoKey = errors.New("OpenCRVS public key unavailable")

// keySet is the set of RSA public keys parsed from one answer of the key
// server. It is immutable; a newer answer replaces the pointer.
type keySet struct {
	keys []*rsa.PublicKey
	// set is keys as the JWT library takes them.
	set jwt.VerificationKeySet
	// fingerprint identifies the set in logs and tells a rotated key from a
	// refetched copy of the same one.
	fingerprint string
}

// keyStore fetches the OpenCRVS public key lazily and refetches it, at most
// once per interval, when a signature does not verify: OpenCRVS rotates the
// key by restarting its auth service with a new one, and tokens signed with
// it must start working without restarting the gateway.
type keyStore struct {
	url      string
	client   *http.Client
	interval time.Duration
	backoff  time.Duration
	logger   *slog.Logger
	now      func() time.Time
	// base outlives any single request: a fetch started on behalf of one
	// request is shared with others and must not die with it.
	base context.Context

	mu          sync.Mutex
	keys        *keySet
	lastRefetch time.Time
	lastFailure time.Time
	inflight    *keyFetch
}

// keyFetch is one fetch in flight, shared by everyone who needs its result.
type keyFetch struct {
	done chan struct{}
	keys *keySet
	err  error
}

func newKeyStore(base context.Context, url string, client *http.Client, interval time.Duration, logger *slog.Logger) *keyStore {
	return &keyStore{
		url:      url,
		client:   client,
		interval: interval,
		backoff:  min(keyRetryBackoff, interval),
		logger:   logger,
		now:      time.Now,
		base:     base,
	}
}

// current returns the loaded keys, fetching them first if none are loaded.
func (s *keyStore) current(ctx context.Context) (*keySet, error) {
	s.mu.Lock()
	if s.keys != nil {
		k := s.keys
		s.mu.Unlock()
		return k, nil
	}
	f := s.inflight
	if f == nil {
		if !s.lastFailure.IsZero() && s.now().Sub(s.lastFailure) < s.backoff {
			s.mu.Unlock()
			return nil, errNoKey
		}
		f = s.startLocked(ctx)
	}
	s.mu.Unlock()
	return f.wait(ctx)
}

// refresh is called after a signature did not verify with stale. It
// returns a different key set to retry with, or nil when there is none: the
// keys have not changed, the key server failed, or a refetch already
// happened within the interval.
func (s *keyStore) refresh(ctx context.Context, stale *keySet) *keySet {
	s.mu.Lock()
	if s.keys != nil && s.keys != stale {
		// Someone else's refetch already brought a new key.
		k := s.keys
		s.mu.Unlock()
		return k
	}
	f := s.inflight
	if f == nil {
		if !s.lastRefetch.IsZero() && s.now().Sub(s.lastRefetch) < s.interval {
			s.mu.Unlock()
			return nil
		}
		s.lastRefetch = s.now()
		f = s.startLocked(ctx)
	}
	s.mu.Unlock()
	k, err := f.wait(ctx)
	if err != nil || k == stale {
		return nil
	}
	return k
}

// startLocked starts a fetch; s.mu must be held.
func (s *keyStore) startLocked(ctx context.Context) *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	s.inflight = f
	// Keep the trace of the request that caused the fetch, not its deadline.
	fctx := context.WithoutCancel(ctx)
	go func() {
		fctx, cancel := context.WithTimeout(fctx, keyFetchTimeout)
		defer cancel()
		stop := context.AfterFunc(s.base, cancel)
		defer stop()
		keys, err := s.fetch(fctx)

		s.mu.Lock()
		if err != nil {
			s.lastFailure = s.now()
			s.logger.ErrorContext(fctx, "fetching the OpenCRVS public key failed",
				slog.String("url", s.url), slog.String("error", err.Error()))
		} else if s.keys != nil && s.keys.fingerprint == keys.fingerprint {
			// Same key: keep the old pointer so callers can tell nothing changed.
			keys = s.keys
		} else {
			s.logger.InfoContext(fctx, "OpenCRVS public key loaded",
				slog.String("url", s.url), slog.String("fingerprint", keys.fingerprint), slog.Int("keys", len(keys.keys)))
			s.keys = keys
		}
		f.keys, f.err = keys, err
		s.inflight = nil
		s.mu.Unlock()
		close(f.done)
	}()
	return f
}

func (f *keyFetch) wait(ctx context.Context) (*keySet, error) {
	select {
	case <-f.done:
		if f.err != nil {
			return nil, errNoKey
		}
		return f.keys, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *keyStore) fetch(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key server answered %s", resp.Status)
	}
	if len(body) > maxKeyBytes {
		return nil, fmt.Errorf("key server answered more than %d bytes", maxKeyBytes)
	}
	return parsePublicKeys(body)
}

// parsePublicKeys reads every RSA public key in a PEM document: PKIX
// "PUBLIC KEY", PKCS #1 "RSA PUBLIC KEY" and the keys of "CERTIFICATE"
// blocks. OpenCRVS serves a bare PKIX key; accepting the other forms and
// several blocks lets an operator publish a certificate or old and new keys
// side by side during a rotation.
func parsePublicKeys(data []byte) (*keySet, error) {
	var (
		ks  keySet
		h   = sha256.New()
		bad []error
	)
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("%s block: %v", block.Type, err))
			continue
		}
		rsaKey, ok := pub.(*rsa.PublicKey)
		if !ok {
			bad = append(bad, fmt.Errorf("%s block holds a %T, not an RSA key", block.Type, pub))
			continue
		}
		if rsaKey.N.BitLen() < minRSABits {
			bad = append(bad, fmt.Errorf("%s block holds a %d-bit RSA key, at least %d bits are required", block.Type, rsaKey.N.BitLen(), minRSABits))
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(rsaKey)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s block: %v", block.Type, err))
			continue
		}
		h.Write(der)
		ks.keys = append(ks.keys, rsaKey)
		ks.set.Keys = append(ks.set.Keys, rsaKey)
	}
	if len(ks.keys) == 0 {
		if len(bad) > 0 {
			return nil, fmt.Errorf("no usable RSA public key in the PEM answer: %s", errors.Join(bad...))
		}
		return nil, errors.New("no PEM-encoded RSA public key in the answer")
	}
	ks.fingerprint = "sha256:" + hex.EncodeToString(h.Sum(nil)[:8])
	return &ks, nil
}
