package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
)

func TestRealMainReportsEveryConfigProblem(t *testing.T) {
	t.Parallel()
	err := realMain(context.Background(), config.MapLookuper(map[string]string{
		"MOSIP_PACKET_AUTH_CLIENT_SECRET": "hunter2", "REDIS_URL": "redis://:hunter2@redis:notaport",
	}))
	if err == nil {
		t.Fatal("realMain with no configuration succeeded")
	}
	for _, want := range []string{
		"MOSIP_AUTH_URL is required", "MOSIP_PACKET_AUTH_CLIENT_ID is required",
		"MOSIP_WEBSUB_AUTH_CLIENT_ID is required", "MOSIP_WEBSUB_AUTH_CLIENT_SECRET is required", "REDIS_URL must be a redis:// URL",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals a secret:\n%v", err)
	}
}

func TestRealMainServesUntilCancelled(t *testing.T) {
	t.Parallel()
	fake := fakeauth.New(t, map[string]string{"p": "ps", "w": "ws"}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := realMain(ctx, config.MapLookuper(map[string]string{
		"GRPC_LISTEN_ADDR": "127.0.0.1:0", "MOSIP_AUTH_URL": fake.URL().String(),
		"MOSIP_PACKET_AUTH_CLIENT_ID": "p", "MOSIP_PACKET_AUTH_CLIENT_SECRET": "ps",
		"MOSIP_WEBSUB_AUTH_CLIENT_ID": "w", "MOSIP_WEBSUB_AUTH_CLIENT_SECRET": "ws",
		"LOG_LEVEL": "error",
	}))
	if err != nil {
		t.Errorf("realMain = %v, want a clean stop", err)
	}
}
