package rpc_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
)

func TestRetryOnlyUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []codes.Code // the handler's answers in order; OK after the end
		want      codes.Code
		wantCalls int32
	}{
		{"unavailable twice then ok", []codes.Code{codes.Unavailable, codes.Unavailable}, codes.OK, 3},
		{"unavailable beyond max attempts", []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, codes.Unavailable, 3},
		{"internal not retried", []codes.Code{codes.Internal}, codes.Internal, 1},
		{"resource exhausted not retried", []codes.Code{codes.ResourceExhausted}, codes.ResourceExhausted, 1},
		{"ok", nil, codes.OK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			s := startServer(t, rpc.ServerOptions{}, time.Second, func(context.Context) error {
				n := int(calls.Add(1))
				if n <= len(tt.script) && tt.script[n-1] != codes.OK {
					return status.Error(tt.script[n-1], "scripted")
				}
				return nil
			})
			err := call(t.Context(), dial(t, s.addr, rpc.ClientOptions{}))
			if status.Code(err) != tt.want {
				t.Fatalf("call error = %v, want %v", err, tt.want)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Fatalf("handler ran %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		clientTimeout time.Duration
		callerTimeout time.Duration // 0: no caller deadline
		work          time.Duration
		want          codes.Code
	}{
		{"client timeout applies", 100 * time.Millisecond, 0, 30 * time.Second, codes.DeadlineExceeded},
		{"shorter caller deadline wins", 30 * time.Second, 100 * time.Millisecond, 30 * time.Second, codes.DeadlineExceeded},
		{"fast call within timeout", 5 * time.Second, 0, 10 * time.Millisecond, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, rpc.ServerOptions{}, time.Second, func(ctx context.Context) error {
				select {
				case <-time.After(tt.work):
					return nil
				case <-ctx.Done():
					return status.FromContextError(ctx.Err()).Err()
				}
			})
			conn := dial(t, s.addr, rpc.ClientOptions{Timeout: tt.clientTimeout})
			ctx := t.Context()
			if tt.callerTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.callerTimeout)
				defer cancel()
			}
			begin := time.Now()
			err := call(ctx, conn)
			if status.Code(err) != tt.want {
				t.Fatalf("call error = %v, want %v", err, tt.want)
			}
			if took := time.Since(begin); took > 5*time.Second {
				t.Errorf("call took %v", took)
			}
		})
	}
}

func TestDialFailsFast(t *testing.T) {
	t.Parallel()
	// A port that was just free is very likely still closed.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()

	conn := dial(t, addr, rpc.ClientOptions{Timeout: time.Minute})
	begin := time.Now()
	if err := call(t.Context(), conn); status.Code(err) != codes.Unavailable {
		t.Fatalf("call to closed port error = %v, want Unavailable", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("call to closed port took %v; want it not to wait for ready", took)
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name   string
		target string
		opts   rpc.ClientOptions
		want   string
	}{
		{"missing CA file", "127.0.0.1:1", rpc.ClientOptions{TLS: config.GRPCTLS{CAFile: missing}}, "missing.pem"},
		{"cert without key", "127.0.0.1:1", rpc.ClientOptions{TLS: config.GRPCTLS{CertFile: missing}}, "set together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := rpc.Dial(tt.target, tt.opts)
			if err == nil {
				conn.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dial error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
