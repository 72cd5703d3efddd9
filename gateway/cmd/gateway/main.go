// Command gateway serves the bridge's REST edge: the HTTP contract of the
// TypeScript mosip-api in front of the gRPC services. Configuration comes
// from the environment (see docs/gateway.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mosipcrvs/bridge/gateway"
	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const (
	serviceName       = "gateway"
	telemetryShutdown = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The configured logger does not exist yet when the configuration is
	// invalid, so failures are reported with the default JSON one.
	logger := logging.New(os.Stderr, logging.Options{Service: serviceName})
	err := realMain(ctx)
	stop()
	if err != nil {
		logger.Error("gateway failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg gateway.Config
	if err := config.Load(&cfg, nil); err != nil {
		return err
	}
	logger := logging.New(os.Stderr, logging.Options{Format: cfg.Logging.Format, Level: cfg.Logging.Level, Service: serviceName})
	logger.Info("starting", append([]any{slog.String("version", version)}, config.LogAttrs(&cfg)...)...)

	providers, err := telemetry.Setup(ctx, serviceName, version)
	if err != nil {
		return err
	}
	defer func() {
		if serr := providers.Shutdown(telemetryShutdown); serr != nil {
			logger.Warn("flushing telemetry failed", slog.String("error", serr.Error()))
		}
	}()

	lis, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d is already taken on %s (another process is listening there); set PORT to choose another port", cfg.Port, cfg.Host)
		}
		return fmt.Errorf("listening on %s: %w", cfg.Addr(), err)
	}
	return gateway.Run(ctx, cfg, logger, lis)
}
