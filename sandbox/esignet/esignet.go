// Package esignet emulates MOSIP eSignet, the OpenID Connect provider the
// bridge's /esignet/get-oidp-user-info route exchanges authorization codes
// with, faithfully on the wire:
//
//   - the authorize step is a small HTML page (standing in for eSignet's UI)
//     that lets a person pick a sandbox identity and redirects back with a
//     single-use code, exactly as eSignet's UI does (state, code, iss);
//   - the token endpoint (v2 and legacy) authenticates clients only with
//     private_key_jwt (RS256, 5 s leeway, jti required and single-use as in
//     eSignet ≥ 1.6) and answers errors with HTTP 400 and eSignet's
//     {"error","error_description"} mapping;
//   - userinfo is application/jwt: a JWS signed either by eSignet's JWKS key
//     or, like MOSIP IDA's KYC-exchange key, by a key that is not in the
//     JWKS (x5c header), optionally wrapped in a JWE for the client; its
//     claims are IDA's (sub = partner-specific user token, name or
//     name#<lang>, birthdate as stored yyyy/MM/dd, no given_name/family_name).
//
// The bridge's services never import this package; they only see its URLs.
package esignet

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// Endpoint names: the keys of Calls and the names handlers are wrapped under
// (Options.Wrap), e.g. for the fault injector.
const (
	EndpointAuthorize = "esignet.authorize"
	EndpointToken     = "esignet.token"
	EndpointUserinfo  = "esignet.userinfo"
	EndpointJWKS      = "esignet.jwks"
	EndpointDiscovery = "esignet.discovery"
)

// Paths under the prefix.
const (
	AuthorizePath      = "/authorize"
	TokenPath          = "/oauth/v2/token"
	LegacyTokenPath    = "/oauth/token"
	UserinfoPath       = "/oidc/userinfo"
	JWKSPath           = "/.well-known/jwks.json"
	OAuthJWKSPath      = "/oauth/.well-known/jwks.json"
	DiscoveryPath      = "/.well-known/openid-configuration"
	OAuthDiscoveryPath = "/.well-known/oauth-authorization-server"
)

// ClientAssertionType is the only client authentication eSignet accepts.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// SupportedClaims are eSignet's claims_supported with the MOSIP IDA plugin
// (esignet-default.properties).
var SupportedClaims = []string{"name", "address", "gender", "birthdate", "picture", "email", "phone_number", "individual_id"}

// scopeClaims is mosip.esignet.openid.scope.claims: what each OpenID scope
// grants. individual_id is reachable only through the claims parameter.
var scopeClaims = map[string][]string{
	"profile": {"name", "picture", "gender", "birthdate", "address"},
	"email":   {"email"},
	"phone":   {"phone_number"},
}

// Client is an OIDC client (relying party) registered with eSignet.
type Client struct {
	ClientID string
	// Name is shown on the authorize page; defaults to ClientID.
	Name string
	// RelyingPartyID is the MOSIP partner the client belongs to. The
	// partner-specific user token (userinfo and id_token sub) is derived
	// from it, so two clients of one partner see the same sub; defaults to
	// ClientID.
	RelyingPartyID string
	// PublicJWK is the client's registered public key: client assertions
	// must verify with it.
	PublicJWK *rsa.PublicKey
	// RedirectURIs are the registered redirect URIs. As in eSignet they are
	// Spring AntPathMatcher patterns ("*" within a path segment, "**" across
	// segments, "?" one character); without wildcards they match exactly.
	RedirectURIs []string
	// UserinfoJWE makes userinfo a JWE (RSA-OAEP-256, A256GCM) wrapping the
	// JWS, encrypted to ClientEncryptionKey (eSignet's
	// additionalConfig.userinfo_response_type = "JWE").
	UserinfoJWE         bool
	ClientEncryptionKey *rsa.PublicKey
	// Claims are the claims registered for the client; requested claims
	// outside them are dropped silently. Empty means SupportedClaims.
	Claims []string
	// ACRValues are the client's registered authentication context classes;
	// the first is used when the request names none. Empty means
	// "mosip:idp:acr:generated-code" (what OpenCRVS requests).
	ACRValues []string
}

// Options configures New. Zero values select eSignet's defaults.
type Options struct {
	// Registry holds the people who can log in. Required.
	Registry *mosip.Registry
	// Issuer is eSignet's issuer (and base URL), e.g.
	// http://127.0.0.1:20240/esignet; the endpoints in the discovery
	// document and the audiences accepted in client assertions derive from
	// it. Empty: http://<request Host><PathPrefix>.
	Issuer string
	// PathPrefix is where the endpoints are served; default "/esignet".
	PathPrefix string
	// Clients are the registered OIDC clients (more with AddClient).
	Clients []Client
	// SigningKey signs id tokens, access tokens and (without
	// UserinfoSigner) userinfo; it is the key in the JWKS. Generated if nil.
	SigningKey *rsa.PrivateKey
	// UserinfoSigner, when set, signs userinfo instead of SigningKey, as
	// MOSIP IDA's KYC-exchange key does behind the IDA plugin. Its
	// certificate travels in the x5c header and it is not in the JWKS unless
	// PublishUserinfoSignerInJWKS is set.
	UserinfoSigner *pki.Cert
	// PublishUserinfoSignerInJWKS adds UserinfoSigner to the JWKS, as eSignet
	// does when its IDA plugin's getAllKycSigningCertificates is configured
	// to reach IDA's KYC-exchange certificate.
	PublishUserinfoSignerInJWKS bool
	// Locales are the languages identity data is released in (IDA's
	// consented locales when the request has no claims_locales); with two
	// or more, language-dependent claims become name#eng, name#fra, ….
	// Default ["eng"].
	Locales []string
	// CodeTTL is the authorization code lifetime; default 60 s (eSignet
	// v1.3.0's authcodegenerated cache).
	CodeTTL time.Duration
	// AccessTokenTTL is the access token lifetime and expires_in; default
	// 3600 s (mosip.esignet.access-token-expire-seconds).
	AccessTokenTTL time.Duration
	// IDTokenTTL is the id_token lifetime; default 3600 s.
	IDTokenTTL time.Duration
	// AssertionLeeway is the clock skew allowed on client assertions;
	// default 5 s (mosip.esignet.client-assertion-jwt.leeway-seconds).
	AssertionLeeway time.Duration
	// JTIOptional emulates eSignet ≤ 1.5, which neither required nor
	// remembered client assertion jti values.
	JTIOptional bool
	// UINSalt and PartnerCodeSalt salt the partner-specific user token
	// (mosip.kernel.tokenid.*.salt); defaults are the sandbox's MOSIP ones,
	// so the same person gets the same sub across restarts.
	UINSalt, PartnerCodeSalt string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Wrap, when set, wraps every handler Register installs, keyed by the
	// Endpoint* name (e.g. with the fault injector's Wrap).
	Wrap func(endpoint string, h http.Handler) http.Handler
	// Logger receives the emulator's log; default discards.
	Logger *slog.Logger
}

// Server is the eSignet emulator. All methods are safe for concurrent use.
type Server struct {
	issuer, prefix  string
	key             *rsa.PrivateKey
	keyCert         []byte // self-signed certificate of key, for x5c in the JWKS
	kid             string
	uiSigner        *pki.Cert
	uiKid           string
	publishUISigner bool
	locales         []string
	codeTTL         time.Duration
	accessTTL       time.Duration
	idTTL           time.Duration
	leeway          time.Duration
	jtiOptional     bool
	uinSalt         string
	partnerSalt     string
	now             func() time.Time
	wrap            func(string, http.Handler) http.Handler
	log             *slog.Logger
	reg             *mosip.Registry

	calls   sync.Map // endpoint → *atomic.Int64
	kycFail atomic.Int64

	mu       sync.Mutex
	clients  map[string]Client
	pending  map[string]*pendingAuth // authorize page transactions by id
	codes    map[string]*grant       // by code hash
	sessions map[string]*grant       // by access token hash
	jtis     map[string]time.Time    // used jti → when
	jtiOrder []string
	tokenReq []TokenRequest
}

// maxRecords bounds recorded token requests and remembered jtis so a long
// `make run` does not grow without limit.
const maxRecords = 10000

// New builds an eSignet emulator.
func New(o Options) (*Server, error) {
	if o.Registry == nil {
		return nil, errors.New("esignet: Options.Registry is required")
	}
	s := &Server{
		issuer: strings.TrimRight(o.Issuer, "/"), prefix: o.PathPrefix,
		key: o.SigningKey, uiSigner: o.UserinfoSigner, publishUISigner: o.PublishUserinfoSignerInJWKS,
		codeTTL: o.CodeTTL, accessTTL: o.AccessTokenTTL, idTTL: o.IDTokenTTL, leeway: o.AssertionLeeway,
		jtiOptional: o.JTIOptional, uinSalt: o.UINSalt, partnerSalt: o.PartnerCodeSalt,
		now: o.Now, wrap: o.Wrap, log: o.Logger, reg: o.Registry,
		clients: map[string]Client{}, pending: map[string]*pendingAuth{}, codes: map[string]*grant{},
		sessions: map[string]*grant{}, jtis: map[string]time.Time{},
	}
	if s.prefix == "" {
		s.prefix = "/esignet"
	}
	s.prefix = "/" + strings.Trim(s.prefix, "/")
	if s.prefix == "/" {
		s.prefix = ""
	}
	for _, l := range o.Locales {
		if l = normLocale(l); l != "" && !contains(s.locales, l) {
			s.locales = append(s.locales, l)
		}
	}
	if len(s.locales) == 0 {
		s.locales = []string{"eng"}
	}
	if s.codeTTL <= 0 {
		s.codeTTL = 60 * time.Second
	}
	if s.accessTTL <= 0 {
		s.accessTTL = time.Hour
	}
	if s.idTTL <= 0 {
		s.idTTL = time.Hour
	}
	if s.leeway <= 0 {
		s.leeway = 5 * time.Second
	}
	if s.uinSalt == "" {
		s.uinSalt = mosip.DefaultTokenIDUINSalt
	}
	if s.partnerSalt == "" {
		s.partnerSalt = mosip.DefaultTokenIDPartnerSalt
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("esignet: signing key: %w", err)
		}
		s.key = k
	}
	// eSignet publishes its keys from keymanager certificates, so its JWKS
	// entries carry x5c; a self-signed certificate gives ours the same shape.
	cert, err := selfSign(s.key, "esignet-sandbox")
	if err != nil {
		return nil, err
	}
	s.keyCert = cert
	s.kid = thumbprint(&s.key.PublicKey)
	if s.uiSigner != nil {
		s.uiKid = thumbprint(&s.uiSigner.Key.PublicKey)
	}
	for _, c := range o.Clients {
		if err := s.AddClient(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddClient registers (or replaces) an OIDC client.
func (s *Server) AddClient(c Client) error {
	switch {
	case c.ClientID == "":
		return errors.New("esignet: client without ClientID")
	case c.PublicJWK == nil:
		return fmt.Errorf("esignet: client %s has no PublicJWK", c.ClientID)
	case len(c.RedirectURIs) == 0:
		return fmt.Errorf("esignet: client %s has no RedirectURIs", c.ClientID)
	case c.UserinfoJWE && c.ClientEncryptionKey == nil:
		return fmt.Errorf("esignet: client %s wants JWE userinfo but has no ClientEncryptionKey", c.ClientID)
	}
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	c.Claims = append([]string(nil), c.Claims...)
	c.ACRValues = append([]string(nil), c.ACRValues...)
	if c.Name == "" {
		c.Name = c.ClientID
	}
	if c.RelyingPartyID == "" {
		c.RelyingPartyID = c.ClientID
	}
	if len(c.Claims) == 0 {
		c.Claims = append([]string(nil), SupportedClaims...)
	}
	if len(c.ACRValues) == 0 {
		c.ACRValues = []string{"mosip:idp:acr:generated-code"}
	}
	s.mu.Lock()
	s.clients[c.ClientID] = c
	s.mu.Unlock()
	return nil
}

func (s *Server) client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// Register installs the endpoints on mux under the path prefix.
func (s *Server) Register(mux *http.ServeMux) {
	h := func(pattern, endpoint string, f http.HandlerFunc) {
		var handler http.Handler = s.counted(endpoint, f)
		if s.wrap != nil {
			handler = s.wrap(endpoint, handler)
		}
		mux.Handle(pattern, handler)
	}
	p := s.prefix
	h("GET "+p+AuthorizePath, EndpointAuthorize, s.serveAuthorizePage)
	h("POST "+p+AuthorizePath, EndpointAuthorize, s.serveAuthorizeSubmit)
	h("POST "+p+TokenPath, EndpointToken, func(w http.ResponseWriter, r *http.Request) { s.serveToken(w, r, true) })
	h("POST "+p+LegacyTokenPath, EndpointToken, func(w http.ResponseWriter, r *http.Request) { s.serveToken(w, r, false) })
	// Other methods on the token endpoints get eSignet's JSON 405, not the
	// mux's plain-text one.
	h(p+TokenPath, EndpointToken, serveTokenMethodNotAllowed)
	h(p+LegacyTokenPath, EndpointToken, serveTokenMethodNotAllowed)
	h("GET "+p+UserinfoPath, EndpointUserinfo, s.serveUserinfo)
	h("GET "+p+JWKSPath, EndpointJWKS, s.serveJWKS)
	h("GET "+p+OAuthJWKSPath, EndpointJWKS, s.serveJWKS)
	h("GET "+p+DiscoveryPath, EndpointDiscovery, s.serveDiscovery)
	h("GET "+p+OAuthDiscoveryPath, EndpointDiscovery, s.serveOAuthDiscovery)
}

func (s *Server) counted(endpoint string, f http.HandlerFunc) http.HandlerFunc {
	v, _ := s.calls.LoadOrStore(endpoint, new(atomic.Int64))
	n := v.(*atomic.Int64)
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		f(w, r)
	}
}

// Calls returns how many requests an endpoint (Endpoint*) has received.
func (s *Server) Calls(endpoint string) int64 {
	if v, ok := s.calls.Load(endpoint); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// FailKYCExchange makes the next n token requests that pass every check fail
// as eSignet does when IDA's KYC exchange fails: HTTP 400 invalid_request /
// kyc_exchange_failed, with the code left unused (it can be retried).
func (s *Server) FailKYCExchange(n int) { s.kycFail.Store(int64(n)) }

// PublicKey is eSignet's signing key (the one in the JWKS).
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// KeyID is the kid of the signing key in the JWKS and token headers.
func (s *Server) KeyID() string { return s.kid }

// Issuer returns the configured issuer ("" when derived per request).
func (s *Server) Issuer() string { return s.issuer }

// PSUT returns the partner-specific user token (the sub) the person with
// individualID (UIN or VID) gets at the client: MOSIP's token ID of the UIN
// for the client's relying party.
func (s *Server) PSUT(individualID, clientID string) (string, error) {
	c, ok := s.client(clientID)
	if !ok {
		return "", fmt.Errorf("esignet: unknown client %q", clientID)
	}
	id, err := s.reg.Lookup(individualID)
	if err != nil {
		return "", err
	}
	return s.psut(id.UIN, c), nil
}

func (s *Server) psut(uin string, c Client) string {
	return mosip.GenerateTokenID(uin, c.RelyingPartyID, s.uinSalt, s.partnerSalt, mosip.DefaultTokenIDLength)
}

// issuerFor is the issuer as seen by r.
func (s *Server) issuerFor(r *http.Request) string {
	if s.issuer != "" {
		return s.issuer
	}
	scheme := "http"
	if r != nil && r.TLS != nil {
		scheme = "https"
	}
	host := "localhost"
	if r != nil && r.Host != "" {
		host = r.Host
	}
	return scheme + "://" + host + s.prefix
}

type jwk struct {
	Kty     string   `json:"kty"`
	Kid     string   `json:"kid"`
	Use     string   `json:"use"`
	Alg     string   `json:"alg"`
	N       string   `json:"n"`
	E       string   `json:"e"`
	X5c     []string `json:"x5c,omitempty"`
	X5tS256 string   `json:"x5t#S256,omitempty"`
	Exp     int64    `json:"exp,omitempty"`
}

func rsaJWK(pub *rsa.PublicKey, kid string, certDER []byte, notAfter time.Time) jwk {
	k := jwk{Kty: "RSA", Kid: kid, Use: "sig", Alg: "RS256",
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	if certDER != nil {
		sum := sha256.Sum256(certDER)
		k.X5c = []string{base64.StdEncoding.EncodeToString(certDER)}
		k.X5tS256 = base64.RawURLEncoding.EncodeToString(sum[:])
		k.Exp = notAfter.Unix()
	}
	return k
}

// JWKS returns the published key set.
func (s *Server) JWKS() map[string]any {
	keys := []jwk{}
	notAfter := time.Time{}
	if c, err := x509.ParseCertificate(s.keyCert); err == nil {
		notAfter = c.NotAfter
	}
	keys = append(keys, rsaJWK(&s.key.PublicKey, s.kid, s.keyCert, notAfter))
	if s.uiSigner != nil && s.publishUISigner {
		keys = append(keys, rsaJWK(&s.uiSigner.Key.PublicKey, s.uiKid, s.uiSigner.DER, s.uiSigner.Cert.NotAfter))
	}
	return map[string]any{"keys": keys}
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.JWKS())
}

// Discovery returns the OpenID provider metadata as served to r.
func (s *Server) Discovery(r *http.Request) map[string]any {
	iss := s.issuerFor(r)
	return map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + AuthorizePath,
		"token_endpoint":                        iss + TokenPath,
		"userinfo_endpoint":                     iss + UserinfoPath,
		"jwks_uri":                              iss + JWKSPath,
		"scopes_supported":                      []string{"openid", "profile", "email", "phone"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"pairwise"},
		"acr_values_supported":                  []string{"mosip:idp:acr:static-code", "mosip:idp:acr:generated-code", "mosip:idp:acr:linked-wallet", "mosip:idp:acr:biometrics"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256"},
		"id_token_signing_alg_values_supported":            []string{"RS256"},
		"userinfo_signing_alg_values_supported":            []string{"RS256"},
		"userinfo_encryption_alg_values_supported":         []string{"RSA-OAEP-256"},
		"userinfo_encryption_enc_values_supported":         []string{"A256GCM"},
		"claim_types_supported":                            []string{"normal"},
		"claims_parameter_supported":                       true,
		"claims_supported":                                 SupportedClaims,
		"claims_locales_supported":                         s.locales,
		"ui_locales_supported":                             s.locales,
		"display_values_supported":                         []string{"page", "popup", "touch", "wap"},
	}
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Discovery(r))
}

// serveOAuthDiscovery is eSignet's RFC 8414 document (its oauth.key-values).
func (s *Server) serveOAuthDiscovery(w http.ResponseWriter, r *http.Request) {
	d := s.Discovery(r)
	out := map[string]any{}
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "scopes_supported",
		"response_types_supported", "response_modes_supported", "grant_types_supported",
		"token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported"} {
		out[k] = d[k]
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// thumbprint is the RFC 7638 JWK thumbprint of an RSA key, used as its kid.
func thumbprint(pub *rsa.PublicKey) string {
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func selfSign(key *rsa.PrivateKey, cn string) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"mosip-crvs-bridge sandbox"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("esignet: signing certificate: %w", err)
	}
	return der, nil
}

// randomToken is 32 random bytes, base64url: the shape of eSignet's codes
// and transaction ids.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashKey is how eSignet keys codes and access tokens in its caches: the
// OIDC at_hash construction (left half of SHA-256, base64url).
func hashKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// localeCodes maps ISO 639-1 codes to the 639-2 codes MOSIP stores data in.
var localeCodes = map[string]string{"en": "eng", "fr": "fra", "fre": "fra", "ar": "ara", "es": "spa", "pt": "por",
	"sw": "swa", "hi": "hin", "ta": "tam", "kn": "kan", "km": "khm", "am": "amh", "de": "deu", "ger": "deu"}

func normLocale(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	if m, ok := localeCodes[l]; ok {
		return m
	}
	return l
}
