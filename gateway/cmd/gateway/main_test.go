package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func setEnv(t *testing.T, port int) {
	t.Helper()
	for k, v := range map[string]string{
		"HOST":                    "127.0.0.1",
		"PORT":                    strconv.Itoa(port),
		"CLIENT_APP_URL":          "https://register.opencrvs.example.org",
		"OPENCRVS_PUBLIC_KEY_URL": "http://127.0.0.1:1/.well-known",
		"LOG_LEVEL":               "error",
		"OTEL_TRACES_EXPORTER":    "none",
		"OTEL_METRICS_EXPORTER":   "none",
	} {
		t.Setenv(k, v)
	}
}

func TestRealMainPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	setEnv(t, busy.Addr().(*net.TCPAddr).Port)
	err = realMain(t.Context())
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "set PORT") {
		t.Fatalf("realMain = %v, want a message saying the port is taken and to set PORT", err)
	}
}

func TestRealMainInvalidConfig(t *testing.T) {
	setEnv(t, 0)
	t.Setenv("CLIENT_APP_URL", "")
	t.Setenv("OPENCRVS_PUBLIC_KEY_URL", "")
	err := realMain(t.Context())
	if err == nil || !strings.Contains(err.Error(), "CLIENT_APP_URL is required") || !strings.Contains(err.Error(), "OPENCRVS_PUBLIC_KEY_URL is required") {
		t.Fatalf("realMain = %v", err)
	}
}

func TestRealMainStops(t *testing.T) {
	setEnv(t, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := realMain(ctx); err != nil {
		t.Fatalf("realMain = %v", err)
	}
}
