// Command sandbox runs the emulated MOSIP, eSignet and OpenCRVS on their own,
// for people who want to point a real OpenCRVS or a separately started
// bridge at them. It prints the URLs, the credentials it accepts and where
// it wrote the bridge's keys. Configuration: SANDBOX_* variables (see
// docs/sandbox.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

func main() { process.Main("sandbox", realMain) }

func realMain(ctx context.Context) error {
	var cfg server.Config
	if err := config.Load(&cfg, os.LookupEnv); err != nil {
		return err
	}
	b := process.Binary{Name: "sandbox", Version: "dev", Logging: cfg.Logging, Addr: cfg.Addr, AddrEnv: "SANDBOX_ADDR"}
	return b.Run(ctx, func(ctx context.Context, logger *slog.Logger, lis net.Listener) error {
		url := cfg.PublicURL
		if url == "" {
			url = "http://" + lis.Addr().String()
		}
		sb, err := server.New(cfg, url, logger)
		if err != nil {
			return err
		}
		defer func() { _ = sb.Close() }()
		if _, err := sb.WriteKeys(cfg.KeysDir); err != nil {
			return err
		}
		fmt.Printf("sandbox listening on %s\n%s\n\nMOSIP clients: packet %q, websub %q (the partner id)\nbridge keys written to %s (partner key/cert, IDA cert, eSignet client key)\n",
			url, sb.Describe(), cfg.PacketClientID, cfg.PartnerID, cfg.KeysDir)
		srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}
