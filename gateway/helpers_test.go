package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

const (
	clientAppURL = "https://register.opencrvs.example.org"
	// mosipToken is what the fake auth-token service would hand out over
	// GetToken; it must never appear in a REST response.
	mosipToken = "eyJmosip-secret-token-4f1c"
)

// spans records every span of the tests; the W3C propagator is what
// telemetry.Setup installs in the binaries.
var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	os.Exit(m.Run())
}

// rsaKeys caches generated keys: 2048-bit generation is slow and the tests
// only need a handful of distinct ones.
var rsaKeys = struct {
	sync.Mutex
	m map[string]*rsa.PrivateKey
}{m: map[string]*rsa.PrivateKey{}}

func testKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.Lock()
	defer rsaKeys.Unlock()
	if k, ok := rsaKeys.m[name]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys.m[name] = k
	return k
}

func publicPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claimsFor is an OpenCRVS 2.0 action-confirmation token's payload.
func claimsFor(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"scope":    []string{"type=record.confirm-registration", "type=record.reject-registration", "type=record.read&event=birth,death"},
		"eventId":  "1c4c2208-79ff-47c7-ae4d-e55cfcf4e6e4",
		"actionId": "6a1d2c4b-93f1-4c3c-8f7e-0b2f1f6b9d20",
		"userType": "user",
		"iat":      time.Now().Unix(),
		"exp":      exp.Unix(),
		"aud":      []string{"opencrvs:gateway-user", "opencrvs:events-user"},
		"iss":      "opencrvs:auth-service",
		"sub":      "68f0c2b9a1e4d7c3b2a19f01",
	}
}

func signRS256(t testing.TB, k *rsa.PrivateKey, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validToken(t testing.TB, k *rsa.PrivateKey) string {
	return signRS256(t, k, claimsFor(time.Now().Add(time.Hour)))
}

// keyServer plays OpenCRVS's auth service GET /.well-known.
type keyServer struct {
	*httptest.Server
	pem     atomic.Pointer[[]byte]
	fetches atomic.Int64
	failing atomic.Bool
}

func newKeyServer(t *testing.T, k *rsa.PrivateKey) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.serve(publicPEM(t, k))
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		if ks.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(*ks.pem.Load())
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) serve(b []byte) { ks.pem.Store(&b) }

// fakeAuthToken is an AuthTokenService whose ListClientStates answers with
// err when set and otherwise with two clients; it records what reached it.
type fakeAuthToken struct {
	authtokenv1.UnimplementedAuthTokenServiceServer
	mu       sync.Mutex
	err      error
	deadline time.Duration
	md       metadata.MD
}

func (f *fakeAuthToken) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeAuthToken) last() (time.Duration, metadata.MD) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deadline, f.md
}

func (f *fakeAuthToken) GetToken(context.Context, *authtokenv1.GetTokenRequest) (*authtokenv1.GetTokenResponse, error) {
	return &authtokenv1.GetTokenResponse{Token: mosipToken}, nil
}

func (f *fakeAuthToken) ListClientStates(ctx context.Context, _ *authtokenv1.ListClientStatesRequest) (*authtokenv1.ListClientStatesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(dl)
	}
	f.md, _ = metadata.FromIncomingContext(ctx)
	if f.err != nil {
		return nil, f.err
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &authtokenv1.ListClientStatesResponse{Clients: []*authtokenv1.ClientState{
		{Client: "packet", MosipClientId: "mosip-crvs-client", AppId: "regproc", HasToken: true,
			AcquiredAt: timestamppb.New(now), ExpiresAt: timestamppb.New(now.Add(30 * time.Minute)),
			CacheHits: 41, CacheMisses: 1, AuthManagerCalls: 1, Source: "auth_manager"},
		{Client: "websub", MosipClientId: "mpartner-default-crvs", AppId: "partner", HasToken: false,
			LastRefreshError: "KER-ATH-401: invalid credentials"},
	}}, nil
}

// fakePacket answers GetTransaction for any id and records submissions;
// a tracking id "refuse" is refused as MOSIP refuses a packet.
type fakePacket struct {
	packetv1.UnimplementedPacketServiceServer
	mu   sync.Mutex
	last *packetv1.SubmitRegistrationRequest
}

func (f *fakePacket) SubmitRegistration(_ context.Context, in *packetv1.SubmitRegistrationRequest) (*packetv1.SubmitRegistrationResponse, error) {
	f.mu.Lock()
	f.last = in
	f.mu.Unlock()
	if in.GetTrackingId() == "refuse" {
		return nil, status.Error(codes.FailedPrecondition, "MOSIP refused the packet: KER-PUT-006")
	}
	return &packetv1.SubmitRegistrationResponse{TransactionId: "100010000000001", Status: "processing_started", Created: true}, nil
}

func (*fakePacket) ListTransactions(context.Context, *packetv1.ListTransactionsRequest) (*packetv1.ListTransactionsResponse, error) {
	return &packetv1.ListTransactionsResponse{Transactions: []*packetv1.TransactionSummary{
		{TransactionId: "100010000000001", EventId: "e1", ActionId: "a1", RegistrationNumber: "EE008OLG4317", Status: "processing_started", CreatedAt: timestamppb.New(time.Date(2025, 9, 10, 13, 15, 13, 0, time.UTC))},
		{TransactionId: "100010000000002", Status: "confirmed", CreatedAt: timestamppb.Now()},
	}}, nil
}

func (*fakePacket) CancelTransaction(_ context.Context, in *packetv1.CancelTransactionRequest) (*packetv1.CancelTransactionResponse, error) {
	if in.GetTransactionId() != "100010000000001" {
		return nil, status.Errorf(codes.NotFound, "no transaction")
	}
	return &packetv1.CancelTransactionResponse{TransactionId: in.GetTransactionId(), RegistrationNumber: "EE008OLG4317", Status: "cancelled"}, nil
}

func (f *fakePacket) lastSubmission() *packetv1.SubmitRegistrationRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (*fakePacket) GetTransaction(_ context.Context, in *packetv1.GetTransactionRequest) (*packetv1.GetTransactionResponse, error) {
	return &packetv1.GetTransactionResponse{TransactionId: in.GetTransactionId(), Process: packetv1.Process_PROCESS_CRVS_NEW, Status: "received"}, nil
}

// backendServer is a real gRPC server on loopback hosting the fakes and
// the health service.
type backendServer struct {
	addr      string
	auth      *fakeAuthToken
	packet    *fakePacket
	health    *health.Server
	traceSeen atomic.Pointer[string]
}

func startBackend(t *testing.T) *backendServer {
	t.Helper()
	b := &backendServer{auth: &fakeAuthToken{}, packet: &fakePacket{}, health: health.NewServer()}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("traceparent")) > 0 {
			tp := md.Get("traceparent")[0]
			b.traceSeen.Store(&tp)
		}
		return h(ctx, req)
	}))
	authtokenv1.RegisterAuthTokenServiceServer(s, b.auth)
	packetv1.RegisterPacketServiceServer(s, b.packet)
	healthpb.RegisterHealthServer(s, b.health)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = lis.Addr().String()
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return b
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	gw      *Gateway
	srv     *httptest.Server
	backend *backendServer
	keys    *keyServer
	logs    *syncBuffer
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testConfig(t *testing.T, keyURL, backendAddr string) Config {
	return Config{
		Host: "127.0.0.1",
		CRVS: config.CRVS{
			ClientAppURL: mustURL(t, clientAppURL+"/"),
			PublicKeyURL: mustURL(t, keyURL),
		},
		AuthTokenAddr:      backendAddr,
		PacketAddr:         backendAddr,
		EsignetVerifyAddr:  backendAddr,
		NotificationAddr:   backendAddr,
		MaxBodyBytes:       1024,
		RequestTimeout:     14 * time.Second,
		KeyRefetchInterval: time.Minute,
	}
}

// newEnv starts a backend, a key server serving the "opencrvs" key and a
// gateway in front of them; mutate adjusts the configuration first.
func newEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{backend: startBackend(t), keys: newKeyServer(t, testKey(t, "opencrvs")), logs: &syncBuffer{}}
	cfg := testConfig(t, env.keys.URL+"/.well-known", env.backend.addr)
	if mutate != nil {
		mutate(&cfg)
	}
	logger := logging.New(env.logs, logging.Options{Level: "debug", Service: "gateway-test"})
	gw, err := New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	env.gw = gw
	env.srv = httptest.NewServer(gw.Handler())
	t.Cleanup(env.srv.Close)
	return env
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; headers are name/value pairs.
func (e *testEnv) do(t *testing.T, method, path string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

const unauthorizedBody = `{"error":"Unauthorized"}`

func assertUnauthorized(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body != unauthorizedBody || r.header.Get("Content-Type") != jsonContentType {
		t.Fatalf("got %d %q (Content-Type %q), want 401 %s (%s)", r.status, r.body, r.header.Get("Content-Type"), unauthorizedBody, jsonContentType)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
