// Package esignetverify is the esignet-verify service: people identified
// with certainty, either by signing in with eSignet (the userinfo is
// verified before its claims fill the OpenCRVS form) or by checking their
// national id and demographics against MOSIP ID Authentication.
//
// main and the all-in-one runner use Run; tests and embedders can use New
// and Register directly.
package esignetverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/ida"
)

// ScopeName is the instrumentation scope of the service's tracer and meter.
const ScopeName = "github.com/mosipcrvs/bridge/services/esignet-verify"

// drainTimeout bounds graceful shutdown: an RPC makes at most two IDA
// attempts or one eSignet exchange, each bounded by its timeout.
const drainTimeout = 15 * time.Second

// Service is a configured esignet-verify service, ready to be registered
// on a gRPC server.
type Service struct {
	log     *slog.Logger
	metrics *metrics

	ida       *ida.Client
	idaIDType string

	esignet     *esignet.Client
	clientID    string
	redirectURI string
	mapping     esignet.Mapping

	callbackOrigins []string
}

// options are the seams tests use; production code passes none.
type options struct {
	transport http.RoundTripper
	now       func() time.Time
}

// New validates cfg, reads the keys and certificates it names and builds
// the service. It contacts neither MOSIP nor eSignet.
func New(cfg Config, logger *slog.Logger) (*Service, error) {
	return newService(cfg, logger, options{})
}

func newService(cfg Config, logger *slog.Logger, o options) (*Service, error) {
	if logger == nil {
		return nil, errors.New("esignet-verify: a logger is required")
	}
	var problems []error
	for _, v := range []interface{ Validate() error }{&cfg.ESignet, &cfg.IDA} {
		if err := v.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("esignet-verify: invalid configuration: %w", err)
	}
	tracer := otel.GetTracerProvider().Tracer(ScopeName)
	m, err := newMetrics(otel.GetMeterProvider().Meter(ScopeName))
	if err != nil {
		return nil, fmt.Errorf("esignet-verify: metrics: %w", err)
	}
	s := &Service{log: logger, metrics: m}
	if cfg.IDA.Enabled() {
		if err := s.setUpIDA(cfg.IDA, tracer, o); err != nil {
			return nil, fmt.Errorf("esignet-verify: %w", err)
		}
	} else {
		logger.Warn("IDA verification is off: set IDA_AUTH_URL (and the partner settings) to verify identities")
	}
	if cfg.ESignet.Enabled() {
		if err := s.setUpESignet(cfg.ESignet, o); err != nil {
			return nil, fmt.Errorf("esignet-verify: %w", err)
		}
	} else {
		logger.Warn("eSignet sign-in is off: set ESIGNET_TOKEN_URL, ESIGNET_USERINFO_URL and OIDP_CLIENT_PRIVATE_KEY_PATH to exchange codes")
	}
	s.callbackOrigins = callbackOrigins(cfg.ESignet)
	return s, nil
}

func (s *Service) setUpIDA(c IDAConfig, tracer trace.Tracer, o options) error {
	ks, err := mosipcrypto.LoadKeystoreFile(c.SignP12Path, c.SignP12Password.Value())
	if err != nil {
		return fmt.Errorf("SIGN_P12_FILE_PATH: %w", err)
	}
	idaCert, err := mosipcrypto.LoadCertificateFile(c.EncryptCertPath)
	if err != nil {
		return fmt.Errorf("ENCRYPT_CERT_PATH: %w", err)
	}
	genders, err := genderMap(c.GenderMapping)
	if err != nil {
		return fmt.Errorf("IDA_GENDER_MAPPING: %w", err)
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	if time.Now().After(ks.Cert.NotAfter) {
		s.log.Warn("the partner certificate in SIGN_P12_FILE_PATH has expired; IDA will refuse the signatures",
			slog.Time("not_after", ks.Cert.NotAfter))
	}
	s.ida, err = ida.NewClient(ida.Options{
		AuthURL: c.AuthURL.String(), MISPLicenseKey: c.MISPLicenseKey.Value(), PartnerID: c.PartnerID, APIKey: c.APIKey.Value(),
		Builder: &ida.Builder{Keystore: ks, IDACert: idaCert, DomainURI: c.DomainURI, Env: c.Env,
			NameLanguage: c.NameLanguage, NameFormat: c.NameFormat, Genders: genders, Now: now},
		Timeout: c.RequestTimeout, Transport: o.transport, Tracer: tracer,
	})
	if err != nil {
		return err
	}
	s.idaIDType = c.IndividualIDType
	s.log.Info("IDA verification on", slog.String("ida_url", c.AuthURL.Redacted()), slog.String("partner_id", c.PartnerID),
		slog.String("partner_cert_sha256", hexSum(ks.Cert.Raw)), slog.String("ida_cert_sha256", hexSum(idaCert.Raw)),
		slog.String("individual_id_type", c.IndividualIDType))
	return nil
}

func (s *Service) setUpESignet(c ESignetConfig, o options) error {
	key, err := esignet.LoadClientKeyFile(c.ClientPrivateKeyPath)
	if err != nil {
		return fmt.Errorf("OIDP_CLIENT_PRIVATE_KEY_PATH: %w", err)
	}
	opts := esignet.Options{
		TokenURL: c.TokenURL.String(), UserinfoURL: c.UserinfoURL.String(), ClientKey: key,
		AssertionAlgorithm: c.AssertionAlgorithm, AssertionAudience: c.AssertionAudience, AssertionTTL: c.AssertionTTL,
		Leeway: c.ClockSkew, JWKSMinRefresh: c.JWKSMinRefreshInterval, JWKSCacheTTL: c.JWKSCacheTTL,
		Timeout: c.RequestTimeout, Transport: o.transport, Now: o.now, Logger: s.log,
		Issuer: c.Issuer,
	}
	base := deriveBase(c.TokenURL)
	if opts.Issuer == "" {
		opts.Issuer = base
	}
	if !c.DisableJWKS {
		if c.JWKSURL != nil {
			opts.JWKSURL = c.JWKSURL.String()
		} else {
			opts.JWKSURL = base + "/oauth/.well-known/jwks.json"
		}
	}
	if c.DecryptionKeyPath != "" {
		dk, err := esignet.LoadClientKeyFile(c.DecryptionKeyPath)
		if err != nil {
			return fmt.Errorf("ESIGNET_USERINFO_DECRYPTION_KEY_PATH: %w", err)
		}
		opts.DecryptionKey = dk.Key
	}
	if c.UserinfoCertPath != "" {
		if opts.PinnedCerts, err = loadCertificates(c.UserinfoCertPath); err != nil {
			return fmt.Errorf("ESIGNET_USERINFO_CERT_PATH: %w", err)
		}
	}
	fields, err := esignet.ParseFieldMappings(c.ClaimMapping)
	if err != nil {
		return fmt.Errorf("ESIGNET_CLAIM_MAPPING: %w", err)
	}
	if s.esignet, err = esignet.New(opts); err != nil {
		return err
	}
	s.clientID = c.ClientID
	if c.RedirectURI != nil {
		s.redirectURI = c.RedirectURI.String()
	}
	s.mapping = esignet.Mapping{Language: c.ClaimsLanguage, NameShape: c.NameFormat, IDType: c.IDType, Fields: fields}
	s.log.Info("eSignet sign-in on", slog.String("token_url", c.TokenURL.Redacted()), slog.String("jwks_url", opts.JWKSURL),
		slog.String("issuer", opts.Issuer), slog.Int("pinned_certificates", len(opts.PinnedCerts)),
		slog.String("name_format", c.NameFormat))
	return nil
}

// Register adds EsignetVerifyService to a gRPC server (a *grpc.Server or
// the one embedded in *rpc.Server).
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	esignetverifyv1.RegisterEsignetVerifyServiceServer(srv, &server{svc: s})
}

// Run builds the service, serves it on lis with the standard gRPC server
// (health, reflection, telemetry, recovery) until ctx is done and drains
// in-flight calls. lis is closed on return.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	return run(ctx, cfg, logger, lis, options{})
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener, o options) error {
	svc, err := newService(cfg, logger, o)
	if err != nil {
		_ = lis.Close()
		return err
	}
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		_ = lis.Close()
		return fmt.Errorf("esignet-verify: %w", err)
	}
	svc.Register(srv.Server)
	srv.SetServing(esignetverifyv1.EsignetVerifyService_ServiceDesc.ServiceName, true)
	logger.Info("esignet-verify serving", slog.String("addr", lis.Addr().String()),
		slog.String("rsa_backend", mosipcrypto.RSABackend()))
	return srv.Serve(ctx, lis, drainTimeout)
}
