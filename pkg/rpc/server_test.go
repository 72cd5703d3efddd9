package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
)

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		opts rpc.ServerOptions
		want string
	}{
		{"no logger", rpc.ServerOptions{}, "Logger is required"},
		{"client CA without cert", rpc.ServerOptions{Logger: logging.Discard(), TLS: config.GRPCTLS{ClientCAFile: missing}}, "ClientCAFile needs CertFile"},
		{"cert without key", rpc.ServerOptions{Logger: logging.Discard(), TLS: config.GRPCTLS{CertFile: missing}}, "set together"},
		{"missing cert file", rpc.ServerOptions{Logger: logging.Discard(), TLS: config.GRPCTLS{CertFile: missing, KeyFile: missing}}, "missing.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rpc.NewServer(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewServer error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestServeHealthRoundTrip(t *testing.T) {
	t.Parallel()
	s := startServer(t, rpc.ServerOptions{}, time.Second, nil)
	s.SetServing("mosipcrvs.test.v1.Up", true)
	s.SetServing("mosipcrvs.test.v1.Down", true)
	s.SetServing("mosipcrvs.test.v1.Down", false)
	hc := healthpb.NewHealthClient(dial(t, s.addr, rpc.ClientOptions{}))

	tests := []struct {
		service  string
		want     healthpb.HealthCheckResponse_ServingStatus
		wantCode codes.Code
	}{
		{"", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"mosipcrvs.test.v1.Up", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"mosipcrvs.test.v1.Down", healthpb.HealthCheckResponse_NOT_SERVING, codes.OK},
		{"mosipcrvs.test.v1.Unknown", 0, codes.NotFound},
	}
	for _, tt := range tests {
		resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: tt.service})
		if status.Code(err) != tt.wantCode {
			t.Fatalf("Check(%q) error = %v, want code %v", tt.service, err, tt.wantCode)
		}
		if got := resp.GetStatus(); err == nil && got != tt.want {
			t.Errorf("Check(%q) = %v, want %v", tt.service, got, tt.want)
		}
	}

	if err := s.shutdown(t); err != nil {
		t.Fatalf("Serve returned %v after cancel, want nil", err)
	}
	resp, err := s.Health.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after shutdown = %v, %v; want NOT_SERVING", resp, err)
	}
	_, err = hc.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Check after shutdown error = %v, want Unavailable", err)
	}
}

func TestReflectionListsServices(t *testing.T) {
	t.Parallel()
	s := startServer(t, rpc.ServerOptions{}, time.Second, nil)
	rc := reflectionpb.NewServerReflectionClient(dial(t, s.addr, rpc.ClientOptions{}))
	stream, err := rc.ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	for _, want := range []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "rpctest.Test"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func(context.Context, *grpc.ClientConn) error
	}{
		{"unary", call},
		{"stream", callStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			var panicNext atomic.Bool
			s := startServer(t, rpc.ServerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, time.Second,
				func(context.Context) error {
					if panicNext.Swap(false) {
						panic("boom")
					}
					return nil
				})
			conn := dial(t, s.addr, rpc.ClientOptions{})

			panicNext.Store(true)
			err := tt.call(t.Context(), conn)
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
				t.Fatalf("panicking call error = %v, want Internal \"internal error\"", err)
			}
			if err := tt.call(t.Context(), conn); err != nil {
				t.Fatalf("call after panic = %v, want success", err)
			}
			got := logs.String()
			for _, want := range []string{`"panic":"boom"`, `"stack":"goroutine`, `"code":"Internal"`} {
				if !strings.Contains(got, want) {
					t.Errorf("logs lack %s:\n%s", want, got)
				}
			}
		})
	}
}

func TestRequestLogging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		level     slog.Level
		err       error
		want      []string // substrings of the log
		wantEmpty bool
	}{
		{"ok at debug", slog.LevelDebug, nil,
			[]string{`"level":"DEBUG"`, `"method":"/rpctest.Test/Call"`, `"code":"OK"`, `"duration":`}, false},
		{"ok hidden at info", slog.LevelInfo, nil, nil, true},
		{"client error at warn", slog.LevelInfo, rpc.InvalidArgument("bad uin format", map[string]string{"uin": "x"}),
			[]string{`"level":"WARN"`, `"code":"InvalidArgument"`, `"error":"bad uin format"`}, false},
		{"server error at error", slog.LevelInfo, status.Error(codes.Internal, "db down"),
			[]string{`"level":"ERROR"`, `"code":"Internal"`, `"error":"db down"`}, false},
		{"plain error is Unknown", slog.LevelInfo, errors.New("oops"),
			[]string{`"level":"ERROR"`, `"code":"Unknown"`, `"error":"oops"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: tt.level}))
			s := startServer(t, rpc.ServerOptions{Logger: logger}, time.Second,
				func(context.Context) error { return tt.err })
			err := call(t.Context(), dial(t, s.addr, rpc.ClientOptions{}))
			if status.Code(err) != status.Code(tt.err) {
				t.Fatalf("call error = %v, want %v", err, tt.err)
			}
			if err := s.shutdown(t); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			if strings.Contains(got, payload) {
				t.Errorf("logs contain the payload:\n%s", got)
			}
			if tt.wantEmpty && strings.Contains(got, "/rpctest.Test/Call") {
				t.Errorf("logs = %s, want no request line", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("logs lack %s:\n%s", want, got)
				}
			}
		})
	}
}

func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		drain    time.Duration
		work     time.Duration // how long the in-flight handler runs unless cancelled
		wantCode codes.Code
	}{
		{"in-flight call completes within drain", 5 * time.Second, 300 * time.Millisecond, codes.OK},
		{"drain bound cuts a slow call", 100 * time.Millisecond, 30 * time.Second, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			s := startServer(t, rpc.ServerOptions{}, tt.drain, func(ctx context.Context) error {
				close(started)
				select {
				case <-time.After(tt.work):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			conn := dial(t, s.addr, rpc.ClientOptions{Timeout: time.Minute})
			result := make(chan error, 1)
			go func() { result <- call(t.Context(), conn) }()
			<-started

			begin := time.Now()
			if err := s.shutdown(t); err != nil {
				t.Fatalf("Serve returned %v, want nil", err)
			}
			if took := time.Since(begin); took > tt.drain+2*time.Second {
				t.Errorf("shutdown took %v with drain %v", took, tt.drain)
			}
			if err := <-result; status.Code(err) != tt.wantCode {
				t.Fatalf("in-flight call error = %v, want %v", err, tt.wantCode)
			}
		})
	}
}

func TestHealthNotServingBeforeServe(t *testing.T) {
	t.Parallel()
	s, err := rpc.NewServer(rpc.ServerOptions{Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := s.Health.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health before Serve = %v, %v; want NOT_SERVING", resp, err)
	}
}
