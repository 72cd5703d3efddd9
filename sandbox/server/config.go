package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/sandbox/fault"
)

// Config configures the whole sandbox. Every field has a default that makes
// `make run` work with no settings; the standalone binary reads the same
// variables.
type Config struct {
	// Addr is where the sandbox listens.
	Addr string `env:"SANDBOX_ADDR" default:"127.0.0.1:20240" validate:"addr"`
	// PublicURL is the base URL the bridge reaches the sandbox at (used in
	// hub Link headers, credential documents and the eSignet issuer);
	// empty means http://<Addr>.
	PublicURL string `env:"SANDBOX_PUBLIC_URL"`
	// PartnerID is the bridge's MOSIP partner id: credentials go to
	// "<PartnerID>/CREDENTIAL_ISSUED" and the WebSub client must be it.
	PartnerID string `env:"SANDBOX_PARTNER_ID" default:"crvs-partner"`
	// PacketClientID and PacketClientSecret are the Keycloak client that
	// creates and processes packets.
	PacketClientID     string        `env:"SANDBOX_PACKET_CLIENT_ID" default:"mosip-crvs1-client"`
	PacketClientSecret config.Secret `env:"SANDBOX_PACKET_CLIENT_SECRET" default:"sandbox-packet-secret"`
	// WebSubClientSecret is the secret of the WebSub client, whose id is PartnerID.
	WebSubClientSecret config.Secret `env:"SANDBOX_WEBSUB_CLIENT_SECRET" default:"sandbox-websub-secret"`
	// TokenLifetime is the auth manager's JWT lifetime.
	TokenLifetime time.Duration `env:"SANDBOX_TOKEN_LIFETIME" default:"1h"`
	// ProcessingDelay is how long the registration processor takes.
	ProcessingDelay time.Duration `env:"SANDBOX_PROCESSING_DELAY" default:"2s"`
	// MandatoryCRVSNew are the identity attributes the ID-object validation
	// requires of a CRVS_NEW packet. MOSIP deployments configure this per
	// process: v1.3.0 asks for fullName, dateOfBirth|age, gender,
	// addressLine1, region, province, city, zone; the dev2 configuration
	// (which also has CRVS_UPDATE) only for IDSchemaVersion. The default is
	// what OpenCRVS's birth payload carries.
	MandatoryCRVSNew []string `env:"SANDBOX_MANDATORY_CRVS_NEW" default:"fullName,dateOfBirth,gender"`
	// CredentialPolicy is the identifier credentials share.
	CredentialPolicy string `env:"SANDBOX_CREDENTIAL_POLICY" default:"PSUT" oneof:"PSUT|VID|UIN|PSUT+VID"`
	// Canonicalization of the credential's LD proof.
	Canonicalization string `env:"SANDBOX_CANONICALIZATION" default:"URDNA2015" oneof:"URDNA2015|JCS"`
	// DataShare sends credentials by dataShareUri instead of inline.
	DataShare bool `env:"SANDBOX_DATA_SHARE" default:"false"`
	// HubRetryBackoff is the hub's wait before its second delivery attempt (doubling after).
	HubRetryBackoff time.Duration `env:"SANDBOX_HUB_RETRY_BACKOFF" default:"1s"`
	// IDALicenseKey and IDAAPIKey are the partner's MISP license key and API key.
	IDALicenseKey config.Secret `env:"SANDBOX_IDA_MISP_LICENSE_KEY" default:"sandboxMISPlicenseKey0123456789abcdefABCDEF"`
	IDAAPIKey     config.Secret `env:"SANDBOX_IDA_API_KEY" default:"sandbox-ida-api-key"`
	// IDALenient relaxes IDA's strict checks for demos.
	IDALenient bool `env:"SANDBOX_IDA_LENIENT" default:"false"`
	// ESignetClientID is the OIDC client registered with eSignet, and
	// ESignetRedirectURIs its redirect URI patterns.
	ESignetClientID     string   `env:"SANDBOX_ESIGNET_CLIENT_ID" default:"crvs-esignet-client"`
	ESignetRedirectURIs []string `env:"SANDBOX_ESIGNET_REDIRECT_URIS" default:"http://localhost:3000/**,http://127.0.0.1:3000/**"`
	// OpenCRVSClientID and OpenCRVSClientSecret are the system client of
	// OpenCRVS 2.1's client_credentials mode.
	OpenCRVSClientID     string        `env:"SANDBOX_OPENCRVS_CLIENT_ID" default:"mosip-integration"`
	OpenCRVSClientSecret config.Secret `env:"SANDBOX_OPENCRVS_CLIENT_SECRET" default:"sandbox-opencrvs-secret"`
	// Faults are fault rules applied from the start, as JSON:
	// {"<endpoint>": {"latency":"200ms","errorRate":0.5,"status":503,"unauthorized":false,"remaining":0}, ...}
	// with the endpoint names of Endpoints(); the admin API changes them later.
	Faults string `env:"SANDBOX_FAULTS"`
	// KeysDir receives the bridge's side of the sandbox's keys (partner key
	// and certificate, IDA certificate, eSignet client key) at start-up.
	KeysDir string `env:"SANDBOX_KEYS_DIR" default:".run/sandbox"`
	// Logging selects the log format and level.
	Logging config.Logging
}

// Validate checks relations the tags cannot.
func (c *Config) Validate() error {
	var p config.Problems
	if c.ProcessingDelay > 10*time.Minute {
		p.Addf("SANDBOX_PROCESSING_DELAY must be at most 10m, got %s", c.ProcessingDelay)
	}
	if c.TokenLifetime < time.Second {
		p.Addf("SANDBOX_TOKEN_LIFETIME must be at least 1s, got %s", c.TokenLifetime)
	}
	p.Require("SANDBOX_PARTNER_ID", c.PartnerID != "")
	if _, err := c.FaultRules(); err != nil {
		p = append(p, err)
	}
	return p.Err()
}

// FaultRules parses Faults, checking endpoint names and rule values.
func (c *Config) FaultRules() (map[string]fault.Rule, error) {
	if strings.TrimSpace(c.Faults) == "" {
		return nil, nil
	}
	var rules map[string]fault.Rule
	dec := json.NewDecoder(strings.NewReader(c.Faults))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("SANDBOX_FAULTS must be a JSON object of endpoint rules: %v", err)
	}
	known := map[string]bool{}
	for _, e := range Endpoints() {
		known[e] = true
	}
	for name, r := range rules {
		if !known[name] {
			return nil, fmt.Errorf("SANDBOX_FAULTS names unknown endpoint %q (known: %s)", name, strings.Join(Endpoints(), ", "))
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("SANDBOX_FAULTS %s: %v", name, err)
		}
	}
	return rules, nil
}
