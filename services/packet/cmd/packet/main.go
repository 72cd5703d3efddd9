// Command packet runs the packet gRPC service.
package main

import (
	"context"
	"log/slog"
	"net"
	"os"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/services/packet/packet"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() { process.Main("packet", realMain) }

func realMain(ctx context.Context) error {
	var cfg packet.Config
	if err := config.Load(&cfg, os.LookupEnv); err != nil {
		return err
	}
	b := process.Binary{Name: "packet", Version: version, Logging: cfg.Logging, Addr: cfg.ListenAddr, AddrEnv: "GRPC_LISTEN_ADDR"}
	return b.Run(ctx, func(ctx context.Context, logger *slog.Logger, lis net.Listener) error {
		return packet.Run(ctx, cfg, logger, lis)
	})
}
