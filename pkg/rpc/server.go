package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Logger receives request logs and recovered panics. Required.
	Logger *slog.Logger
	// TLS selects the transport: plaintext when CertFile is empty, TLS with
	// CertFile and KeyFile otherwise, and mTLS (client certificates required
	// and verified) when ClientCAFile is also set.
	TLS config.GRPCTLS
	// ExtraOptions are appended after the defaults, so they can override them.
	ExtraOptions []grpc.ServerOption
}

// Server is a *grpc.Server with a health service registered on it. Register
// services on the embedded server, then call Serve.
type Server struct {
	*grpc.Server
	// Health is the standard gRPC health service. The overall status ("")
	// is NOT_SERVING until Serve starts and again once it begins to stop.
	Health *health.Server
}

// NewServer builds a server with OpenTelemetry tracing, panic recovery,
// request logging, keepalive, TLS from files, the health service and server
// reflection.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Logger == nil {
		return nil, errors.New("rpc: ServerOptions.Logger is required")
	}
	creds, err := serverCredentials(o.TLS)
	if err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		// Logging wraps recovery so that a recovered panic is logged as Internal.
		grpc.ChainUnaryInterceptor(unaryLogging(o.Logger), unaryRecovery(o.Logger)),
		grpc.ChainStreamInterceptor(streamLogging(o.Logger), streamRecovery(o.Logger)),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 15 * time.Minute,
			Time:              time.Minute,
			Timeout:           20 * time.Second,
		}),
		// Must stay at or below the client keepalive Time set by Dial, or the
		// server would close client connections with "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
	}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	gs := grpc.NewServer(append(opts, o.ExtraOptions...)...)

	h := health.NewServer()
	// health.NewServer reports SERVING from the start; nothing is served
	// until Serve runs.
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(gs, h)
	reflection.Register(gs)
	return &Server{Server: gs, Health: h}, nil
}

// Serve serves on lis until ctx is done. It marks the overall health SERVING
// when it starts; on shutdown it marks every service NOT_SERVING and stops
// gracefully, letting in-flight RPCs finish for at most drain before closing
// every connection. Long-lived streams (such as health Watch) only end at
// that hard stop. Serve returns nil on a clean shutdown and the listener's
// error otherwise. A Server serves only once.
func (s *Server) Serve(ctx context.Context, lis net.Listener, drain time.Duration) error {
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()

	select {
	case err := <-errc:
		s.Health.Shutdown()
		s.Server.Stop()
		return err
	case <-ctx.Done():
	}

	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.Server.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.Server.Stop()
		<-stopped
	}
	// ErrServerStopped means the context was done before Serve got going.
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// SetServing marks a named service (e.g.
// "mosipcrvs.authtoken.v1.AuthTokenService") serving or not in the health
// service. It has no effect once Serve has begun to shut down.
func (s *Server) SetServing(service string, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.Health.SetServingStatus(service, st)
}

func serverCredentials(c config.GRPCTLS) (credentials.TransportCredentials, error) {
	if c.CertFile == "" {
		if c.ClientCAFile != "" {
			return nil, errors.New("rpc: TLS ClientCAFile needs CertFile and KeyFile")
		}
		return nil, nil
	}
	cfg, err := tlsConfig(c.CertFile, c.KeyFile, "", c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("rpc: server TLS: %w", err)
	}
	return credentials.NewTLS(cfg), nil
}
