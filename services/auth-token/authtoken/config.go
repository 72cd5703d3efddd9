package authtoken

import (
	"maps"
	"slices"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/tokencache"
)

// Config is the auth-token service's configuration, loaded with config.Load.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9101" validate:"addr"`
	// RedisURL is the token cache shared by every replica
	// (redis://[:password@]host:port/db or rediss://). Empty keeps the cache
	// in process memory, which is right for a single replica.
	RedisURL string `env:"REDIS_URL"`
	// CacheKey encrypts the tokens kept in Redis (AES-256-GCM; 32 bytes in
	// base64, e.g. `openssl rand -base64 32`), the same on every replica.
	// Empty stores them in the clear, with a warning at start. Changing it
	// costs one token fetch per client.
	CacheKey config.Secret `env:"AUTH_TOKEN_CACHE_KEY"`
	// RedisKeyPrefix namespaces the keys, which are
	// <prefix><PARTNER_PROFILE>:<client> and the same with ":lock".
	RedisKeyPrefix string `env:"AUTH_TOKEN_REDIS_KEY_PREFIX" default:"mosipcrvs:authtoken:"`
	// RefreshFraction of a token's lifetime after which it is refreshed in
	// the background while still being served.
	RefreshFraction float64 `env:"AUTH_TOKEN_REFRESH_FRACTION" default:"0.5"`
	// ExpirySkew is how long before its expiry a token stops being handed
	// out (clamped to a quarter of the lifetime for short-lived tokens).
	ExpirySkew time.Duration `env:"AUTH_TOKEN_EXPIRY_SKEW" default:"30s"`
	// MinForcedRefreshInterval rate-limits InvalidateToken per client, so an
	// upstream that rejects every token cannot turn into an auth manager flood.
	MinForcedRefreshInterval time.Duration `env:"AUTH_TOKEN_MIN_FORCED_REFRESH_INTERVAL" default:"10s"`
	// WarmUp fetches every client's token at start-up instead of at the
	// first GetToken.
	WarmUp bool `env:"AUTH_TOKEN_WARM_UP" default:"true"`
	// Profile holds the MOSIP auth manager URL and client credentials.
	Profile config.PartnerProfile
	// Logging selects the log format and level.
	Logging config.Logging
	// TLS configures the gRPC server's transport.
	TLS config.GRPCTLS
}

// Validate checks what the auth-token service needs from the partner
// profile and its own settings, reporting every problem at once with the
// variable to set. It tolerates fields the loader left unset, so it can
// also check a Config built in code.
func (c *Config) Validate() error {
	var p config.Problems
	m := c.Profile.MOSIP
	p.Require("MOSIP_AUTH_URL", m.AuthURL != nil)
	clients := m.Clients()
	for _, name := range slices.Sorted(maps.Keys(clients)) {
		cl, prefix := clients[name], config.ClientEnvPrefix[name]
		p.Require(prefix+"CLIENT_ID", cl.ClientID != "")
		p.Require(prefix+"CLIENT_SECRET", cl.Secret != "")
		if cl.AppID == "" {
			p.Addf("%sCLIENT_APP_ID or MOSIP_AUTH_CLIENT_APP_ID is required", prefix)
		}
	}
	if m.TokenDefaultTTL <= 0 {
		p.Addf("MOSIP_TOKEN_DEFAULT_TTL must be positive, got %s", m.TokenDefaultTTL)
	}
	if m.RequestTimeout <= 0 {
		p.Addf("MOSIP_REQUEST_TIMEOUT must be positive, got %s", m.RequestTimeout)
	}
	if c.RedisURL != "" {
		if err := tokencache.RedisURLProblem(c.RedisURL); err != nil {
			p = append(p, err)
		}
	}
	if c.CacheKey != "" {
		if _, err := tokencache.ParseSealKey(c.CacheKey.Value()); err != nil {
			p.Addf("AUTH_TOKEN_CACHE_KEY: %v", err)
		}
	}
	if c.RefreshFraction <= 0 || c.RefreshFraction >= 1 {
		p.Addf("AUTH_TOKEN_REFRESH_FRACTION must be between 0 and 1 (exclusive), got %g", c.RefreshFraction)
	}
	if c.ExpirySkew < 0 {
		p.Addf("AUTH_TOKEN_EXPIRY_SKEW must not be negative, got %s", c.ExpirySkew)
	}
	return p.Err()
}
