// Command bridge-dev runs the whole bridge on one machine for `make run`:
// the sandbox (emulated MOSIP, eSignet and OpenCRVS) and the
// gateway plus every service in one process, talking gRPC over loopback.
// Nothing outside this machine is needed: no Redis (in-process token cache
// unless REDIS_URL is set) and no Postgres.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge-dev:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	level := os.Getenv("LOG_LEVEL")
	if level == "" {
		level = "warn" // keep the terminal readable; LOG_LEVEL=info shows every request
	}
	logger := logging.New(os.Stderr, logging.Options{Format: "text", Level: level, Service: "bridge-dev"})

	var sbCfg server.Config
	if err := config.Load(&sbCfg, os.LookupEnv); err != nil {
		return err
	}
	lis, err := process.Listen(sbCfg.Addr, "SANDBOX_ADDR")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	sandboxURL := sbCfg.PublicURL
	if sandboxURL == "" {
		sandboxURL = "http://" + lis.Addr().String()
	}
	sb, err := server.New(sbCfg, sandboxURL, logger.With("component", "sandbox"))
	if err != nil {
		return err
	}
	defer func() { _ = sb.Close() }()
	keyFiles, err := sb.WriteKeys(sbCfg.KeysDir)
	if err != nil {
		return err
	}
	sandboxSrv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sandboxSrv.Serve(lis) }()
	defer func() { _ = sandboxSrv.Close() }()

	devKeyring, err := devTokenKeyring()
	if err != nil {
		return err
	}
	// The bridge's embedded defaults point at the sandbox; anything set in
	// the environment wins.
	defaults := map[string]string{
		"LOG_FORMAT":                      "text",
		"LOG_LEVEL":                       level,
		"MOSIP_AUTH_URL":                  sandboxURL + mosip.AuthPath,
		"MOSIP_PACKET_AUTH_CLIENT_ID":     sbCfg.PacketClientID,
		"MOSIP_PACKET_AUTH_CLIENT_SECRET": sbCfg.PacketClientSecret.Value(),
		"MOSIP_WEBSUB_AUTH_CLIENT_ID":     sbCfg.PartnerID,
		"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": sbCfg.WebSubClientSecret.Value(),
		"CLIENT_APP_URL":                  "http://localhost:3000",
		"OPENCRVS_PUBLIC_KEY_URL":         sandboxURL + "/.well-known",
		"OPENCRVS_GATEWAY_URL":            sandboxURL,
		"MOSIP_CREATE_PACKET_URL":         sandboxURL + "/commons/v1/packetmanager/createPacket",
		"MOSIP_PROCESS_PACKET_URL":        sandboxURL + "/registrationprocessor/v1/workflowmanager/workflowinstance",
		"PACKET_TOKEN_KEYS":               devKeyring,
		"HOST":                            "127.0.0.1",
	}
	maps.Copy(defaults, allinone.ESignetVerifySandboxEnv(sb, keyFiles))
	maps.Copy(defaults, allinone.NotificationSandboxEnv(sb, keyFiles))
	sys, err := allinone.Start(ctx, allinone.Options{
		Lookup: config.Layered(os.LookupEnv, config.MapLookuper(defaults)),
		Logger: logger,
	})
	if err != nil {
		return err
	}

	token, err := sb.CRVS.Auth().UserToken(opencrvs.UserTokenOptions{Subject: "dev-operator",
		Scopes: []string{opencrvs.EncodeScope("record.search")}, TTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	tokenFile, err := writeDevToken(token)
	if err != nil {
		return err
	}
	printWelcome(sys, sb, tokenFile)

	<-ctx.Done()
	fmt.Println("\nstopping…")
	if err := sys.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// devTokenKeyring returns the key that encrypts stored OpenCRVS tokens in
// .run/packet.db, made once and kept in .run so a restart can still read
// what an earlier run stored.
func devTokenKeyring() (string, error) {
	path := filepath.Join(".run", "packet-token-key")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return "dev:" + string(b), nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString(key)
	if err := os.MkdirAll(".run", 0o700); err != nil {
		return "", err
	}
	return "dev:" + enc, os.WriteFile(path, []byte(enc), 0o600)
}

func writeDevToken(token string) (string, error) {
	dir := ".run"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "dev-token")
	return path, os.WriteFile(path, []byte(token), 0o600)
}

func printWelcome(sys *allinone.System, sb *server.Sandbox, tokenFile string) {
	fmt.Printf(`
mosip-crvs-bridge is running: gateway and all services in one process, with the sandbox.

  REST gateway      %[1]s        (OpenAPI: %[1]s/openapi.json, health: %[1]s/readyz)
  auth-token gRPC   %[2]s
  packet gRPC       %[3]s
  esignet-verify    %[4]s
  notification      %[5]s

The sandbox (emulated MOSIP, eSignet and OpenCRVS; keys for the bridge in %[8]s):
%[6]s

Try it (a dev OpenCRVS token is in %[7]s):

  # 1. Ask auth-token for the "packet" client's MOSIP token over gRPC
  .bin/bridgectl -addr %[2]s token packet

  # 2. See each MOSIP client's token state through the REST edge (never the token itself)
  curl -s -H "Authorization: Bearer $(cat %[7]s)" %[1]s/v1/auth-token/clients

  # 3. Without a token the edge answers 401 {"error":"Unauthorized"}
  curl -si %[1]s/v1/auth-token/clients

  # 4. Register a sample birth (or death) the way OpenCRVS does: watch it reach MOSIP and come
  #    back as the confirmation OpenCRVS receives, with the child's national ID
  .bin/bridgectl -gateway %[1]s -sandbox %[9]s demo birth
  .bin/bridgectl -gateway %[1]s -sandbox %[9]s demo death

  # 5. Verify a parent against MOSIP IDA (POST /verify answers verified or failed), and sign in
  #    with eSignet as the browser does (POST /esignet/get-oidp-user-info answers verified person data)
  .bin/bridgectl -gateway %[1]s -token-file %[7]s demo verify
  .bin/bridgectl -gateway %[1]s -sandbox %[9]s -token-file %[7]s demo esignet
  curl -s -H "Authorization: Bearer $(cat %[7]s)" %[1]s/verify \
    -d '{"nid":"1234567890","dob":"2008-02-29","gender":"male","name":{"firstname":"Charles","middlename":"Dikkens","surname":"Doe 2nd"}}'

  # 6. What came back from MOSIP: WebSub subscriptions, stored deliveries (dead letters: ?state=dead)
  curl -s -H "Authorization: Bearer $(cat %[7]s)" %[1]s/v1/subscriptions
  curl -s -H "Authorization: Bearer $(cat %[7]s)" %[1]s/v1/deliveries

  # 7. The sandbox: its state, an OpenCRVS record waiting for validation, a 401 storm
  curl -s %[9]s/sandbox/admin
  curl -s -X POST %[9]s/sandbox/admin/opencrvs/records -d '{"event":"birth"}'
  curl -s -X PUT %[9]s/sandbox/admin/faults/mosip.authmanager -d '{"unauthorized":true,"remaining":3}'

Press Ctrl-C to stop.
`, sys.GatewayURL, sys.Addrs["auth-token"], sys.Addrs["packet"], sys.Addrs["esignet-verify"],
		sys.Addrs["notification"], sb.Describe(), tokenFile, sb.Config.KeysDir, sb.URL)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
