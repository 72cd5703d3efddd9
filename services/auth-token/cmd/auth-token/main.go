// Command auth-token runs the auth-token gRPC service: MOSIP auth manager
// tokens for the other services, cached in process and in Redis.
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
	"github.com/mosipcrvs/bridge/services/auth-token/authtoken"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.LookupEnv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "auth-token:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, lookup config.Lookuper) error {
	var cfg authtoken.Config
	if err := config.Load(&cfg, lookup); err != nil {
		return err
	}
	logger := logging.New(os.Stderr, logging.Options{Format: cfg.Logging.Format, Level: cfg.Logging.Level, Service: "auth-token"})
	tel, err := telemetry.Setup(ctx, "auth-token", version)
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(5 * time.Second) }()
	lis, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on GRPC_LISTEN_ADDR=%s: %w", cfg.ListenAddr, err)
	}
	return authtoken.Run(ctx, cfg, logger, lis)
}
