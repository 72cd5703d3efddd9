// Package process holds what every binary's main does the same way: a
// context cancelled by SIGINT/SIGTERM, one exit, the logger and telemetry
// built from the loaded configuration, and a listener whose "address in use"
// error tells the operator which variable picks another address.
package process

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

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/telemetry"
)

// Main runs realMain with a context that ends on SIGINT or SIGTERM, and
// exits 1 printing "<name>: <error>" when it fails.
func Main(name string, realMain func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Binary describes a server binary whose configuration is loaded.
type Binary struct {
	// Name is the service name in logs, traces and metrics.
	Name string
	// Version is stamped at build time.
	Version string
	// Logging is the loaded log configuration.
	Logging config.Logging
	// Addr is the listen address and AddrEnv the variable that sets it.
	Addr, AddrEnv string
	// Config, when set, is logged at start-up with secrets redacted.
	Config any
}

// telemetryFlush bounds the final export of spans and metrics.
const telemetryFlush = 5 * time.Second

// Run builds the logger and telemetry, binds Addr and calls serve until it
// returns (serve stops when ctx ends), then flushes telemetry.
func (b Binary) Run(ctx context.Context, serve func(ctx context.Context, logger *slog.Logger, lis net.Listener) error) error {
	logger := logging.New(os.Stderr, logging.Options{Format: b.Logging.Format, Level: b.Logging.Level, Service: b.Name})
	if b.Config != nil {
		logger.Info("starting", append([]any{slog.String("version", b.Version)}, config.LogAttrs(b.Config)...)...)
	}
	tel, err := telemetry.Setup(ctx, b.Name, b.Version)
	if err != nil {
		return err
	}
	defer func() {
		if err := tel.Shutdown(telemetryFlush); err != nil {
			logger.Warn("flushing telemetry failed", slog.String("error", err.Error()))
		}
	}()
	lis, err := Listen(b.Addr, b.AddrEnv)
	if err != nil {
		return err
	}
	return serve(ctx, logger, lis)
}

// Listen binds a TCP address; when it is taken, the error names the
// variable env that chooses another one.
func Listen(addr, env string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err == nil {
		return lis, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		hint := fmt.Sprintf("set %s to another address, e.g. %s=127.0.0.1:0 for any free port", env, env)
		if env == "PORT" {
			hint = "set PORT to choose another port, e.g. PORT=2025"
		}
		return nil, fmt.Errorf("%s is already in use by another process: %s", addr, hint)
	}
	return nil, fmt.Errorf("listen on %s (%s): %w", addr, env, err)
}
