package authtoken

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/redistest"
)

func TestGetTokenOverGRPC(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	in := startInstance(t, loadConfig(t, env(fake, nil)), options{})
	ctx := context.Background()

	hc, err := in.health.Check(ctx, &healthpb.HealthCheckRequest{Service: authtokenv1.AuthTokenService_ServiceDesc.ServiceName})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", hc.GetStatus(), err)
	}

	first := getToken(t, in, "packet")
	if first.GetToken() != fake.LastToken() {
		t.Errorf("GetToken = %q, want the issued token", first.GetToken())
	}
	if until := time.Until(first.GetExpiresAt().AsTime()); until < 59*time.Minute || until > time.Hour {
		t.Errorf("expires in %v, want the JWT's hour", until)
	}
	for range 20 {
		if got := getToken(t, in, "packet"); got.GetToken() != first.GetToken() {
			t.Fatal("cached token changed")
		}
	}
	if websub := getToken(t, in, "websub"); websub.GetToken() == first.GetToken() {
		t.Error("websub got packet's token")
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("auth manager calls = %d, want 2 (one per client)", n)
	}

	tests := []struct {
		name     string
		req      *authtokenv1.GetTokenRequest
		code     codes.Code
		contains string
	}{
		{"empty client", &authtokenv1.GetTokenRequest{}, codes.InvalidArgument, "client is required"},
		{"unknown client", &authtokenv1.GetTokenRequest{Client: "nope"}, codes.NotFound, "configured clients: packet, websub"},
	}
	for _, tt := range tests {
		_, err := in.client.GetToken(ctx, tt.req)
		st := status.Convert(err)
		if st.Code() != tt.code || !strings.Contains(st.Message(), tt.contains) {
			t.Errorf("%s: GetToken = %v, want %v containing %q", tt.name, err, tt.code, tt.contains)
		}
	}
	_, err = in.client.GetToken(ctx, &authtokenv1.GetTokenRequest{})
	if br := badRequest(err); br == nil || br.GetFieldViolations()[0].GetField() != "client" {
		t.Errorf("empty client: details = %v, want a field violation on client", status.Convert(err).Details())
	}
}

func badRequest(err error) *errdetails.BadRequest {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br
		}
	}
	return nil
}

func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

func TestGetTokenErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(*fakeauth.Server) map[string]string
		timeout    time.Duration
		code       codes.Code
		wantReason string
	}{
		{
			name: "MOSIP refuses the credentials (errors[] in HTTP 200)",
			setup: func(*fakeauth.Server) map[string]string {
				return map[string]string{"MOSIP_PACKET_AUTH_CLIENT_SECRET": "wrong-secret-never-shown"}
			},
			code: codes.FailedPrecondition, wantReason: "KER-ATH-401",
		},
		{
			name: "unknown realm",
			setup: func(f *fakeauth.Server) map[string]string {
				f.SetFailure(&fakeauth.Failure{Status: 200, Code: "KER-ATH-026", Message: "Realm not found:: regproc"})
				return nil
			},
			code: codes.FailedPrecondition, wantReason: "KER-ATH-026",
		},
		{
			name: "auth manager 503",
			setup: func(f *fakeauth.Server) map[string]string {
				f.SetFailure(&fakeauth.Failure{Status: 503})
				return nil
			},
			code: codes.Unavailable,
		},
		{
			name: "auth manager 500 from Keycloak",
			setup: func(f *fakeauth.Server) map[string]string {
				f.SetFailure(&fakeauth.Failure{Status: 500, Code: "500", Message: "401 Unauthorized: [no body]"})
				return nil
			},
			code: codes.Unavailable,
		},
		{
			name: "auth manager unreachable",
			setup: func(f *fakeauth.Server) map[string]string {
				f.Close()
				return nil
			},
			code: codes.Unavailable,
		},
		{
			name: "auth manager 404 (wrong URL)",
			setup: func(f *fakeauth.Server) map[string]string {
				return map[string]string{"MOSIP_AUTH_URL": strings.TrimSuffix(f.URL().String(), fakeauth.Path) + "/wrong"}
			},
			code: codes.FailedPrecondition, wantReason: "HTTP_404",
		},
		{
			name: "caller deadline",
			setup: func(f *fakeauth.Server) map[string]string {
				f.SetDelay(time.Second)
				return nil
			},
			timeout: 100 * time.Millisecond,
			code:    codes.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, time.Hour)
			in := startInstance(t, loadConfig(t, env(fake, tt.setup(fake))), options{})
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := in.client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: "packet"})
			if status.Code(err) != tt.code {
				t.Fatalf("GetToken = %v, want %v", err, tt.code)
			}
			if tt.wantReason != "" {
				ei := errorInfo(err)
				if ei == nil || ei.GetReason() != tt.wantReason || ei.GetDomain() != "mosip" {
					t.Errorf("ErrorInfo = %v, want reason %s in domain mosip", ei, tt.wantReason)
				}
			}
			if s := status.Convert(err).String(); strings.Contains(s, "secret-never-shown") {
				t.Errorf("status leaks a secret: %s", s)
			}
			if st := states(t, in)["packet"]; tt.code != codes.DeadlineExceeded && st.GetLastRefreshError() == "" {
				t.Errorf("last_refresh_error empty after a failed fetch: %v", st)
			}
		})
	}
}

func TestInvalidateTokenOverGRPC(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	in := startInstance(t, loadConfig(t, env(fake, nil)), options{})
	ctx := context.Background()
	invalidate := func(client, token string) bool {
		t.Helper()
		resp, err := in.client.InvalidateToken(ctx, &authtokenv1.InvalidateTokenRequest{Client: client, Token: token})
		if err != nil {
			t.Fatalf("InvalidateToken = %v", err)
		}
		return resp.GetInvalidated()
	}

	stale := getToken(t, in, "packet").GetToken()
	// An old or foreign token does not drop the current one.
	if invalidate("packet", fakeauth.JWT(packetID, time.Now(), time.Now().Add(time.Hour), 999)) {
		t.Error("invalidating a token that is not cached reported true")
	}
	if got := getToken(t, in, "packet").GetToken(); got != stale || fake.Calls() != 1 {
		t.Fatalf("current token dropped by another token's invalidation (%d calls)", fake.Calls())
	}
	// MOSIP answered 401 with the cached token: it goes, and the next
	// GetToken fetches a new one.
	if !invalidate("packet", stale) {
		t.Fatal("invalidating the cached token reported false")
	}
	fresh := getToken(t, in, "packet").GetToken()
	if fresh == stale || fake.Calls() != 2 {
		t.Fatalf("after invalidation: same token=%v, calls=%d; want a new token from a second call", fresh == stale, fake.Calls())
	}
	// Forced refreshes are rate-limited: the current token stays.
	if invalidate("packet", fresh) {
		t.Error("second forced refresh within the interval was not rate-limited")
	}
	if got := getToken(t, in, "packet").GetToken(); got != fresh || fake.Calls() != 2 {
		t.Error("rate-limited invalidation changed the token")
	}

	for _, tt := range []struct {
		req    *authtokenv1.InvalidateTokenRequest
		code   codes.Code
		fields int
	}{
		{&authtokenv1.InvalidateTokenRequest{}, codes.InvalidArgument, 2},
		{&authtokenv1.InvalidateTokenRequest{Client: "packet"}, codes.InvalidArgument, 1},
		{&authtokenv1.InvalidateTokenRequest{Client: "nope", Token: "t"}, codes.NotFound, 0},
	} {
		_, err := in.client.InvalidateToken(ctx, tt.req)
		if status.Code(err) != tt.code {
			t.Errorf("InvalidateToken(%v) = %v, want %v", tt.req, err, tt.code)
		}
		if tt.fields > 0 && len(badRequest(err).GetFieldViolations()) != tt.fields {
			t.Errorf("InvalidateToken(%v) violations = %v, want %d", tt.req, badRequest(err), tt.fields)
		}
	}
}

func TestInvalidateRateLimitExpires(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	in := startInstance(t, loadConfig(t, env(fake, map[string]string{"AUTH_TOKEN_MIN_FORCED_REFRESH_INTERVAL": "200ms"})), options{})
	ctx := context.Background()
	for i := range 3 {
		tok := getToken(t, in, "packet").GetToken()
		resp, err := in.client.InvalidateToken(ctx, &authtokenv1.InvalidateTokenRequest{Client: "packet", Token: tok})
		if err != nil || !resp.GetInvalidated() {
			t.Fatalf("invalidation %d = %v, %v", i, resp, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := fake.Calls(); n != 3 {
		t.Errorf("auth manager calls = %d, want 3", n)
	}
}

func TestListClientStatesNeverCarriesTheToken(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	in := startInstance(t, loadConfig(t, env(fake, nil)), options{})
	tok := getToken(t, in, "packet")
	getToken(t, in, "packet")

	resp, err := in.client.ListClientStates(context.Background(), &authtokenv1.ListClientStatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := proto.Marshal(resp)
	text, _ := protojson.Marshal(resp)
	for _, secret := range []string{tok.GetToken(), packetSecret, websubSecret} {
		if strings.Contains(string(wire), secret) || strings.Contains(string(text), secret) {
			t.Errorf("ListClientStates carries a token or secret: %s", text)
		}
	}
	if len(resp.GetClients()) != 2 || resp.GetClients()[0].GetClient() != "packet" || resp.GetClients()[1].GetClient() != "websub" {
		t.Fatalf("clients = %s, want packet and websub sorted", text)
	}
	p, w := resp.GetClients()[0], resp.GetClients()[1]
	if !p.GetHasToken() || p.GetMosipClientId() != packetID || p.GetAppId() != "regproc" || p.GetCacheHits() != 1 ||
		p.GetCacheMisses() != 1 || p.GetAuthManagerCalls() != 1 || p.GetSource() != "auth_manager" ||
		!p.GetExpiresAt().AsTime().Equal(tok.GetExpiresAt().AsTime()) || p.GetAcquiredAt() == nil || p.GetLastRefreshError() != "" {
		t.Errorf("packet state = %s", protojson.Format(p))
	}
	if w.GetHasToken() || w.GetAppId() != "partner" || w.GetExpiresAt() != nil || w.GetAuthManagerCalls() != 0 {
		t.Errorf("websub state = %s", protojson.Format(w))
	}
}

func TestMissPathSpansCarryNoSecrets(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg := loadConfig(t, env(fake, map[string]string{"REDIS_URL": redistest.SharedURL(t)}))
	in := startInstance(t, cfg, options{tracerProvider: tp})
	tok := getToken(t, in, "packet").GetToken()
	loads := func() (n int) {
		for _, s := range rec.Ended() {
			if s.Name() == "authtoken.load" {
				n++
			}
		}
		return n
	}
	if loads() != 1 {
		t.Fatalf("%d authtoken.load spans after a miss, want 1", loads())
	}
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		names[s.Name()] = true
		check := s.Name() + " " + s.Status().Description
		for _, a := range s.Attributes() {
			check += " " + a.Value.Emit()
		}
		for _, e := range s.Events() {
			check += " " + e.Name
			for _, a := range e.Attributes {
				check += " " + a.Value.Emit()
			}
		}
		for _, secret := range []string{tok, packetSecret} {
			if strings.Contains(check, secret) {
				t.Errorf("span %q carries a token or secret", s.Name())
			}
		}
	}
	for _, want := range []string{"POST " + fakeauth.Path, "set", "get"} {
		if !names[want] {
			t.Errorf("no %q span (auth manager HTTP and Redis should be traced); have %v", want, names)
		}
	}
	// L1 hits are not traced.
	for range 10 {
		getToken(t, in, "packet")
	}
	if loads() != 1 {
		t.Errorf("L1 hits produced authtoken.load spans")
	}
}

// With AUTH_TOKEN_WARM_UP (the default) every client holds a token soon
// after start-up, before any GetToken, one auth manager call each.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	in := startInstance(t, loadConfig(t, env(fake, map[string]string{"AUTH_TOKEN_WARM_UP": "true"})), options{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := in.client.ListClientStates(context.Background(), &authtokenv1.ListClientStatesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		held := 0
		for _, c := range resp.GetClients() {
			if c.GetHasToken() {
				held++
			}
		}
		if held == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after warm-up: %s, want both clients holding a token", protojson.Format(resp))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := fake.Calls(); got != 2 {
		t.Errorf("auth manager calls = %d, want 2 (one per client)", got)
	}
}
