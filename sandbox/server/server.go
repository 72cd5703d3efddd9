// Package server assembles the sandbox: emulated MOSIP (auth manager,
// packet manager, registration processor, WebSub hub, credential service,
// IDA), eSignet and OpenCRVS on one HTTP handler, with the keys each side
// needs, fault injection on every endpoint and an admin API for tests and
// demos. The all-in-one runner (`make run`) and the standalone sandbox
// binary both use it; the bridge's services only ever see its URLs.
package server

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mosipcrvs/bridge/sandbox/esignet"
	"github.com/mosipcrvs/bridge/sandbox/fault"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/pki"
)

// Keys are the bridge's side of the sandbox's key material: what a MOSIP
// deployment hands a CRVS partner.
type Keys struct {
	// Partner is the partner's key and certificate: credentials are
	// encrypted to it and IDA requests are signed with it.
	Partner *pki.Cert
	// IDA is IDA's partner-encryption certificate (the bridge encrypts IDA
	// session keys to it); its private key stays in the sandbox.
	IDA *pki.Cert
	// ESignetClient is the OIDC client's private key (private_key_jwt).
	ESignetClient *rsa.PrivateKey
}

// Sandbox is a running set of emulators.
type Sandbox struct {
	// URL is the sandbox's base URL.
	URL         string
	Config      Config
	Auth        *mosip.AuthManager
	Registry    *mosip.Registry
	Packets     *mosip.PacketManager
	RegProc     *mosip.RegistrationProcessor
	Hub         *mosip.Hub
	Credentials *mosip.CredentialService
	IDA         *mosip.IDA
	ESignet     *esignet.Server
	CRVS        *opencrvs.CRVS
	Faults      *fault.Injector
	Keys        Keys

	handler http.Handler
}

// routes maps the fault-injection endpoint names to the paths they cover.
var routes = []struct{ name, prefix string }{
	{"mosip.authmanager", "/v1/authmanager/"},
	{"mosip.packetmanager", "/commons/v1/packetmanager/"},
	{"mosip.regproc", "/registrationprocessor/"},
	{"mosip.websub", "/websub/hub"},
	{"mosip.websub", "/hub"},
	{"mosip.ida", "/idauthentication/"},
	{"mosip.datashare", "/v1/datashare/"},
	{"mosip.documents", "/.well-known/"},
	{"esignet", "/esignet/"},
	{"opencrvs.events", "/events/"},
	{"opencrvs.auth", "/auth/"},
	{"opencrvs.auth", "/.well-known"},
}

// Endpoints lists the fault-injection endpoint names.
func Endpoints() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range routes {
		if !seen[r.name] {
			seen[r.name] = true
			out = append(out, r.name)
		}
	}
	return out
}

// New builds every emulator. url is the base URL the sandbox is reached at
// (known once its listener is bound).
func New(cfg Config, url string, logger *slog.Logger) (*Sandbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	url = strings.TrimSuffix(url, "/")
	s := &Sandbox{URL: url, Config: cfg, Faults: fault.New(), Registry: mosip.NewRegistry(mosip.DefaultIdentities())}
	var err error
	ca, err := pki.NewCA("sandbox MOSIP CA")
	if err != nil {
		return nil, err
	}
	if s.Keys.Partner, err = ca.Issue(cfg.PartnerID); err != nil {
		return nil, err
	}
	if s.Keys.IDA, err = ca.Issue("IDA-PARTNER"); err != nil {
		return nil, err
	}
	esignetClient, err := ca.Issue(cfg.ESignetClientID)
	if err != nil {
		return nil, err
	}
	s.Keys.ESignetClient = esignetClient.Key

	if s.Auth, err = mosip.NewAuthManager(
		mosip.Client{ClientID: cfg.PacketClientID, Secret: cfg.PacketClientSecret.Value()},
		mosip.Client{ClientID: cfg.PartnerID, Secret: cfg.WebSubClientSecret.Value()},
	); err != nil {
		return nil, err
	}
	s.Auth.TokenLifetime = cfg.TokenLifetime
	s.Auth.Issuer = url + "/keycloak/auth/realms/mosip"

	if s.Packets, err = mosip.NewPacketManager(mosip.PacketManagerOptions{Auth: s.Auth, Logger: logger.With("emulator", "packetmanager")}); err != nil {
		return nil, err
	}
	s.Hub = mosip.NewHub(mosip.HubOptions{Auth: s.Auth, PublicURL: url + "/websub/hub", RetryBackoff: cfg.HubRetryBackoff,
		Logger: logger.With("emulator", "websub")})
	if s.Credentials, err = mosip.NewCredentialService(mosip.CredentialOptions{
		PartnerID: cfg.PartnerID, PartnerCert: s.Keys.Partner.Cert,
		Policy: mosip.CredentialPolicy(cfg.CredentialPolicy), Canonicalization: mosip.Canonicalization(cfg.Canonicalization),
		PublicBaseURL: url, DataShare: cfg.DataShare,
	}); err != nil {
		return nil, err
	}
	if s.RegProc, err = mosip.NewRegistrationProcessor(mosip.RegistrationProcessorOptions{
		Auth: s.Auth, Packets: s.Packets, Registry: s.Registry, Hub: s.Hub, Issuer: s.Credentials,
		CredentialPartners: []string{cfg.PartnerID}, ProcessingDelay: cfg.ProcessingDelay,
		MandatoryFields: map[string][]string{"CRVS_NEW": cfg.MandatoryCRVSNew},
		Logger:          logger.With("emulator", "regproc"),
	}); err != nil {
		return nil, err
	}
	if s.IDA, err = mosip.NewIDA(mosip.IDAOptions{
		Registry: s.Registry, IDACert: s.Keys.IDA, Lenient: cfg.IDALenient,
		Partners: []mosip.IDAPartner{{PartnerID: cfg.PartnerID, MISPLicenseKey: cfg.IDALicenseKey.Value(),
			APIKey: cfg.IDAAPIKey.Value(), Cert: s.Keys.Partner.Cert}},
		Logger: logger.With("emulator", "ida"),
	}); err != nil {
		return nil, err
	}
	if s.ESignet, err = esignet.New(esignet.Options{
		Registry: s.Registry, Issuer: url + "/esignet",
		Clients: []esignet.Client{{ClientID: cfg.ESignetClientID, PublicJWK: &s.Keys.ESignetClient.PublicKey,
			RedirectURIs: cfg.ESignetRedirectURIs, RelyingPartyID: cfg.PartnerID}},
		Logger: logger.With("emulator", "esignet"),
	}); err != nil {
		return nil, err
	}
	if s.CRVS, err = opencrvs.NewCRVS(opencrvs.CRVSOptions{
		Clients: []opencrvs.SystemClient{{ID: cfg.OpenCRVSClientID, Secret: cfg.OpenCRVSClientSecret.Value(),
			Scopes: []string{opencrvs.ScopeActionAccept, opencrvs.ScopeActionReject, opencrvs.ScopeRead}}},
		Logger: logger.With("emulator", "opencrvs"),
	}); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("POST "+mosip.AuthPath, s.Auth)
	s.Packets.Register(mux)
	s.RegProc.Register(mux)
	s.Hub.Register(mux)
	s.Credentials.Register(mux)
	s.IDA.Register(mux)
	s.ESignet.Register(mux)
	s.CRVS.Register(mux)
	s.registerAdmin(mux)
	s.handler = s.withFaults(mux)
	rules, err := cfg.FaultRules()
	if err != nil {
		return nil, err
	}
	for name, r := range rules {
		if err := s.Faults.Set(name, r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handler serves every emulator and the admin API.
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Close stops background work (processing, deliveries).
func (s *Sandbox) Close() error {
	s.Hub.Close()
	return errors.Join(s.RegProc.Close())
}

// withFaults applies the fault rules of the endpoint a path belongs to;
// the admin API is never faulted.
func (s *Sandbox) withFaults(next http.Handler) http.Handler {
	wrapped := map[string]http.Handler{}
	for _, r := range routes {
		if wrapped[r.name] == nil {
			wrapped[r.name] = s.Faults.Wrap(r.name, next)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routes {
			if r.URL.Path == rt.prefix || (strings.HasSuffix(rt.prefix, "/") && strings.HasPrefix(r.URL.Path, rt.prefix)) {
				wrapped[rt.name].ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Describe lists what the sandbox serves, for start-up banners.
func (s *Sandbox) Describe() string {
	return fmt.Sprintf(`  MOSIP auth manager   %[1]s%[2]s
  packet manager       %[1]s/commons/v1/packetmanager/createPacket
  registration proc.   %[1]s/registrationprocessor/v1/workflowmanager/workflowinstance
  WebSub hub           %[1]s/websub/hub  (credential topic %[3]s)
  IDA                  %[1]s/idauthentication/v1/auth/{mispLK}/{partnerId}/{apiKey}
  eSignet              %[1]s/esignet/.well-known/openid-configuration
  OpenCRVS             %[1]s/events/… (tRPC), %[1]s/auth/token, %[1]s/.well-known (public key)
  admin                %[1]s/sandbox/admin`, s.URL, mosip.AuthPath, mosip.CredentialTopic(s.Config.PartnerID))
}
