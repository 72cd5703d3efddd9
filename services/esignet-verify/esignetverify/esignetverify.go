// Package esignetverify is the esignet-verify service: eSignet OIDC sign-in and MOSIP IDA identity verification.
//
// This is the proto-backed skeleton laid down with the foundation: it serves
// EsignetVerifyService over gRPC with health, reflection and telemetry, and answers every RPC
// with codes.Unimplemented until its own issue fills it in.
package esignetverify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
)

// Config is the esignet-verify service's configuration.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9103" validate:"addr"`
	Logging    config.Logging
	TLS        config.GRPCTLS
}

// server answers every RPC with Unimplemented (embedded) for now.
type server struct {
	esignetverifyv1.UnimplementedEsignetVerifyServiceServer
}

// Register adds the EsignetVerifyService to srv.
func Register(srv *rpc.Server) {
	esignetverifyv1.RegisterEsignetVerifyServiceServer(srv.Server, &server{})
	srv.SetServing(esignetverifyv1.EsignetVerifyService_ServiceDesc.ServiceName, true)
}

// Run serves the esignet-verify gRPC API on lis until ctx is done, then stops gracefully.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		return fmt.Errorf("esignet-verify: %w", err)
	}
	Register(srv)
	logger.Info("esignet-verify serving", slog.String("addr", lis.Addr().String()))
	return srv.Serve(ctx, lis, 10*time.Second)
}
