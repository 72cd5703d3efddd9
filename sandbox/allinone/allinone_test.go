package allinone_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

type env struct {
	sys   *allinone.System
	mosip *mosip.AuthManager
	crvs  *opencrvs.Auth
}

// start runs the whole sandbox and, against it, the gateway and every
// service, all on loopback ports picked by the kernel.
func start(t *testing.T) *env {
	t.Helper()
	var sbCfg server.Config
	if err := config.Load(&sbCfg, config.MapLookuper(map[string]string{"SANDBOX_ADDR": "127.0.0.1:0"})); err != nil {
		t.Fatal(err)
	}
	sandbox := httptest.NewUnstartedServer(nil)
	sb, err := server.New(sbCfg, "http://"+sandbox.Listener.Addr().String(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	sandbox.Config.Handler = sb.Handler()
	sandbox.Start()
	t.Cleanup(func() { sandbox.Close(); _ = sb.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	sys, err := allinone.Start(ctx, allinone.Options{
		Logger: logging.Discard(),
		Lookup: config.MapLookuper(withSandboxKeys(t, sb, map[string]string{
			"HOST": "127.0.0.1", "PORT": "0",
			"AUTH_TOKEN_ADDR": "127.0.0.1:0", "PACKET_ADDR": "127.0.0.1:0",
			"ESIGNET_VERIFY_ADDR": "127.0.0.1:0", "NOTIFICATION_ADDR": "127.0.0.1:0",
			"MOSIP_AUTH_URL":                  sandbox.URL + mosip.AuthPath,
			"MOSIP_PACKET_AUTH_CLIENT_ID":     sbCfg.PacketClientID,
			"MOSIP_PACKET_AUTH_CLIENT_SECRET": sbCfg.PacketClientSecret.Value(),
			"MOSIP_WEBSUB_AUTH_CLIENT_ID":     sbCfg.PartnerID,
			"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": sbCfg.WebSubClientSecret.Value(),
			"CLIENT_APP_URL":                  "http://localhost:3000",
			"OPENCRVS_PUBLIC_KEY_URL":         sandbox.URL + "/.well-known",
			"MOSIP_CREATE_PACKET_URL":         sandbox.URL + "/commons/v1/packetmanager/createPacket",
			"MOSIP_PROCESS_PACKET_URL":        sandbox.URL + "/registrationprocessor/v1/workflowmanager/workflowinstance",
			"PACKET_SQLITE_PATH":              filepath.Join(t.TempDir(), "packet.db"),
			"PACKET_TOKEN_KEYS":               "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		})),
	})
	if err != nil {
		cancel()
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := sys.Wait(); err != nil {
			t.Errorf("Wait() = %v", err)
		}
	})
	return &env{sys: sys, mosip: sb.Auth, crvs: sb.CRVS.Auth()}
}

// The token flow end to end: GetToken over gRPC fetches once from the
// auth manager, the operator route through the REST edge shows the acquired
// token's state but never the token, and the whole chain is one trace.
func TestTokenFlowEndToEnd(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	e := start(t)
	conn, err := rpc.Dial(e.sys.Addrs["auth-token"], rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authtokenv1.NewAuthTokenServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	var token string
	for i := range 50 {
		resp, err := client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: "packet"})
		if err != nil {
			t.Fatalf("GetToken #%d = %v", i, err)
		}
		if token != "" && resp.GetToken() != token {
			t.Fatalf("GetToken #%d returned a different token", i)
		}
		token = resp.GetToken()
		if !e.mosip.ValidToken(token) {
			t.Fatalf("GetToken returned a token the auth manager did not issue")
		}
		if until := time.Until(resp.GetExpiresAt().AsTime()); until < 50*time.Minute || until > time.Hour {
			t.Fatalf("expires in %v, want about the 1h JWT lifetime", until)
		}
	}
	// One auth manager call per configured client (packet, websub), made by
	// the start-up warm-up or the first GetToken, whichever came first.
	if got := e.mosip.Calls(); got > 2 {
		t.Errorf("auth manager calls = %d after 50 GetToken, want at most one per client (2)", got)
	}

	if _, err := client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetToken(unknown client) = %v, want NotFound", err)
	}

	// Operator route through the edge, with a trace started by the caller.
	jwt, err := e.crvs.Token("operator", []string{"record.search"}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var (
		callerSpan trace.Span
		body       []byte
		states     struct {
			Clients []struct {
				Client    string `json:"client"`
				HasToken  bool   `json:"hasToken"`
				ExpiresAt string `json:"expiresAt"`
			} `json:"clients"`
		}
	)
	// The websub client's token comes from the start-up warm-up alone; give
	// it a moment on a slow machine.
	for deadline := time.Now().Add(5 * time.Second); ; {
		var callerCtx context.Context
		callerCtx, callerSpan = tp.Tracer("test").Start(ctx, "caller")
		req, _ := http.NewRequestWithContext(callerCtx, http.MethodGet, e.sys.GatewayURL+"/v1/auth-token/clients", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		otel.GetTextMapPropagator().Inject(callerCtx, propagation.HeaderCarrier(req.Header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		callerSpan.End()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/auth-token/clients = %d %s", resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, &states); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		acquired := 0
		for _, c := range states.Clients {
			if c.HasToken && c.ExpiresAt != "" {
				acquired++
			}
		}
		if acquired == 2 && len(states.Clients) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("operator route = %s, want packet and websub with acquired tokens and their expiry", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(string(body), token) {
		t.Fatal("the operator route leaks the MOSIP token")
	}

	// Without a token: 401 exactly as the TypeScript mosip-api answers.
	resp, err := http.Get(e.sys.GatewayURL + "/v1/auth-token/clients")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(body)) != `{"error":"Unauthorized"}` {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}

	// One trace from the caller through the edge into auth-token.
	traceID := callerSpan.SpanContext().TraceID()
	kinds := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID {
			kinds[s.SpanKind().String()] = true
			for _, a := range s.Attributes() {
				if strings.Contains(a.Value.Emit(), token) || strings.Contains(a.Value.Emit(), jwt) {
					t.Errorf("span %q attribute %s carries a token", s.Name(), a.Key)
				}
			}
		}
	}
	for _, want := range []string{"server", "client"} {
		if !kinds[want] {
			t.Errorf("trace %s has no %s span; kinds = %v", traceID, want, kinds)
		}
	}
	serverSpans := 0
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID && s.SpanKind().String() == "server" && strings.Contains(s.Name(), "AuthTokenService") {
			serverSpans++
		}
	}
	if serverSpans == 0 {
		t.Errorf("the trace does not reach auth-token's gRPC server")
	}
}

// Every service answers over real gRPC and the edge reports them ready.
func TestSkeletonServicesServe(t *testing.T) {
	e := start(t)
	conn, err := rpc.Dial(e.sys.Addrs["packet"], rpc.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = packetv1.NewPacketServiceClient(conn).GetTransaction(context.Background(), &packetv1.GetTransactionRequest{TransactionId: "100019999999999"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetTransaction(unknown) = %v, want NotFound", err)
	}
	resp, err := http.Get(e.sys.GatewayURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d, want 200 with every service serving", resp.StatusCode)
	}
}

func TestPortBusyIsExplained(t *testing.T) {
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	port := busy.Listener.Addr().String()[strings.LastIndex(busy.Listener.Addr().String(), ":")+1:]
	_, err := allinone.Start(context.Background(), allinone.Options{
		Logger: logging.Discard(),
		Lookup: config.MapLookuper(withSandboxKeys(t, newKeySandbox(t), map[string]string{
			"HOST": "127.0.0.1", "PORT": port,
			"AUTH_TOKEN_ADDR": "127.0.0.1:0", "PACKET_ADDR": "127.0.0.1:0",
			"ESIGNET_VERIFY_ADDR": "127.0.0.1:0", "NOTIFICATION_ADDR": "127.0.0.1:0",
			"MOSIP_AUTH_URL": "http://127.0.0.1:1/x", "MOSIP_PACKET_AUTH_CLIENT_ID": "a", "MOSIP_PACKET_AUTH_CLIENT_SECRET": "b",
			"MOSIP_WEBSUB_AUTH_CLIENT_ID": "c", "MOSIP_WEBSUB_AUTH_CLIENT_SECRET": "d",
			"CLIENT_APP_URL": "http://localhost:3000", "OPENCRVS_PUBLIC_KEY_URL": "http://127.0.0.1:1/k",
			"MOSIP_CREATE_PACKET_URL": "http://127.0.0.1:1/c", "MOSIP_PROCESS_PACKET_URL": "http://127.0.0.1:1/w",
			"PACKET_SQLITE_PATH": filepath.Join(t.TempDir(), "p.db"), "PACKET_TOKEN_KEYS": "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		})),
	})
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "PORT") {
		t.Errorf("Start() on a busy port = %v, want advice to set PORT", err)
	}
}

func TestConfigProblemsAllReported(t *testing.T) {
	_, err := allinone.Start(context.Background(), allinone.Options{
		Logger: logging.Discard(),
		Lookup: config.MapLookuper(map[string]string{"MOSIP_AUTH_URL": "not a url"}),
	})
	if err == nil {
		t.Fatal("Start() with no configuration succeeded")
	}
	for _, want := range []string{"MOSIP_AUTH_URL", "MOSIP_PACKET_AUTH_CLIENT_ID", "OPENCRVS_PUBLIC_KEY_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

// withSandboxKeys adds the esignet-verify and notification settings of the
// sandbox sb (its key files written to a temporary directory) under env.
func withSandboxKeys(t *testing.T, sb *server.Sandbox, env map[string]string) map[string]string {
	t.Helper()
	files, err := sb.WriteKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := allinone.ESignetVerifySandboxEnv(sb, files)
	maps.Copy(out, allinone.NotificationSandboxEnv(sb, files))
	out["NOTIFICATION_SQLITE_PATH"] = filepath.Join(t.TempDir(), "notification.db")
	maps.Copy(out, env)
	return out
}

// newKeySandbox is a sandbox that serves nothing: only its keys are used.
func newKeySandbox(t *testing.T) *server.Sandbox {
	t.Helper()
	var cfg server.Config
	if err := config.Load(&cfg, config.MapLookuper(nil)); err != nil {
		t.Fatal(err)
	}
	sb, err := server.New(cfg, "http://127.0.0.1:1", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}
