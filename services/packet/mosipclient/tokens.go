package mosipclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
)

// TokenSource supplies MOSIP auth-manager tokens. The packet service gets
// them from the auth-token service (AuthTokenSource), which caches one
// token per MOSIP client for every replica.
type TokenSource interface {
	// Token returns a token to send as the Authorization cookie.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that MOSIP rejected token, so that the next Token
	// call returns a fresh one.
	Invalidate(ctx context.Context, token string) error
}

// PacketClientName is the auth-token client name of the packet service's
// MOSIP client (MOSIP_PACKET_AUTH_*).
const PacketClientName = "packet"

// tokenReuse bounds how long AuthTokenSource reuses a token without asking
// auth-token again, and tokenReuseMargin how close to its expiry it stops.
const (
	tokenReuse       = 30 * time.Second
	tokenReuseMargin = time.Minute
)

// AuthTokenSource is a TokenSource backed by the auth-token gRPC service.
// It reuses a token for up to 30 s (never within a minute of its expiry,
// and only when auth-token says when it expires), so that a registration's
// two MOSIP calls do not each cost a round trip to auth-token; a token
// MOSIP rejects is dropped here too by Invalidate.
type AuthTokenSource struct {
	// Client is the auth-token service client.
	Client authtokenv1.AuthTokenServiceClient
	// Name is the configured MOSIP client; empty means PacketClientName.
	Name string

	mu     sync.Mutex
	cached string
	until  time.Time
}

// NewAuthTokenSource returns a TokenSource for the "packet" client.
func NewAuthTokenSource(c authtokenv1.AuthTokenServiceClient) *AuthTokenSource {
	return &AuthTokenSource{Client: c, Name: PacketClientName}
}

func (s *AuthTokenSource) name() string {
	if s.Name == "" {
		return PacketClientName
	}
	return s.Name
}

// Token returns the token reused from an earlier call, or calls GetToken.
func (s *AuthTokenSource) Token(ctx context.Context) (string, error) {
	now := time.Now()
	s.mu.Lock()
	tok, until := s.cached, s.until
	s.mu.Unlock()
	if tok != "" && now.Before(until) {
		return tok, nil
	}
	resp, err := s.Client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: s.name()})
	if err != nil {
		return "", fmt.Errorf("auth-token GetToken(%s): %w", s.name(), err)
	}
	if resp.GetToken() == "" {
		return "", fmt.Errorf("auth-token GetToken(%s): empty token", s.name())
	}
	if exp := resp.GetExpiresAt(); exp != nil {
		until := now.Add(tokenReuse)
		if last := exp.AsTime().Add(-tokenReuseMargin); last.Before(until) {
			until = last
		}
		if now.Before(until) {
			s.mu.Lock()
			s.cached, s.until = resp.GetToken(), until
			s.mu.Unlock()
		}
	}
	return resp.GetToken(), nil
}

// Invalidate stops reusing token and calls InvalidateToken. The service
// only drops the token if it is still the cached one, so concurrent
// callers that saw the same 401 do not each force a refresh.
func (s *AuthTokenSource) Invalidate(ctx context.Context, token string) error {
	s.mu.Lock()
	if s.cached == token {
		s.cached, s.until = "", time.Time{}
	}
	s.mu.Unlock()
	if _, err := s.Client.InvalidateToken(ctx, &authtokenv1.InvalidateTokenRequest{Client: s.name(), Token: token}); err != nil {
		return fmt.Errorf("auth-token InvalidateToken(%s): %w", s.name(), err)
	}
	return nil
}

// TokenError is a failure to get or invalidate a token. It never holds the
// token itself.
type TokenError struct {
	// Op is "get" or "invalidate".
	Op string
	// Err is the token source's error.
	Err error
}

// Error describes the failure.
func (e *TokenError) Error() string {
	return fmt.Sprintf("MOSIP token (%s): %v", e.Op, e.Err)
}

// Unwrap exposes the cause (a gRPC status error from auth-token).
func (e *TokenError) Unwrap() error { return e.Err }

// permanentCodes are auth-token answers that need an operator: a client
// that is not configured, credentials MOSIP refused (FailedPrecondition).
var permanentCodes = map[codes.Code]bool{
	codes.InvalidArgument: true, codes.NotFound: true, codes.AlreadyExists: true,
	codes.PermissionDenied: true, codes.FailedPrecondition: true, codes.OutOfRange: true,
	codes.Unimplemented: true, codes.Unauthenticated: true,
}

// Temporary reports whether getting a token may work later: auth-token or
// MOSIP unavailable, timeouts, anything but a configuration error.
func (e *TokenError) Temporary() bool {
	if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	return !permanentCodes[status.Code(e.Err)]
}
