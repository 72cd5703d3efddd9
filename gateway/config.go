package gateway

import (
	"net"
	"strconv"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// Config is the gateway's environment. HOST and PORT keep the names and
// defaults of the TypeScript mosip-api so existing deployments (and the
// country config's MOSIP_INTEROP_URL=http://mosip-api:2024) keep working.
type Config struct {
	// Host is the address to listen on.
	Host string `env:"HOST" default:"0.0.0.0"`
	// Port is the TCP port to listen on.
	Port int `env:"PORT" default:"2024"`
	// CRVS holds CLIENT_APP_URL (the only CORS origin allowed),
	// OPENCRVS_PUBLIC_KEY_URL (the PEM key that signs OpenCRVS JWTs) and
	// OPENCRVS_GATEWAY_URL. The first two are required here.
	CRVS config.CRVS

	// AuthTokenAddr is the gRPC target of the auth-token service.
	AuthTokenAddr string `env:"AUTH_TOKEN_ADDR" default:"127.0.0.1:9101"`
	// PacketAddr is the gRPC target of the packet service.
	PacketAddr string `env:"PACKET_ADDR" default:"127.0.0.1:9102"`
	// EsignetVerifyAddr is the gRPC target of the esignet-verify service.
	EsignetVerifyAddr string `env:"ESIGNET_VERIFY_ADDR" default:"127.0.0.1:9103"`
	// NotificationAddr is the gRPC target of the notification service.
	NotificationAddr string `env:"NOTIFICATION_ADDR" default:"127.0.0.1:9104"`

	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64 `env:"GATEWAY_MAX_BODY_BYTES" default:"4194304"`
	// RequestTimeout is the default deadline of a request, propagated to the
	// gRPC calls it makes. It stays under the 15 s after which the OpenCRVS
	// country config gives up, so OpenCRVS sees our error rather than its
	// own timeout.
	RequestTimeout time.Duration `env:"GATEWAY_REQUEST_TIMEOUT" default:"14s"`
	// KeyRefetchInterval bounds how often a failed signature check may
	// refetch the OpenCRVS public key (rotation support without letting
	// forged tokens hammer the auth service).
	KeyRefetchInterval time.Duration `env:"OPENCRVS_PUBLIC_KEY_REFETCH_INTERVAL" default:"1m"`

	// Logging selects the log format and level.
	Logging config.Logging
	// TLS is used when dialing the services.
	TLS config.GRPCTLS
}

// Validate reports every problem with the gateway-specific settings at
// once. The nested TLS settings are checked by config.Load through their own
// Validate method.
func (c *Config) Validate() error {
	var p config.Problems
	p.Require("CLIENT_APP_URL", c.CRVS.ClientAppURL != nil)
	p.Require("OPENCRVS_PUBLIC_KEY_URL", c.CRVS.PublicKeyURL != nil)
	if c.Port < 0 || c.Port > 65535 {
		p.Addf("PORT must be between 0 and 65535, got %d", c.Port)
	}
	for _, a := range []struct{ name, value string }{
		{"AUTH_TOKEN_ADDR", c.AuthTokenAddr},
		{"PACKET_ADDR", c.PacketAddr},
		{"ESIGNET_VERIFY_ADDR", c.EsignetVerifyAddr},
		{"NOTIFICATION_ADDR", c.NotificationAddr},
	} {
		if a.value == "" {
			p.Addf("%s is required", a.name)
		}
	}
	if c.MaxBodyBytes <= 0 {
		p.Addf("GATEWAY_MAX_BODY_BYTES must be positive, got %d", c.MaxBodyBytes)
	}
	if c.RequestTimeout <= 0 {
		p.Addf("GATEWAY_REQUEST_TIMEOUT must be positive, got %s", c.RequestTimeout)
	}
	if c.KeyRefetchInterval <= 0 {
		p.Addf("OPENCRVS_PUBLIC_KEY_REFETCH_INTERVAL must be positive, got %s", c.KeyRefetchInterval)
	}
	return p.Err()
}

// Addr is the host:port to listen on.
func (c *Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}
