// Command gateway serves the bridge's REST edge: the HTTP contract of the
// TypeScript mosip-api in front of the gRPC services. Configuration comes
// from the environment (see docs/gateway.md).
package main

import (
	"context"
	"log/slog"
	"net"

	"github.com/mosipcrvs/bridge/gateway"
	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { process.Main("gateway", realMain) }

func realMain(ctx context.Context) error {
	var cfg gateway.Config
	if err := config.Load(&cfg, nil); err != nil {
		return err
	}
	b := process.Binary{Name: "gateway", Version: version, Logging: cfg.Logging, Addr: cfg.Addr(), AddrEnv: "PORT", Config: &cfg}
	return b.Run(ctx, func(ctx context.Context, logger *slog.Logger, lis net.Listener) error {
		return gateway.Run(ctx, cfg, logger, lis)
	})
}
