// Command auth-token runs the auth-token gRPC service: MOSIP auth manager
// tokens for the other services, cached in process and in Redis.
package main

import (
	"context"
	"log/slog"
	"net"
	"os"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/services/auth-token/authtoken"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	process.Main("auth-token", func(ctx context.Context) error { return realMain(ctx, os.LookupEnv) })
}

func realMain(ctx context.Context, lookup config.Lookuper) error {
	var cfg authtoken.Config
	if err := config.Load(&cfg, lookup); err != nil {
		return err
	}
	b := process.Binary{Name: "auth-token", Version: version, Logging: cfg.Logging,
		Addr: cfg.ListenAddr, AddrEnv: "GRPC_LISTEN_ADDR", Config: &cfg}
	return b.Run(ctx, func(ctx context.Context, logger *slog.Logger, lis net.Listener) error {
		return authtoken.Run(ctx, cfg, logger, lis)
	})
}
