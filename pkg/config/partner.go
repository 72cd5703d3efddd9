package config

import (
	"net/url"
	"time"
)

// PartnerProfile is everything that ties this bridge to one MOSIP deployment
// and one CRVS: endpoints, MOSIP client credentials and CRVS settings. Today a
// binary loads one profile from the environment (the variable names of the
// TypeScript mosip-api); the shape lets a later release hold several.
//
// Each binary checks the parts it needs in its own Validate: auth-token needs
// the MOSIP auth manager and clients, the gateway the CRVS settings.
type PartnerProfile struct {
	// Name labels the profile in logs and metrics.
	Name  string `env:"PARTNER_PROFILE" default:"default"`
	MOSIP MOSIP
	CRVS  CRVS
}

// MOSIP holds the MOSIP side of a partner profile.
type MOSIP struct {
	// AuthURL is the full URL of the auth manager's clientidsecretkey
	// endpoint, as in the TypeScript mosip-api.
	AuthURL *url.URL `env:"MOSIP_AUTH_URL"`
	// AuthAppID is the default app id (it selects the Keycloak realm).
	AuthAppID string `env:"MOSIP_AUTH_CLIENT_APP_ID" default:"admin"`
	// PacketClient creates and processes packets.
	PacketClient MOSIPClient `envPrefix:"MOSIP_PACKET_AUTH_"`
	// WebSubClient subscribes to the WebSub hub; its client id is the partner id.
	WebSubClient MOSIPClient `envPrefix:"MOSIP_WEBSUB_AUTH_"`
	// TokenDefaultTTL is used for opaque tokens that carry neither a JWT exp
	// nor a cookie Max-Age.
	TokenDefaultTTL time.Duration `env:"MOSIP_TOKEN_DEFAULT_TTL" default:"30m"`
	// RequestTimeout bounds each call to MOSIP.
	RequestTimeout time.Duration `env:"MOSIP_REQUEST_TIMEOUT" default:"10s"`
}

// MOSIPClient is one Keycloak client as MOSIP deployments hand them out.
type MOSIPClient struct {
	ClientID string `env:"CLIENT_ID"`
	Secret   Secret `env:"CLIENT_SECRET"`
	// AppID overrides MOSIP_AUTH_CLIENT_APP_ID for this client.
	AppID string `env:"CLIENT_APP_ID"`
}

// Clients returns the named MOSIP clients with app ids defaulted.
func (m MOSIP) Clients() map[string]MOSIPClient {
	out := map[string]MOSIPClient{"packet": m.PacketClient, "websub": m.WebSubClient}
	for name, c := range out {
		if c.AppID == "" {
			c.AppID = m.AuthAppID
			out[name] = c
		}
	}
	return out
}

// ClientEnvPrefix maps a client name to the prefix of its variables, for
// error messages.
var ClientEnvPrefix = map[string]string{"packet": "MOSIP_PACKET_AUTH_", "websub": "MOSIP_WEBSUB_AUTH_"}

// CRVS holds the CRVS (OpenCRVS) side of a partner profile.
type CRVS struct {
	// ClientAppURL is the OpenCRVS client origin allowed by CORS.
	ClientAppURL *url.URL `env:"CLIENT_APP_URL"`
	// PublicKeyURL serves the PEM public key that signs OpenCRVS JWTs.
	PublicKeyURL *url.URL `env:"OPENCRVS_PUBLIC_KEY_URL"`
	// GatewayURL is the OpenCRVS gateway that confirmations are sent to.
	GatewayURL *url.URL `env:"OPENCRVS_GATEWAY_URL"`
}
