// Command esignet-verify runs the esignet-verify gRPC service: eSignet
// sign-in whose userinfo is verified before use, and identity verification
// against MOSIP ID Authentication.
package main

import (
	"context"
	"log/slog"
	"net"
	"os"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/services/esignet-verify/esignetverify"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	process.Main("esignet-verify", func(ctx context.Context) error { return realMain(ctx, os.LookupEnv) })
}

func realMain(ctx context.Context, lookup config.Lookuper) error {
	var cfg esignetverify.Config
	if err := config.Load(&cfg, lookup); err != nil {
		return err
	}
	b := process.Binary{Name: "esignet-verify", Version: version, Logging: cfg.Logging,
		Addr: cfg.ListenAddr, AddrEnv: "GRPC_LISTEN_ADDR", Config: &cfg}
	return b.Run(ctx, func(ctx context.Context, logger *slog.Logger, lis net.Listener) error {
		return esignetverify.Run(ctx, cfg, logger, lis)
	})
}
