package authtoken

import (
	"context"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/redistest"
)

const (
	packetID     = "mosip-crvs1-client"
	packetSecret = "packet-secret-never-shown"
	websubID     = "crvs-partner"
	websubSecret = "websub-secret-never-shown"
)

func newFake(t testing.TB, ttl time.Duration) *fakeauth.Server {
	t.Helper()
	return fakeauth.New(t, map[string]string{packetID: packetSecret, websubID: websubSecret}, ttl)
}

// env is a complete configuration pointing at fake; extra entries override.
func env(fake *fakeauth.Server, extra map[string]string) map[string]string {
	e := map[string]string{
		"GRPC_LISTEN_ADDR":                "127.0.0.1:0",
		"PARTNER_PROFILE":                 "test",
		"MOSIP_AUTH_URL":                  fake.URL().String(),
		"MOSIP_AUTH_CLIENT_APP_ID":        "regproc",
		"MOSIP_PACKET_AUTH_CLIENT_ID":     packetID,
		"MOSIP_PACKET_AUTH_CLIENT_SECRET": packetSecret,
		"MOSIP_WEBSUB_AUTH_CLIENT_ID":     websubID,
		"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": websubSecret,
		"MOSIP_WEBSUB_AUTH_CLIENT_APP_ID": "partner",
		"MOSIP_REQUEST_TIMEOUT":           "2s",
		// Tests count auth manager calls exactly; TestWarmUp turns it on.
		"AUTH_TOKEN_WARM_UP": "false",
	}
	maps.Copy(e, extra)
	return e
}

// loadConfig loads like main does, and gives the test its own Redis keys.
func loadConfig(t testing.TB, e map[string]string) Config {
	t.Helper()
	var cfg Config
	if err := config.Load(&cfg, config.MapLookuper(e)); err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	cfg.RedisKeyPrefix = redistest.Prefix(t)
	return cfg
}

// instance is one running replica reached over loopback gRPC.
type instance struct {
	client authtokenv1.AuthTokenServiceClient
	health healthpb.HealthClient
	addr   string
}

// startInstance runs the service exactly as Run does, on 127.0.0.1:0, and
// stops it when the test ends.
func startInstance(t testing.TB, cfg Config, o options) instance {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, logging.Discard(), lis, o) }()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return instance{
		client: authtokenv1.NewAuthTokenServiceClient(conn),
		health: healthpb.NewHealthClient(conn),
		addr:   lis.Addr().String(),
	}
}

// newInProcess builds a Service without gRPC, for tests that drive the cache
// faster than loopback RPCs allow.
func newInProcess(t testing.TB, cfg Config, o options) *Service {
	t.Helper()
	svc, err := newService(context.Background(), cfg, logging.Discard(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func getToken(t testing.TB, in instance, client string) *authtokenv1.GetTokenResponse {
	t.Helper()
	resp, err := in.client.GetToken(context.Background(), &authtokenv1.GetTokenRequest{Client: client})
	if err != nil {
		t.Fatalf("GetToken(%q) = %v", client, err)
	}
	return resp
}

func states(t testing.TB, in instance) map[string]*authtokenv1.ClientState {
	t.Helper()
	resp, err := in.client.ListClientStates(context.Background(), &authtokenv1.ListClientStatesRequest{})
	if err != nil {
		t.Fatalf("ListClientStates = %v", err)
	}
	out := map[string]*authtokenv1.ClientState{}
	for _, s := range resp.GetClients() {
		out[s.GetClient()] = s
	}
	return out
}

func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reportPercentiles adds p50 and p99 latency (microseconds) to the benchmark output.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}
