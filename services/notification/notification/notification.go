// Package notification is the notification service: WebSub subscriptions and callbacks, confirmations back to the CRVS.
//
// This is the proto-backed skeleton laid down with the foundation: it serves
// NotificationService over gRPC with health, reflection and telemetry, and answers every RPC
// with codes.Unimplemented until its own issue fills it in.
package notification

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
)

// Config is the notification service's configuration.
type Config struct {
	// ListenAddr is where the gRPC server listens.
	ListenAddr string `env:"GRPC_LISTEN_ADDR" default:"127.0.0.1:9104" validate:"addr"`
	Logging    config.Logging
	TLS        config.GRPCTLS
}

// server answers every RPC with Unimplemented (embedded) for now.
type server struct {
	notificationv1.UnimplementedNotificationServiceServer
}

// Register adds the NotificationService to srv.
func Register(srv *rpc.Server) {
	notificationv1.RegisterNotificationServiceServer(srv.Server, &server{})
	srv.SetServing(notificationv1.NotificationService_ServiceDesc.ServiceName, true)
}

// Run serves the notification gRPC API on lis until ctx is done, then stops gracefully.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, lis net.Listener) error {
	srv, err := rpc.NewServer(rpc.ServerOptions{Logger: logger, TLS: cfg.TLS})
	if err != nil {
		return fmt.Errorf("notification: %w", err)
	}
	Register(srv)
	logger.Info("notification serving", slog.String("addr", lis.Addr().String()))
	return srv.Serve(ctx, lis, 10*time.Second)
}
