package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
)

func TestCORS(t *testing.T) {
	env := newEnv(t, nil)
	token := validToken(t, testKey(t, "opencrvs"))
	tests := []struct {
		name       string
		method     string
		path       string
		headers    []string
		wantStatus int
		wantOrigin string
	}{
		{
			name: "preflight from the client app", method: http.MethodOptions, path: "/v1/auth-token/clients",
			headers:    []string{"Origin", clientAppURL, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization"},
			wantStatus: http.StatusNoContent, wantOrigin: clientAppURL,
		},
		{
			name: "preflight for a future route", method: http.MethodOptions, path: "/esignet/get-oidp-user-info",
			headers:    []string{"Origin", clientAppURL, "Access-Control-Request-Method", "POST"},
			wantStatus: http.StatusNoContent, wantOrigin: clientAppURL,
		},
		{
			name: "preflight from another origin", method: http.MethodOptions, path: "/v1/auth-token/clients",
			headers:    []string{"Origin", "https://evil.example.org", "Access-Control-Request-Method", "GET"},
			wantStatus: http.StatusNoContent,
		},
		{
			name: "request from the client app", method: http.MethodGet, path: "/v1/auth-token/clients",
			headers:    append([]string{"Origin", clientAppURL}, bearer(token)...),
			wantStatus: http.StatusOK, wantOrigin: clientAppURL,
		},
		{
			name: "refused request from the client app is readable", method: http.MethodGet, path: "/v1/auth-token/clients",
			headers:    []string{"Origin", clientAppURL},
			wantStatus: http.StatusUnauthorized, wantOrigin: clientAppURL,
		},
		{
			name: "request from another origin", method: http.MethodGet, path: "/v1/auth-token/clients",
			headers:    append([]string{"Origin", "https://register.opencrvs.example.org.evil.com"}, bearer(token)...),
			wantStatus: http.StatusOK,
		},
		{
			name: "same origin spelled with default port", method: http.MethodGet, path: "/healthz",
			headers:    []string{"Origin", "https://register.opencrvs.example.org:443"},
			wantStatus: http.StatusOK, wantOrigin: "https://register.opencrvs.example.org:443",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := env.do(t, tc.method, tc.path, nil, tc.headers...)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantOrigin)
			}
			if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
				t.Error("no Vary: Origin")
			}
			if tc.method == http.MethodOptions && tc.wantOrigin != "" {
				if m := r.header.Get("Access-Control-Allow-Methods"); !contains(m, "GET", "POST", "OPTIONS", "DELETE") {
					t.Errorf("Access-Control-Allow-Methods = %q", m)
				}
				if h := r.header.Get("Access-Control-Allow-Headers"); !contains(h, "Content-Type", "Authorization") {
					t.Errorf("Access-Control-Allow-Headers = %q", h)
				}
			}
			if tc.method == http.MethodOptions && tc.wantOrigin == "" && r.header.Get("Access-Control-Allow-Methods") != "" {
				t.Error("CORS methods offered to a foreign origin")
			}
		})
	}
}

func TestTrailingSlash(t *testing.T) {
	env := newEnv(t, nil)
	token := validToken(t, testKey(t, "opencrvs"))
	for _, path := range []string{"/v1/auth-token/clients/", "/v1/auth-token/clients//", "/v1/transactions/TX100013380723500/", "/healthz/", "/openapi.json/"} {
		t.Run(path, func(t *testing.T) {
			if r := env.do(t, http.MethodGet, path, nil, bearer(token)...); r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
	if r := env.do(t, http.MethodGet, "/", nil); r.status != http.StatusNotFound {
		t.Fatalf("GET / = %d, want 404", r.status)
	}
}

func TestRouting(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/nothing-here", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodPost, "/v1/auth-token/clients", http.StatusMethodNotAllowed, "UNIMPLEMENTED"},
	} {
		r := env.do(t, tc.method, tc.path, nil)
		var body errorBody
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != tc.status || body.Code != tc.code {
			t.Errorf("%s %s = %d %s, want %d with code %s", tc.method, tc.path, r.status, r.body, tc.status, tc.code)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	env := newEnv(t, nil) // MaxBodyBytes 1024
	token := validToken(t, testKey(t, "opencrvs"))
	// Raw route reading the body as /websub/callback will, and one failing
	// the way grpc-gateway's generated decoders report a read error.
	if err := env.gw.mux.HandlePath(http.MethodPost, "/test/raw", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		b, ok := env.gw.readBody(w, r)
		if ok {
			writeJSON(w, http.StatusOK, map[string]int{"bytes": len(b)})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.gw.mux.HandlePath(http.MethodPost, "/test/decoded", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		if _, err := io.ReadAll(r.Body); err != nil {
			env.gw.writeRPCError(w, r, status.Errorf(codes.InvalidArgument, "%v", err))
			return
		}
		w.WriteHeader(http.StatusOK)
	}); err != nil {
		t.Fatal(err)
	}
	chunked := func(n int) io.Reader { return io.MultiReader(strings.NewReader(strings.Repeat("x", n))) }
	for _, tc := range []struct {
		name string
		path string
		body io.Reader
		want int
	}{
		{"small body", "/test/raw", strings.NewReader(`{"ok":true}`), http.StatusOK},
		{"exactly the limit", "/test/raw", strings.NewReader(strings.Repeat("x", 1024)), http.StatusOK},
		{"declared too large", "/test/raw", strings.NewReader(strings.Repeat("x", 1025)), http.StatusRequestEntityTooLarge},
		{"chunked too large, raw route", "/test/raw", chunked(5000), http.StatusRequestEntityTooLarge},
		{"chunked too large, decoded route", "/test/decoded", chunked(5000), http.StatusRequestEntityTooLarge},
		{"declared too large, generated route", "/v1/auth-token/clients", strings.NewReader(strings.Repeat("x", 4096)), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodPost
			if strings.HasPrefix(tc.path, "/v1/") {
				method = http.MethodGet
			}
			r := env.do(t, method, tc.path, tc.body, append(bearer(token), "Content-Type", "application/json")...)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if tc.want == http.StatusRequestEntityTooLarge {
				var body errorBody
				if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == "" || r.header.Get("Content-Type") != jsonContentType {
					t.Fatalf("413 body not the JSON error: %q", r.body)
				}
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	env := newEnv(t, nil)
	token := validToken(t, testKey(t, "opencrvs"))
	const secret = "dial tcp 10.0.3.7:6379: password=hunter2"
	withInfo, _ := status.New(codes.FailedPrecondition, "MOSIP refused the client credentials").WithDetails(
		&errdetails.ErrorInfo{Reason: "KER-ATH-401", Domain: "mosip.auth"},
		&errdetails.DebugInfo{Detail: secret},
	)
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
		wantDetail string
	}{
		{"invalid argument", rpc.InvalidArgument("invalid request", map[string]string{"client": "must not be empty"}), 400, "INVALID_ARGUMENT", "invalid request", `"field":"client"`},
		{"not found", status.Error(codes.NotFound, "transaction not found"), 404, "NOT_FOUND", "transaction not found", ""},
		{"failed precondition", withInfo.Err(), 409, "FAILED_PRECONDITION", "MOSIP refused the client credentials", `"reason":"KER-ATH-401"`},
		{"already exists", status.Error(codes.AlreadyExists, "duplicate"), 409, "ALREADY_EXISTS", "duplicate", ""},
		{"unauthenticated", status.Error(codes.Unauthenticated, secret), 401, "UNAUTHENTICATED", "Unauthorized", ""},
		{"permission denied", status.Error(codes.PermissionDenied, "You do not have permission to access this resource."), 403, "PERMISSION_DENIED", "You do not have permission to access this resource.", ""},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "slow down"), 429, "RESOURCE_EXHAUSTED", "slow down", ""},
		{"unavailable", status.Error(codes.Unavailable, secret), 503, "UNAVAILABLE", "Service temporarily unavailable", ""},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, secret), 504, "DEADLINE_EXCEEDED", "The request timed out", ""},
		{"unimplemented", status.Error(codes.Unimplemented, secret), 501, "UNIMPLEMENTED", "Not implemented", ""},
		{"internal", status.Error(codes.Internal, secret), 500, "INTERNAL", msgInternal, ""},
		{"unknown", errors.New(secret), 500, "UNKNOWN", msgInternal, ""},
		{"data loss", status.Error(codes.DataLoss, secret), 500, "DATA_LOSS", msgInternal, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.backend.auth.setErr(tc.err)
			r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(token)...)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != jsonContentType {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Error   string `json:"error"`
				Code    string `json:"code"`
				Details []any  `json:"details"`
			}
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("not JSON: %s", r.body)
			}
			if body.Code != tc.wantCode || body.Error != tc.wantMsg || body.Details == nil {
				t.Fatalf("body %s, want code %s and error %q with a details array", r.body, tc.wantCode, tc.wantMsg)
			}
			if tc.wantDetail != "" && !strings.Contains(r.body, tc.wantDetail) {
				t.Fatalf("body %s lacks %s", r.body, tc.wantDetail)
			}
			if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, "10.0.3.7") {
				t.Fatalf("internal detail echoed: %s", r.body)
			}
		})
	}
	t.Run("unrecognised code", func(t *testing.T) {
		// An unexpected code maps to the generic 500.
		httpStatus, msg, details := mapStatus(status.New(codes.Code(99), secret))
		if httpStatus != 500 || msg != msgInternal || len(details) != 0 {
			t.Fatalf("got %d %q %v", httpStatus, msg, details)
		}
	})
}

func TestRouteDeadlines(t *testing.T) {
	env := newEnv(t, nil)
	if r := env.do(t, http.MethodGet, "/v1/auth-token/clients", nil, bearer(validToken(t, testKey(t, "opencrvs")))...); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	// The operator route's override (5s), not the 14s default, reaches the
	// service as the gRPC deadline.
	if dl, _ := env.backend.auth.last(); dl <= 4*time.Second || dl > operatorTimeout {
		t.Fatalf("deadline at the service = %v, want just under %v", dl, operatorTimeout)
	}
	if p := env.gw.policyFor("GET /v1/transactions/{transaction_id}"); p.public || p.timeout != 14*time.Second {
		t.Fatalf("default policy = %+v", p)
	}
	if env.gw.maxTimeout != 14*time.Second {
		t.Fatalf("maxTimeout = %v", env.gw.maxTimeout)
	}
}

func TestProbesAndOpenAPI(t *testing.T) {
	env := newEnv(t, nil)
	if r := env.do(t, http.MethodGet, "/healthz", nil); r.status != http.StatusOK || r.body != "{\"status\":\"ok\"}\n" {
		t.Fatalf("/healthz = %d %q", r.status, r.body)
	}

	r := env.do(t, http.MethodGet, "/openapi.json", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != jsonContentType {
		t.Fatalf("/openapi.json = %d (%s)", r.status, r.header.Get("Content-Type"))
	}
	var spec struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.body), &spec); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if _, ok := spec.Paths["/v1/auth-token/clients"]; !ok || spec.Swagger != "2.0" {
		t.Fatalf("operator path missing from the OpenAPI document: %v", spec.Paths)
	}
}

func TestReadyz(t *testing.T) {
	t.Run("all serving", func(t *testing.T) {
		env := newEnv(t, nil)
		r := env.do(t, http.MethodGet, "/readyz", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var body readyResponse
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatal(err)
		}
		if body.Status != "ok" || len(body.Backends) != 4 || body.Backends["esignet-verify"] != "SERVING" {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("backend down", func(t *testing.T) {
		env := newEnv(t, func(c *Config) { c.PacketAddr = closedAddr(t) })
		r := env.do(t, http.MethodGet, "/readyz", nil)
		var body readyResponse
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusServiceUnavailable || body.Status != "unavailable" ||
			len(body.NotReady) != 1 || body.NotReady[0] != "packet" || body.Backends["packet"] != "UNAVAILABLE" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("backend not serving", func(t *testing.T) {
		env := newEnv(t, nil)
		env.backend.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		r := env.do(t, http.MethodGet, "/readyz", nil)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"auth-token":"NOT_SERVING"`) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}

func TestTracingAndAccessLog(t *testing.T) {
	env := newEnv(t, nil)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	token := validToken(t, testKey(t, "opencrvs"))
	r := env.do(t, http.MethodGet, "/v1/transactions/TX100013380723500?code=esignet-code-123", nil,
		append(bearer(token), "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")...)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"transactionId":"TX100013380723500"`) {
		t.Fatalf("status %d: %s", r.status, r.body)
	}

	// W3C context reached the service through the gRPC client.
	if tp := env.backend.traceSeen.Load(); tp == nil || !strings.Contains(*tp, traceID) {
		t.Fatalf("traceparent at the service = %v", tp)
	}

	// The server span is named after the route template, never the path.
	var names []string
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID().String() == traceID && s.SpanKind() == trace.SpanKindServer {
			names = append(names, s.Name())
		}
	}
	if !contains(strings.Join(names, "|"), "GET /v1/transactions/{transaction_id}") || strings.Contains(strings.Join(names, "|"), "TX100013380723500") {
		t.Fatalf("server spans of the trace: %v", names)
	}

	var line map[string]any
	for _, l := range strings.Split(env.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, traceID) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no access log line with the trace id: %s", env.logs.String())
	}
	if line["method"] != "GET" || line["route"] != "GET /v1/transactions/{transaction_id}" || line["status"] != float64(200) || line["duration_ms"] == nil {
		t.Fatalf("access log line %v", line)
	}
	if logs := env.logs.String(); strings.Contains(logs, "esignet-code-123") || strings.Contains(logs, token) || strings.Contains(logs, "TX100013380723500") {
		t.Fatalf("logs carry a query string, token or id: %s", logs)
	}
}

func TestConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		var c Config
		err := config.Load(&c, config.MapLookuper(map[string]string{
			"CLIENT_APP_URL": clientAppURL, "OPENCRVS_PUBLIC_KEY_URL": "http://auth:4040/.well-known",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr() != "0.0.0.0:2024" || c.RequestTimeout != 14*time.Second || c.MaxBodyBytes != 4<<20 ||
			c.KeyRefetchInterval != time.Minute || c.AuthTokenAddr != "127.0.0.1:9101" || c.NotificationAddr != "127.0.0.1:9104" {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("every problem reported", func(t *testing.T) {
		err := config.Load(&Config{}, config.MapLookuper(map[string]string{
			"PORT": "70000", "GATEWAY_MAX_BODY_BYTES": "0", "GATEWAY_REQUEST_TIMEOUT": "0s",
		}))
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"CLIENT_APP_URL is required", "OPENCRVS_PUBLIC_KEY_URL is required", "PORT must be between", "GATEWAY_MAX_BODY_BYTES must be positive", "GATEWAY_REQUEST_TIMEOUT must be positive"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	})
	t.Run("New validates", func(t *testing.T) {
		if _, err := New(t.Context(), Config{}, logging.Discard()); err == nil || !strings.Contains(err.Error(), "CLIENT_APP_URL") {
			t.Fatalf("New accepted an empty config: %v", err)
		}
	})
}

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Register.Example.org/":    "https://register.example.org",
		"https://register.example.org:443": "https://register.example.org",
		"http://localhost:3000/path?q=1":   "http://localhost:3000",
		"http://localhost:80":              "http://localhost",
		"http://[::1]:3000":                "http://[::1]:3000",
	} {
		if got, err := canonicalOrigin(in); err != nil || got != want {
			t.Errorf("canonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"null", "", "ftp://x", "register.example.org"} {
		if got, err := canonicalOrigin(bad); err == nil {
			t.Errorf("canonicalOrigin(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRun(t *testing.T) {
	backend := startBackend(t)
	keys := newKeyServer(t, testKey(t, "opencrvs"))
	cfg := testConfig(t, keys.URL, backend.addr)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, logging.Discard(), lis) }()

	url := fmt.Sprintf("http://%s/v1/auth-token/clients", lis.Addr())
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+validToken(t, testKey(t, "opencrvs")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Run warmed the key up before the first request.
	if n := keys.fetches.Load(); n != 1 {
		t.Errorf("%d key fetches, want 1", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
