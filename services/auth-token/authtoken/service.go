// Package authtoken is the auth-token service: it holds the MOSIP client
// credentials, obtains tokens from the MOSIP auth manager and hands them to
// the other services over gRPC (AuthTokenService), from a two-level cache
// (process memory, then Redis shared by replicas) with refresh ahead of
// expiry, so that MOSIP sees about one authentication per client per half
// token lifetime however many business calls the bridge makes.
//
// main and the all-in-one runner use Run; tests and embedders can use New,
// Register and Close directly.
package authtoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/authmanager"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/tokencache"
)

// drainTimeout bounds graceful shutdown: in-flight GetToken calls are short
// (a cache hit, or one auth manager call bounded by MOSIP_REQUEST_TIMEOUT).
const drainTimeout = 10 * time.Second

// Service is a configured auth-token service, ready to be registered on a
// gRPC server.
type Service struct {
	cache *tokencache.Cache
	rdb   *redis.Client
	log   *slog.Logger
}

// options are the seams tests use; production code passes none.
type options struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	transport      http.RoundTripper
	cache          func(*tokencache.Options)
}

// New validates cfg and builds the service. It contacts neither MOSIP nor
// Redis beyond a short reachability check whose failure is only logged:
// without Redis the service still answers, from process memory.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Service, error) {
	return newService(ctx, cfg, logger, options{})
}

func newService(ctx context.Context, cfg Config, logger *slog.Logger, o options) (*Service, error) {
	if logger == nil {
		return nil, errors.New("auth-token: logger is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth-token: invalid configuration: %w", err)
	}
	m := cfg.Profile.MOSIP
	am, err := authmanager.New(authmanager.Options{
		URL: m.AuthURL, Timeout: m.RequestTimeout, DefaultTTL: m.TokenDefaultTTL,
		Transport: o.transport, TracerProvider: o.tracerProvider, MeterProvider: o.meterProvider,
	})
	if err != nil {
		return nil, fmt.Errorf("auth-token: %w", err)
	}
	s := &Service{log: logger}
	var store tokencache.Store
	if cfg.RedisURL != "" {
		s.rdb, err = tokencache.DialRedis(cfg.RedisURL, o.tracerProvider, logger)
		if err != nil {
			return nil, fmt.Errorf("auth-token: %w", err)
		}
		var sealer *tokencache.Sealer
		if cfg.CacheKey != "" {
			key, err := tokencache.ParseSealKey(cfg.CacheKey.Value())
			if err == nil {
				sealer, err = tokencache.NewSealer(key)
				clear(key)
			}
			if err != nil {
				_ = s.closeRedis()
				return nil, fmt.Errorf("auth-token: AUTH_TOKEN_CACHE_KEY: %w", err)
			}
		} else {
			logger.Warn("MOSIP tokens are kept in Redis in the clear; set AUTH_TOKEN_CACHE_KEY (32 random bytes, base64) to encrypt them")
		}
		store = tokencache.NewRedisStore(s.rdb, sealer)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := s.rdb.Ping(pctx).Err(); err != nil {
			logger.Warn("Redis unreachable at start-up; tokens are cached per process until it answers",
				slog.String("redis", tokencache.RedactRedisURL(cfg.RedisURL)), slog.String("error", err.Error()))
		}
		cancel()
	}
	var clients []tokencache.Client
	for name, c := range m.Clients() {
		clients = append(clients, tokencache.Client{
			Name:        name,
			Credentials: authmanager.Credentials{ClientID: c.ClientID, Secret: c.Secret, AppID: c.AppID},
		})
	}
	copts := tokencache.Options{
		Profile:                  cfg.Profile.Name,
		KeyPrefix:                cfg.RedisKeyPrefix,
		Clients:                  clients,
		Fetcher:                  am,
		Store:                    store,
		Policy:                   tokencache.Policy{Skew: cfg.ExpirySkew, RefreshFraction: cfg.RefreshFraction},
		FetchTimeout:             m.RequestTimeout,
		MinForcedRefreshInterval: cfg.MinForcedRefreshInterval,
		Logger:                   logger,
		TracerProvider:           o.tracerProvider,
		MeterProvider:            o.meterProvider,
	}
	if o.cache != nil {
		o.cache(&copts)
	}
	s.cache, err = tokencache.New(copts)
	if err != nil {
		_ = s.closeRedis()
		return nil, fmt.Errorf("auth-token: %w", err)
	}
	storeDesc := "memory (this process only)"
	if cfg.RedisURL != "" {
		storeDesc = "redis " + tokencache.RedactRedisURL(cfg.RedisURL)
		if cfg.CacheKey != "" {
			storeDesc += ", entries encrypted"
		}
	}
	logger.Info("auth-token configured", slog.String("profile", cfg.Profile.Name),
		slog.Any("clients", s.cache.Clients()), slog.String("cache", storeDesc),
		slog.String("auth_url", m.AuthURL.Redacted()))
	return s, nil
}

// Register adds AuthTokenService to a gRPC server (a *grpc.Server or the
// one embedded in *rpc.Server).
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	authtokenv1.RegisterAuthTokenServiceServer(srv, &server{svc: s})
}

// Close stops background refreshes and closes the Redis client. Call it
// after the gRPC server has stopped.
func (s *Service) Close() error {
	return errors.Join(s.cache.Close(), s.closeRedis())
}

func (s *Service) closeRedis() error {
	if s.rdb == nil {
		return nil
	}
	return s.rdb.Close()
}

// Run builds the service, serves it on lis with the standard gRPC server
// (health, reflection, telemetry, recovery) until ctx is done, drains
// in-flight calls for up to 10 s and closes everything. lis is closed on
// return.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	return run(ctx, cfg, logger, lis, options{})
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener, o options) error {
	svc, err := newService(ctx, cfg, logger, o)
	if err != nil {
		_ = lis.Close()
		return err
	}
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		_ = lis.Close()
		return errors.Join(fmt.Errorf("auth-token: %w", err), svc.Close())
	}
	svc.Register(srv.Server)
	srv.SetServing(authtokenv1.AuthTokenService_ServiceDesc.ServiceName, true)
	logger.Info("auth-token serving", slog.String("addr", lis.Addr().String()))
	if cfg.WarmUp {
		go svc.WarmUp(ctx, cfg.Profile.MOSIP.RequestTimeout)
	}
	err = srv.Serve(ctx, lis, drainTimeout)
	return errors.Join(err, svc.Close())
}

// WarmUp fetches (or, from Redis, adopts) a token for every client so the
// first business call does not wait for MOSIP and a misconfigured client
// shows up in the logs and ListClientStates at start-up, not at the first
// registration. Failures are only logged: GetToken retries on demand.
func (s *Service) WarmUp(ctx context.Context, timeout time.Duration) {
	for _, name := range s.cache.Clients() {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		if _, err := s.cache.Get(cctx, name); err != nil && ctx.Err() == nil {
			s.log.Warn("could not obtain a MOSIP token at start-up; will retry on demand",
				slog.String("client", name), slog.String("error", err.Error()))
		}
		cancel()
	}
}
