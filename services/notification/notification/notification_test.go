package notification_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/services/notification/notification"
)

// A configuration with problems is refused at start-up with every problem
// named, before anything is opened or dialled. (The service itself runs
// end to end against the sandbox in sandbox/e2e.)
func TestConfigurationProblemsAllReported(t *testing.T) {
	t.Parallel()
	var cfg notification.Config
	err := config.Load(&cfg, config.MapLookuper(map[string]string{
		"MOSIP_WEBSUB_TOPIC":                          "CREDENTIAL_ISSUED",
		"MOSIP_CREDENTIAL_IDENTIFIER_POLICY":          "psut",
		"MOSIP_VERIFIABLE_CREDENTIAL_NATIONAL_ID_KEY": "UIN",
	}))
	if err == nil {
		lis, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			t.Fatal(lerr)
		}
		err = notification.Run(context.Background(), cfg, logging.Discard(), lis)
	}
	if err == nil {
		t.Fatal("an empty configuration was accepted")
	}
	for _, want := range []string{"MOSIP_WEBSUB_HUB_URL", "MOSIP_PARTNER_ID", "MOSIP_WEBSUB_CALLBACK_URL", "MOSIP_WEBSUB_SECRET",
		"DECRYPT_P12_FILE_PATH", "OPENCRVS_GATEWAY_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Error("error leaks a secret")
	}
}

// Validate explains the traps of today's mosip-api configuration.
func TestValidateExplainsTraps(t *testing.T) {
	t.Parallel()
	cfg := notification.Config{CredentialTopic: "CREDENTIAL_ISSUED", IdentifierPolicy: "psut", NationalIDKey: "UIN"}
	err := cfg.Validate()
	for _, want := range []string{"<partnerId>/CREDENTIAL_ISSUED", "a UIN is never forwarded", "MOSIP_CREDENTIAL_SIGNING_CERT_PATHS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() does not explain %q:\n%v", want, err)
		}
	}
}

// NOTIFICATION_REJECT_AFTER_SILENCE is off by default; on, it needs
// system-token mode, and a negative value is refused.
func TestRejectAfterSilenceSettings(t *testing.T) {
	t.Parallel()
	var cfg notification.Config
	_ = config.Load(&cfg, config.MapLookuper(nil))
	if cfg.RejectAfterSilence != 0 {
		t.Errorf("default NOTIFICATION_REJECT_AFTER_SILENCE = %s, want 0 (off)", cfg.RejectAfterSilence)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = no problem about the setting
	}{
		{"off", map[string]string{}, ""},
		{"record-token mode", map[string]string{"NOTIFICATION_REJECT_AFTER_SILENCE": "72h"}, "needs OpenCRVS system-token mode"},
		{"negative", map[string]string{"NOTIFICATION_REJECT_AFTER_SILENCE": "-1h"}, "must not be negative"},
		{"system-token mode", map[string]string{"NOTIFICATION_REJECT_AFTER_SILENCE": "72h", "OPENCRVS_CLIENT_ID": "c",
			"OPENCRVS_CLIENT_SECRET": "s", "OPENCRVS_AUTH_URL": "https://opencrvs.example/auth"}, ""},
	} {
		err := config.Load(&notification.Config{}, config.MapLookuper(tc.env))
		got := err != nil && strings.Contains(err.Error(), "NOTIFICATION_REJECT_AFTER_SILENCE")
		if got != (tc.want != "") || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Load() = %v; want a NOTIFICATION_REJECT_AFTER_SILENCE problem: %q", tc.name, err, tc.want)
		}
	}
}
