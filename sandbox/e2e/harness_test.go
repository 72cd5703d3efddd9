package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

// startSandbox serves a fresh sandbox on loopback with quick processing
// and hub retries; over overrides its settings, and wrap (optional) stands
// in front of its handler (a tap that holds or drops requests).
func startSandbox(tb testing.TB, over map[string]string, wrap func(http.Handler) http.Handler) (*server.Sandbox, *httptest.Server) {
	tb.Helper()
	settings := map[string]string{"SANDBOX_PROCESSING_DELAY": "10ms", "SANDBOX_HUB_RETRY_BACKOFF": "10ms"}
	maps.Copy(settings, over)
	var cfg server.Config
	if err := config.Load(&cfg, config.MapLookuper(settings)); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sb, err := server.New(cfg, "http://"+srv.Listener.Addr().String(), logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = sb.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv.Config.Handler = h
	srv.Start()
	tb.Cleanup(func() { srv.Close(); _ = sb.Close() })
	return sb, srv
}

// bridgeEnv is the configuration of the whole bridge pointed at sb, as
// `make run` builds it: every listener on a free loopback port, SQLite
// files in fresh temporary directories, a fresh token key, the sandbox's
// keys written out for esignet-verify and notification.
func bridgeEnv(tb testing.TB, sb *server.Sandbox) map[string]string {
	tb.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	dir := tb.TempDir()
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": "0",
		"AUTH_TOKEN_ADDR": "127.0.0.1:0", "PACKET_ADDR": "127.0.0.1:0",
		"ESIGNET_VERIFY_ADDR": "127.0.0.1:0", "NOTIFICATION_ADDR": "127.0.0.1:0",
		"MOSIP_AUTH_URL":                  sb.URL + mosip.AuthPath,
		"MOSIP_PACKET_AUTH_CLIENT_ID":     sb.Config.PacketClientID,
		"MOSIP_PACKET_AUTH_CLIENT_SECRET": sb.Config.PacketClientSecret.Value(),
		"MOSIP_WEBSUB_AUTH_CLIENT_ID":     sb.Config.PartnerID,
		"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": sb.Config.WebSubClientSecret.Value(),
		"MOSIP_CREATE_PACKET_URL":         sb.URL + mosip.CreatePacketPath,
		"MOSIP_PROCESS_PACKET_URL":        sb.URL + mosip.WorkflowInstancePath,
		"CLIENT_APP_URL":                  "http://localhost:3000",
		"OPENCRVS_PUBLIC_KEY_URL":         sb.URL + "/.well-known",
		"PACKET_SQLITE_PATH":              filepath.Join(dir, "packet.db"),
		"PACKET_TOKEN_KEYS":               "k1:" + base64.StdEncoding.EncodeToString(key),
		"PACKET_SYNC_DEADLINE":            "5s",
	}
	files, err := sb.WriteKeys(filepath.Join(dir, "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	maps.Copy(env, allinone.ESignetVerifySandboxEnv(sb, files))
	maps.Copy(env, allinone.NotificationSandboxEnv(sb, files))
	env["NOTIFICATION_SQLITE_PATH"] = filepath.Join(dir, "notification.db")
	return env
}

// startSystem runs the all-in-one bridge with env until the test ends.
func startSystem(tb testing.TB, env map[string]string) *allinone.System {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := allinone.Start(ctx, allinone.Options{Logger: logging.Discard(), Lookup: config.MapLookuper(env)})
	if err != nil {
		cancel()
		tb.Fatalf("allinone.Start = %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := sys.Wait(); err != nil {
			tb.Errorf("Wait() = %v", err)
		}
	})
	return sys
}
