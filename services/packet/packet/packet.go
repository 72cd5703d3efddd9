// Package packet is the packet service: CRVS registrations into MOSIP packets, with the transaction record.
//
// This is the proto-backed skeleton laid down with the foundation: it serves
// PacketService over gRPC with health, reflection and telemetry, and answers every RPC
// with codes.Unimplemented until its own issue fills it in.
package packet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

// Config is the packet service's configuration.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9102" validate:"addr"`
	Logging    config.Logging
	TLS        config.GRPCTLS
}

// server answers every RPC with Unimplemented (embedded) for now.
type server struct {
	packetv1.UnimplementedPacketServiceServer
}

// Register adds the PacketService to srv.
func Register(srv *rpc.Server) {
	packetv1.RegisterPacketServiceServer(srv.Server, &server{})
	srv.SetServing(packetv1.PacketService_ServiceDesc.ServiceName, true)
}

// Run serves the packet gRPC API on lis until ctx is done, then stops gracefully.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		return fmt.Errorf("packet: %w", err)
	}
	Register(srv)
	logger.Info("packet serving", slog.String("addr", lis.Addr().String()))
	return srv.Serve(ctx, lis, 10*time.Second)
}
