package esignetverify

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/ida"
)

// Config is the esignet-verify service's configuration, loaded with
// config.Load. Each feature is switched on by its endpoint: eSignet by
// ESIGNET_TOKEN_URL, IDA verification by IDA_AUTH_URL; once on, everything
// it needs is required and checked at start-up (files read, keys parsed).
// A feature that is off answers FAILED_PRECONDITION.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9103" validate:"addr"`
	// ESignet configures sign-in with eSignet.
	ESignet ESignetConfig
	// IDA configures demographic verification with MOSIP IDA.
	IDA IDAConfig
	// Logging selects the log format and level.
	Logging config.Logging
	// TLS configures the gRPC server's transport.
	TLS config.GRPCTLS
}

// ESignetConfig is the eSignet relying party. Variable names are the
// TypeScript mosip-api's where it had them.
type ESignetConfig struct {
	// TokenURL is eSignet's token endpoint, e.g.
	// https://esignet.example.org/v1/esignet/oauth/v2/token.
	TokenURL *url.URL `env:"ESIGNET_TOKEN_URL"`
	// UserinfoURL is eSignet's userinfo endpoint (…/oidc/userinfo).
	UserinfoURL *url.URL `env:"ESIGNET_USERINFO_URL"`
	// ClientPrivateKeyPath is the OIDC client's private key: a
	// base64-encoded JWK as the TypeScript mosip-api reads it, a JSON JWK,
	// or PEM.
	ClientPrivateKeyPath string `env:"OIDP_CLIENT_PRIVATE_KEY_PATH" validate:"file"`
	// ClientID, when set, is the only client id requests may name (the
	// key above belongs to one client).
	ClientID string `env:"OPENID_PROVIDER_CLIENT_ID"`
	// JWKSURL is eSignet's key set; empty derives it from TokenURL
	// (<base>/oauth/.well-known/jwks.json).
	JWKSURL *url.URL `env:"ESIGNET_JWKS_URL"`
	// Issuer is eSignet's issuer, checked against iss; empty derives it
	// from TokenURL (the part before /oauth/…).
	Issuer string `env:"ESIGNET_ISSUER"`
	// UserinfoCertPath holds PEM certificates trusted to sign userinfo
	// besides the JWKS keys: IDA's KYC signing certificate in IDA-backed
	// deployments, whose userinfo eSignet's JWKS cannot verify.
	UserinfoCertPath string `env:"ESIGNET_USERINFO_CERT_PATH" validate:"file"`
	// DisableJWKS trusts only UserinfoCertPath (and refuses id_tokens it
	// cannot verify).
	DisableJWKS bool `env:"ESIGNET_JWKS_DISABLED" default:"false"`
	// DecryptionKeyPath opens JWE userinfo; empty uses the client key.
	DecryptionKeyPath string `env:"ESIGNET_USERINFO_DECRYPTION_KEY_PATH" validate:"file"`
	// AssertionAlgorithm signs client assertions.
	AssertionAlgorithm string `env:"ESIGNET_CLIENT_ASSERTION_ALG" default:"RS256" oneof:"RS256|PS256"`
	// AssertionAudience is the assertion's aud; empty means TokenURL.
	AssertionAudience string `env:"ESIGNET_CLIENT_ASSERTION_AUDIENCE"`
	// AssertionTTL is the assertion's lifetime.
	AssertionTTL time.Duration `env:"ESIGNET_CLIENT_ASSERTION_TTL" default:"2m"`
	// RedirectURI, when set, is sent in every token request instead of the
	// caller's redirectUri: the static callback's URL, for countries that
	// register one redirect URI at eSignet (GET /oauth/callback).
	RedirectURI *url.URL `env:"ESIGNET_REDIRECT_URI"`
	// CallbackAllowedOrigins are where GET /oauth/callback may send the
	// browser back to; empty means CLIENT_APP_URL's origin.
	CallbackAllowedOrigins []string `env:"ESIGNET_CALLBACK_ALLOWED_ORIGINS"`
	// ClientAppURL is the OpenCRVS client (the gateway's CORS origin).
	ClientAppURL *url.URL `env:"CLIENT_APP_URL"`
	// NameFormat is the shape of the answer's name: OpenCRVS 2.0
	// {firstname, surname[, middlename]} or 1.9 {firstname, middlename, surname}.
	NameFormat string `env:"ESIGNET_NAME_FORMAT" default:"2.0" oneof:"2.0|1.9"`
	// ClaimsLanguage is preferred among name#<lang> claims.
	ClaimsLanguage string `env:"ESIGNET_CLAIMS_LANGUAGE" default:"eng"`
	// ClaimMapping copies further claims into the answer: claim:field
	// pairs, e.g. phone_number:phone,address.locality:address.city.
	ClaimMapping []string `env:"ESIGNET_CLAIM_MAPPING"`
	// IDType is the idType answered with an individual_id.
	IDType string `env:"ESIGNET_ID_TYPE" default:"NATIONAL_ID"`
	// RequestTimeout bounds each call to eSignet.
	RequestTimeout time.Duration `env:"ESIGNET_REQUEST_TIMEOUT" default:"10s"`
	// ClockSkew is tolerated on exp, nbf and iat.
	ClockSkew time.Duration `env:"ESIGNET_CLOCK_SKEW" default:"30s"`
	// JWKSMinRefreshInterval throttles refetches for unknown key ids.
	JWKSMinRefreshInterval time.Duration `env:"ESIGNET_JWKS_MIN_REFRESH_INTERVAL" default:"30s"`
	// JWKSCacheTTL is how long fetched keys are used before a refetch.
	JWKSCacheTTL time.Duration `env:"ESIGNET_JWKS_CACHE_TTL" default:"1h"`
}

// Enabled reports whether eSignet is configured.
func (c *ESignetConfig) Enabled() bool { return c.TokenURL != nil }

// IDAConfig is the IDA client. Variable names are the TypeScript
// mosip-api's (@mosip/ida-auth-sdk settings).
type IDAConfig struct {
	// AuthURL is IDA's auth endpoint without path parameters, e.g.
	// https://api-internal.example.org/idauthentication/v1/auth.
	AuthURL *url.URL `env:"IDA_AUTH_URL"`
	// DomainURI is the request's domainUri (one of IDA's
	// mosip.ida.allowed.domain.uris).
	DomainURI string `env:"IDA_AUTH_DOMAIN_URI"`
	// Env is the request's env.
	Env string `env:"IDA_AUTH_ENV" default:"Staging" oneof:"Staging|Developer|Pre-Production|Production"`
	// PartnerID is the authentication partner's id.
	PartnerID string `env:"PARTNER_ID"`
	// MISPLicenseKey is the MISP licence key.
	MISPLicenseKey config.Secret `env:"PARTNER_MISP_LK"`
	// APIKey is the partner's API key.
	APIKey config.Secret `env:"PARTNER_APIKEY"`
	// EncryptCertPath is IDA's partner-encryption certificate (ida-partner.crt).
	EncryptCertPath string `env:"ENCRYPT_CERT_PATH" validate:"file"`
	// SignP12Path is the partner keystore whose key signs requests: PKCS#12
	// (.p12/.pfx) or PEM with key and certificate.
	SignP12Path string `env:"SIGN_P12_FILE_PATH" validate:"file"`
	// SignP12Password opens the PKCS#12 keystore.
	SignP12Password config.Secret `env:"SIGN_P12_FILE_PASSWORD"`
	// IndividualIDType is the type of the ids OpenCRVS sends.
	IndividualIDType string `env:"IDA_INDIVIDUAL_ID_TYPE" default:"UIN" oneof:"UIN|VID"`
	// NameLanguage is the ISO 639-3 code of name and gender.
	NameLanguage string `env:"IDA_NAME_LANGUAGE" default:"eng"`
	// NameFormat joins the name's parts as MOSIP holds the full name.
	NameFormat string `env:"IDA_NAME_FORMAT" default:"{firstname} {middlename} {surname}"`
	// GenderMapping maps CRVS gender values to MOSIP's labels, e.g.
	// female:Female,male:Male; unmapped values are sent as they are.
	GenderMapping []string `env:"IDA_GENDER_MAPPING"`
	// RequestTimeout bounds each call to IDA.
	RequestTimeout time.Duration `env:"IDA_REQUEST_TIMEOUT" default:"10s"`
}

// Enabled reports whether IDA verification is configured.
func (c *IDAConfig) Enabled() bool { return c.AuthURL != nil }

// Validate reports every problem of the eSignet settings, reading the key
// and certificate files so a bad file fails the start, not the first
// sign-in.
func (c *ESignetConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var p config.Problems
	p.Require("ESIGNET_USERINFO_URL", c.UserinfoURL != nil)
	if c.ClientPrivateKeyPath == "" {
		p.Addf("OIDP_CLIENT_PRIVATE_KEY_PATH is required with ESIGNET_TOKEN_URL")
	} else if _, err := esignet.LoadClientKeyFile(c.ClientPrivateKeyPath); err != nil && fileExists(c.ClientPrivateKeyPath) {
		p.Addf("OIDP_CLIENT_PRIVATE_KEY_PATH: %v", err)
	}
	if c.DecryptionKeyPath != "" && fileExists(c.DecryptionKeyPath) {
		if _, err := esignet.LoadClientKeyFile(c.DecryptionKeyPath); err != nil {
			p.Addf("ESIGNET_USERINFO_DECRYPTION_KEY_PATH: %v", err)
		}
	}
	if c.UserinfoCertPath != "" && fileExists(c.UserinfoCertPath) {
		if _, err := loadCertificates(c.UserinfoCertPath); err != nil {
			p.Addf("ESIGNET_USERINFO_CERT_PATH: %v", err)
		}
	}
	if c.DisableJWKS && c.UserinfoCertPath == "" {
		p.Addf("ESIGNET_USERINFO_CERT_PATH is required when ESIGNET_JWKS_DISABLED is true")
	}
	if !c.DisableJWKS && c.JWKSURL == nil && c.TokenURL != nil && deriveBase(c.TokenURL) == "" {
		p.Addf("ESIGNET_JWKS_URL is required: it cannot be derived from ESIGNET_TOKEN_URL %q (no /oauth/ in the path)", c.TokenURL.Redacted())
	}
	if c.RedirectURI != nil && (c.RedirectURI.RawQuery != "" || c.RedirectURI.Fragment != "") {
		p.Addf("ESIGNET_REDIRECT_URI must have no query or fragment, got %q", c.RedirectURI.Redacted())
	}
	for _, o := range c.CallbackAllowedOrigins {
		if _, err := canonicalOrigin(o); err != nil {
			p.Addf("ESIGNET_CALLBACK_ALLOWED_ORIGINS: %v", err)
		}
	}
	if _, err := esignet.ParseFieldMappings(c.ClaimMapping); err != nil {
		p.Addf("ESIGNET_CLAIM_MAPPING: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if c.AssertionTTL <= 0 || c.AssertionTTL > 10*time.Minute {
		p.Addf("ESIGNET_CLIENT_ASSERTION_TTL must be between 1s and 10m, got %s", c.AssertionTTL)
	}
	if c.RequestTimeout <= 0 {
		p.Addf("ESIGNET_REQUEST_TIMEOUT must be positive, got %s", c.RequestTimeout)
	}
	if c.JWKSCacheTTL <= 0 {
		p.Addf("ESIGNET_JWKS_CACHE_TTL must be positive, got %s", c.JWKSCacheTTL)
	}
	if strings.TrimSpace(c.ClaimsLanguage) == "" {
		p.Addf("ESIGNET_CLAIMS_LANGUAGE must not be empty")
	}
	return p.Err()
}

// Validate reports every problem of the IDA settings, opening the keystore
// and the certificate.
func (c *IDAConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var p config.Problems
	p.Require("IDA_AUTH_DOMAIN_URI", c.DomainURI != "")
	p.Require("PARTNER_ID", c.PartnerID != "")
	p.Require("PARTNER_MISP_LK", c.MISPLicenseKey != "")
	p.Require("PARTNER_APIKEY", c.APIKey != "")
	for _, v := range []struct{ name, value string }{{"PARTNER_ID", c.PartnerID}, {"PARTNER_MISP_LK", c.MISPLicenseKey.Value()}, {"PARTNER_APIKEY", c.APIKey.Value()}} {
		if strings.ContainsAny(v.value, "/?#% ") {
			p.Addf("%s must not contain '/', '?', '#', '%%' or spaces: it is a path segment of the IDA URL", v.name)
		}
	}
	if c.EncryptCertPath == "" {
		p.Addf("ENCRYPT_CERT_PATH (IDA's partner certificate) is required with IDA_AUTH_URL")
	} else if fileExists(c.EncryptCertPath) {
		if _, err := mosipcrypto.LoadCertificateFile(c.EncryptCertPath); err != nil {
			p.Addf("ENCRYPT_CERT_PATH: %v", err)
		}
	}
	if c.SignP12Path == "" {
		p.Addf("SIGN_P12_FILE_PATH (the partner keystore) is required with IDA_AUTH_URL")
	} else if fileExists(c.SignP12Path) {
		if _, err := mosipcrypto.LoadKeystoreFile(c.SignP12Path, c.SignP12Password.Value()); err != nil {
			p.Addf("SIGN_P12_FILE_PATH: %v (check SIGN_P12_FILE_PASSWORD)", err)
		}
	}
	if err := ida.CheckNameFormat(c.NameFormat); err != nil {
		p.Addf("IDA_NAME_FORMAT %v", err)
	}
	if _, err := genderMap(c.GenderMapping); err != nil {
		p.Addf("IDA_GENDER_MAPPING: %v", err)
	}
	if strings.TrimSpace(c.NameLanguage) == "" {
		p.Addf("IDA_NAME_LANGUAGE must not be empty")
	}
	if c.RequestTimeout <= 0 {
		p.Addf("IDA_REQUEST_TIMEOUT must be positive, got %s", c.RequestTimeout)
	}
	return p.Err()
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// loadCertificates reads every certificate of a PEM file (or one DER
// certificate).
func loadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(data), "-----BEGIN") {
		c, err := mosipcrypto.ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("unreadable certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE in the PEM file")
	}
	return out, nil
}

func genderMap(entries []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, e := range entries {
		from, to, ok := strings.Cut(e, ":")
		from, to = strings.ToLower(strings.TrimSpace(from)), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			errs = append(errs, fmt.Errorf("%q is not crvs:mosip", e))
			continue
		}
		out[from] = to
	}
	return out, errors.Join(errs...)
}

// deriveBase is eSignet's base URL (its issuer) from the token endpoint:
// everything before /oauth/v2/token or /oauth/token.
func deriveBase(token *url.URL) string {
	if token == nil {
		return ""
	}
	s := token.String()
	i := strings.LastIndex(s, "/oauth/")
	if i < 0 || token.RawQuery != "" {
		return ""
	}
	return s[:i]
}
