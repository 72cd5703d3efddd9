// Command packet runs the packet gRPC service.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/telemetry"
	"github.com/mosipcrvs/bridge/services/packet/packet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "packet:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg packet.Config
	if err := config.Load(&cfg, os.LookupEnv); err != nil {
		return err
	}
	logger := logging.New(os.Stderr, logging.Options{Format: cfg.Logging.Format, Level: cfg.Logging.Level, Service: "packet"})
	tel, err := telemetry.Setup(ctx, "packet", "dev")
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(5 * time.Second) }()
	lis, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on GRPC_LISTEN_ADDR=%s: %w", cfg.ListenAddr, err)
	}
	return packet.Run(ctx, cfg, logger, lis)
}
