package notification

import (
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/services/notification/internal/credential"
	"github.com/mosipcrvs/bridge/services/notification/internal/inbox"
)

// Config is the notification service's configuration, loaded with
// config.Load. Names follow the TypeScript mosip-api where it has one.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9104" validate:"addr"`
	// AuthTokenAddr is the auth-token service (the WebSub client's token).
	AuthTokenAddr string `env:"AUTH_TOKEN_ADDR" default:"127.0.0.1:9101"`
	// PacketAddr is the packet service (transactions of the RIDs).
	PacketAddr string `env:"PACKET_ADDR" default:"127.0.0.1:9102"`
	// DatabaseURL is the PostgreSQL database; empty keeps the inbox in the
	// SQLite file at SQLitePath.
	DatabaseURL string `env:"DATABASE_URL"`
	// SQLitePath is the SQLite file used without DATABASE_URL.
	SQLitePath string `env:"NOTIFICATION_SQLITE_PATH" default:".run/notification.db"`

	// HubURL is MOSIP's WebSub hub (https://<mosip-api-internal>/hub).
	HubURL *url.URL `env:"MOSIP_WEBSUB_HUB_URL" required:"true"`
	// PartnerID is the MOSIP partner the credentials are issued to.
	PartnerID string `env:"MOSIP_PARTNER_ID" required:"true"`
	// CredentialTopic defaults to <partner id>/CREDENTIAL_ISSUED, the topic
	// MOSIP's credential service publishes on.
	CredentialTopic string `env:"MOSIP_WEBSUB_TOPIC"`
	// CallbackURL is the public URL of the gateway's /websub/callback.
	CallbackURL *url.URL `env:"MOSIP_WEBSUB_CALLBACK_URL" required:"true"`
	// Secret is the credential subscription's hub.secret; PreviousSecret
	// is still accepted during a rotation.
	Secret         config.Secret `env:"MOSIP_WEBSUB_SECRET" required:"true"`
	PreviousSecret config.Secret `env:"MOSIP_WEBSUB_PREVIOUS_SECRET"`
	// StatusSubscription turns the packet-status subscription on.
	StatusSubscription bool   `env:"MOSIP_WEBSUB_STATUS_SUBSCRIPTION" default:"true"`
	StatusTopic        string `env:"MOSIP_WEBSUB_STATUS_TOPIC" default:"REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT"`
	// StatusCallbackURL and StatusSecret default to the credential ones.
	StatusCallbackURL *url.URL      `env:"MOSIP_WEBSUB_STATUS_CALLBACK_URL"`
	StatusSecret      config.Secret `env:"MOSIP_WEBSUB_STATUS_SECRET"`
	// ResubscribeInterval re-subscribes every subscription (the hub stops
	// delivering to a subscriber after failed deliveries until it
	// subscribes again).
	ResubscribeInterval time.Duration `env:"MOSIP_WEBSUB_RESUBSCRIBE_INTERVAL" default:"6h"`

	// KeystorePath is the partner keystore the credentials are encrypted
	// for: PKCS#12 (.p12/.pfx) or PEM with key and certificate.
	KeystorePath     string        `env:"DECRYPT_P12_FILE_PATH" required:"true"`
	KeystorePassword config.Secret `env:"DECRYPT_P12_FILE_PASSWORD"`
	// SigningCertPaths are MOSIP's credential-signing certificates (PEM or
	// DER files) that event signatures must be made with.
	SigningCertPaths []string `env:"MOSIP_CREDENTIAL_SIGNING_CERT_PATHS"`
	// VerificationMethods is the allowlist of proof verificationMethod URLs.
	VerificationMethods []string `env:"MOSIP_VERIFIABLE_CREDENTIAL_ALLOWLIST"`
	// Canonicalization of credential proofs: urdna2015 (MOSIP) or jcs.
	Canonicalization string `env:"MOSIP_VC_CANONICALIZATION" default:"urdna2015" oneof:"urdna2015|jcs"`
	// ContextFiles pins JSON-LD contexts: "<url>=<file>" pairs.
	ContextFiles []string `env:"MOSIP_VC_CONTEXT_FILES"`
	// ContextURLs may be fetched once and cached when not pinned.
	ContextURLs []string `env:"MOSIP_VC_CONTEXT_URLS"`
	// DataShareHosts are the host[:port]s a dataShareUri may point at.
	DataShareHosts []string `env:"MOSIP_DATASHARE_HOSTS"`
	// AllowPrivateTargets lets key, context and data-share fetches reach
	// loopback and private addresses (MOSIP inside the cluster, a sandbox).
	AllowPrivateTargets bool `env:"NOTIFICATION_ALLOW_PRIVATE_TARGETS" default:"false"`
	// SkipVerification switches credential signature checks off. Loudly.
	SkipVerification bool `env:"MOSIP_VC_VERIFICATION_DISABLED" default:"false"`
	// IdentifierPolicy says which identifier of the credential reaches the
	// CRVS record; a UIN only with "uin".
	IdentifierPolicy string `env:"MOSIP_CREDENTIAL_IDENTIFIER_POLICY" default:"psut" oneof:"psut|vid|uin|psut+vid"`
	// NationalIDKey overrides the credentialSubject field read.
	NationalIDKey string `env:"MOSIP_VERIFIABLE_CREDENTIAL_NATIONAL_ID_KEY"`

	// OpenCRVSGatewayURL is OpenCRVS's gateway (tRPC under /events).
	OpenCRVSGatewayURL *url.URL `env:"OPENCRVS_GATEWAY_URL" required:"true"`
	// OpenCRVSAuthURL, ClientID and ClientSecret select system-token mode
	// (OpenCRVS 2.1); without them the stored record token is used.
	OpenCRVSAuthURL      *url.URL      `env:"OPENCRVS_AUTH_URL"`
	OpenCRVSClientID     string        `env:"OPENCRVS_CLIENT_ID"`
	OpenCRVSClientSecret config.Secret `env:"OPENCRVS_CLIENT_SECRET"`
	// RejectOnFailure rejects the CRVS record when MOSIP fails or rejects
	// the packet.
	RejectOnFailure bool `env:"NOTIFICATION_REJECT_ON_MOSIP_FAILURE" default:"true"`
	// PublishStatus publishes CREDENTIAL_STATUS_UPDATE after a credential.
	PublishStatus bool `env:"NOTIFICATION_PUBLISH_CREDENTIAL_STATUS" default:"true"`
	// RetryHorizon, RetryBase and RetryCap bound the retries of a delivery
	// (full jitter).
	RetryHorizon time.Duration `env:"NOTIFICATION_RETRY_HORIZON" default:"72h"`
	RetryBase    time.Duration `env:"NOTIFICATION_RETRY_BASE" default:"1s"`
	RetryCap     time.Duration `env:"NOTIFICATION_RETRY_CAP" default:"5m"`
	// RejectAfterSilence rejects the CRVS record of a packet MOSIP took
	// for processing (processing_started) but never answered — no
	// credential, no status event — within this time; 0, the default,
	// never does. Needs system-token mode (OPENCRVS_CLIENT_ID): the packet
	// service lists transactions without the registration id that the
	// stored record token is found by.
	RejectAfterSilence time.Duration `env:"NOTIFICATION_REJECT_AFTER_SILENCE" default:"0s"`
	// Workers is how many deliveries are processed at once. Most of a
	// delivery's time is spent waiting for the packet service, OpenCRVS
	// and the database, so it takes many workers to keep the CPU busy: on
	// 2 CPUs, 8 workers confirmed 300-350 credentials a second and 32
	// about 340-420 (then the CPU is the limit, on PostgreSQL and SQLite
	// alike), the callback still answering within 50 ms (p99) at 200
	// deliveries a second. See docs/notification.md, Capacity.
	Workers int `env:"NOTIFICATION_WORKERS" default:"32"`
	// Timeout bounds each call to MOSIP, OpenCRVS and the other services.
	Timeout time.Duration `env:"NOTIFICATION_REQUEST_TIMEOUT" default:"10s"`

	Logging config.Logging
	TLS     config.GRPCTLS

	// Clock replaces time.Now for the retry horizon, the silence rule and
	// the inbox's timestamps, so tests can let days pass. It is not read
	// from the environment; nil is time.Now.
	Clock func() time.Time
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var p config.Problems
	p.Require("AUTH_TOKEN_ADDR", strings.TrimSpace(c.AuthTokenAddr) != "")
	p.Require("PACKET_ADDR", strings.TrimSpace(c.PacketAddr) != "")
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p.Addf("DATABASE_URL must be a postgres:// or postgresql:// URL")
		}
	} else if strings.TrimSpace(c.SQLitePath) == "" {
		p.Addf("NOTIFICATION_SQLITE_PATH is required when DATABASE_URL is empty")
	}
	absolute := func(name string, u *url.URL, required bool) {
		if u == nil {
			p.Require(name, !required)
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("%s must be an absolute http(s) URL", name)
		}
	}
	absolute("MOSIP_WEBSUB_HUB_URL", c.HubURL, true)
	absolute("MOSIP_WEBSUB_CALLBACK_URL", c.CallbackURL, true)
	absolute("MOSIP_WEBSUB_STATUS_CALLBACK_URL", c.StatusCallbackURL, false)
	absolute("OPENCRVS_GATEWAY_URL", c.OpenCRVSGatewayURL, true)
	absolute("OPENCRVS_AUTH_URL", c.OpenCRVSAuthURL, false)
	p.Require("MOSIP_PARTNER_ID", strings.TrimSpace(c.PartnerID) != "")
	if c.CredentialTopic != "" && !strings.Contains(c.CredentialTopic, "/") {
		p.Addf("MOSIP_WEBSUB_TOPIC must be <partnerId>/CREDENTIAL_ISSUED: MOSIP publishes nothing on %q", c.CredentialTopic)
	}
	p.Require("MOSIP_WEBSUB_SECRET", c.Secret != "")
	if c.KeystorePath == "" {
		p.Require("DECRYPT_P12_FILE_PATH", false)
	} else if _, err := os.Stat(c.KeystorePath); err != nil {
		p.Addf("DECRYPT_P12_FILE_PATH: %v", err)
	}
	if !c.SkipVerification {
		if len(c.SigningCertPaths) == 0 {
			p.Addf("MOSIP_CREDENTIAL_SIGNING_CERT_PATHS is required (MOSIP's credential-signing certificate) unless MOSIP_VC_VERIFICATION_DISABLED=true")
		}
		if len(c.VerificationMethods) == 0 {
			p.Addf("MOSIP_VERIFIABLE_CREDENTIAL_ALLOWLIST is required (the verificationMethod URLs of MOSIP's credentials) unless MOSIP_VC_VERIFICATION_DISABLED=true")
		}
	}
	for _, f := range c.SigningCertPaths {
		if _, err := os.Stat(f); err != nil {
			p.Addf("MOSIP_CREDENTIAL_SIGNING_CERT_PATHS: %v", err)
		}
	}
	for _, pair := range c.ContextFiles {
		u, f, ok := strings.Cut(pair, "=")
		if !ok || u == "" || f == "" {
			p.Addf("MOSIP_VC_CONTEXT_FILES entries are <url>=<file>, got %q", pair)
		} else if _, err := os.Stat(f); err != nil {
			p.Addf("MOSIP_VC_CONTEXT_FILES: %v", err)
		}
	}
	if c.OpenCRVSClientID != "" || c.OpenCRVSClientSecret != "" {
		p.Require("OPENCRVS_CLIENT_ID", c.OpenCRVSClientID != "")
		p.Require("OPENCRVS_CLIENT_SECRET", c.OpenCRVSClientSecret != "")
		p.Require("OPENCRVS_AUTH_URL (system-token mode)", c.OpenCRVSAuthURL != nil)
	}
	if c.RetryHorizon <= 0 || c.RetryBase <= 0 || c.RetryCap < c.RetryBase {
		p.Addf("NOTIFICATION_RETRY_HORIZON and NOTIFICATION_RETRY_BASE must be positive and NOTIFICATION_RETRY_CAP at least the base")
	}
	if c.RejectAfterSilence < 0 {
		p.Addf("NOTIFICATION_REJECT_AFTER_SILENCE must not be negative (0 switches it off)")
	} else if c.RejectAfterSilence > 0 && c.OpenCRVSClientID == "" {
		p.Addf("NOTIFICATION_REJECT_AFTER_SILENCE needs OpenCRVS system-token mode (OPENCRVS_CLIENT_ID, OPENCRVS_CLIENT_SECRET, OPENCRVS_AUTH_URL): " +
			"the packet service lists transactions without the registration id their stored record token is found by")
	}
	if c.Workers < 1 || c.Workers > 1000 {
		p.Addf("NOTIFICATION_WORKERS must be between 1 and 1000, got %d", c.Workers)
	}
	if c.Timeout <= 0 {
		p.Addf("NOTIFICATION_REQUEST_TIMEOUT must be positive")
	}
	switch c.IdentifierPolicy {
	case credential.PolicyPSUT, credential.PolicyVID, credential.PolicyUIN, credential.PolicyPSUTVID:
	default:
		p.Addf("MOSIP_CREDENTIAL_IDENTIFIER_POLICY must be psut, vid, uin or psut+vid")
	}
	if c.IdentifierPolicy != credential.PolicyUIN && strings.EqualFold(c.NationalIDKey, "UIN") {
		p.Addf("MOSIP_VERIFIABLE_CREDENTIAL_NATIONAL_ID_KEY=UIN needs MOSIP_CREDENTIAL_IDENTIFIER_POLICY=uin: a UIN is never forwarded otherwise")
	}
	return p.Err()
}

// credentialTopic is the configured or default credential topic.
func (c *Config) credentialTopic() string {
	if c.CredentialTopic != "" {
		return c.CredentialTopic
	}
	return c.PartnerID + "/CREDENTIAL_ISSUED"
}

func (c *Config) statusTopic() string {
	if c.StatusTopic != "" {
		return c.StatusTopic
	}
	return inbox.StatusTopic
}
