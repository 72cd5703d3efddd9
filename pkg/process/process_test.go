package process_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
)

func TestListenExplainsBusyAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct{ env, want string }{
		{"PORT", "set PORT to choose another port"},
		{"GRPC_LISTEN_ADDR", "set GRPC_LISTEN_ADDR to another address"},
	}
	for _, tt := range tests {
		_, err := process.Listen(busy.Addr().String(), tt.env)
		if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Listen(busy, %s) = %v, want %q", tt.env, err, tt.want)
		}
	}
	if _, err := process.Listen("256.0.0.1:1", "X_ADDR"); err == nil || !strings.Contains(err.Error(), "X_ADDR") {
		t.Errorf("Listen(bad) = %v, want the variable named", err)
	}
}

func TestBinaryRunServesUntilCancelled(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var bound net.Addr
	err := process.Binary{Name: "t", Logging: config.Logging{Level: "error"}, Addr: "127.0.0.1:0", AddrEnv: "X"}.
		Run(ctx, func(ctx context.Context, _ *slog.Logger, lis net.Listener) error {
			bound = lis.Addr()
			<-ctx.Done()
			return lis.Close()
		})
	if err != nil || bound == nil {
		t.Errorf("Run() = %v, bound %v", err, bound)
	}
}
