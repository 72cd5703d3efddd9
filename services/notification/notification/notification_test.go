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
