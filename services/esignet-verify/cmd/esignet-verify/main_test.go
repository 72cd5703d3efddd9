package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
)

func TestRealMainReportsEveryConfigProblem(t *testing.T) {
	t.Parallel()
	err := realMain(context.Background(), config.MapLookuper(map[string]string{
		"IDA_AUTH_URL": "https://ida.example.org/idauthentication/v1/auth", "PARTNER_APIKEY": "hunter2",
		"ESIGNET_TOKEN_URL": "https://esignet.example.org/v1/esignet/oauth/v2/token", "GRPC_LISTEN_ADDR": "nonsense",
	}))
	if err == nil {
		t.Fatal("realMain with a half configuration succeeded")
	}
	for _, want := range []string{
		"GRPC_LISTEN_ADDR must be host:port", "IDA_AUTH_DOMAIN_URI is required", "PARTNER_ID is required", "PARTNER_MISP_LK is required",
		"ENCRYPT_CERT_PATH", "SIGN_P12_FILE_PATH", "ESIGNET_USERINFO_URL is required", "OIDP_CLIENT_PRIVATE_KEY_PATH is required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals a secret:\n%v", err)
	}
}

// With neither eSignet nor IDA configured the binary starts (the
// features answer FAILED_PRECONDITION) and stops cleanly.
func TestRealMainServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := realMain(ctx, config.MapLookuper(map[string]string{"GRPC_LISTEN_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error"})); err != nil {
		t.Errorf("realMain = %v, want a clean stop", err)
	}
}
