package notification

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
)

// hubTokenMargin is how long before it expires a token is fetched anew.
const hubTokenMargin = 30 * time.Second

// hubTokenMaxAge bounds how long a token is reused without asking
// auth-token, whatever its expiry.
const hubTokenMaxAge = 5 * time.Minute

// tokenClient is the part of auth-token the hub token needs.
type tokenClient interface {
	GetToken(ctx context.Context, in *authtokenv1.GetTokenRequest, opts ...grpc.CallOption) (*authtokenv1.GetTokenResponse, error)
	InvalidateToken(ctx context.Context, in *authtokenv1.InvalidateTokenRequest, opts ...grpc.CallOption) (*authtokenv1.InvalidateTokenResponse, error)
}

// hubToken is the websub client's token from auth-token, kept until shortly
// before it expires: a status is published for every credential, and each
// would otherwise ask auth-token first. A token the hub refused is dropped
// here and in auth-token.
type hubToken struct {
	client tokenClient
	now    func() time.Time

	mu    sync.Mutex
	token string
	until time.Time
}

// Get returns the cached token or fetches one; callers arriving while it
// is fetched wait for that one fetch.
func (h *hubToken) Get(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if h.token != "" && now.Before(h.until) {
		return h.token, nil
	}
	r, err := h.client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: WebSubClientName})
	if err != nil {
		return "", fmt.Errorf("auth-token: %w", err)
	}
	h.token, h.until = r.GetToken(), now
	if exp := r.GetExpiresAt(); exp != nil {
		h.until = now.Add(hubTokenMaxAge)
		if soon := exp.AsTime().Add(-hubTokenMargin); soon.Before(h.until) {
			h.until = soon
		}
	}
	return h.token, nil
}

// Invalidate drops the token the hub refused, here and in auth-token
// (which compares and deletes, so concurrent refusals force one refresh).
func (h *hubToken) Invalidate(ctx context.Context) {
	h.mu.Lock()
	t := h.token
	h.token = ""
	h.mu.Unlock()
	if t != "" {
		_, _ = h.client.InvalidateToken(ctx, &authtokenv1.InvalidateTokenRequest{Client: WebSubClientName, Token: t})
	}
}
