package esignetverify

import (
	"context"
	"encoding/base64"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeesignet"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/fakeida"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/testpki"
)

// fixture is the service configured against the fake IDA and eSignet,
// served over real gRPC on loopback.
type fixture struct {
	ida     *fakeida.Server
	esignet *fakeesignet.Server
	env     map[string]string
	client  esignetverifyv1.EsignetVerifyServiceClient
	logs    *logBuffer
}

// fixtureEnv is the configuration of a service pointed at the fakes, with
// key files written to a temporary directory.
func fixtureEnv(t testing.TB, ida *fakeida.Server, es *fakeesignet.Server) map[string]string {
	dir := t.TempDir()
	partner := testpki.Get(t, "partner")
	return map[string]string{
		"GRPC_LISTEN_ADDR":             "127.0.0.1:0",
		"IDA_AUTH_URL":                 ida.AuthURL(),
		"IDA_AUTH_DOMAIN_URI":          fakeida.DomainURI,
		"PARTNER_ID":                   fakeida.PartnerID,
		"PARTNER_MISP_LK":              fakeida.LicenseKey,
		"PARTNER_APIKEY":               fakeida.APIKey,
		"ENCRYPT_CERT_PATH":            testpki.Write(t, dir, "ida-partner.crt", ida.IDA.CertPEM()),
		"SIGN_P12_FILE_PATH":           testpki.Write(t, dir, "keystore.p12", partner.P12(t, "mosip123")),
		"SIGN_P12_FILE_PASSWORD":       "mosip123",
		"IDA_GENDER_MAPPING":           "female:Female,male:Male",
		"ESIGNET_TOKEN_URL":            es.TokenURL(),
		"ESIGNET_USERINFO_URL":         es.UserinfoURL(),
		"OIDP_CLIENT_PRIVATE_KEY_PATH": testpki.Write(t, dir, "esignet-jwk.txt", []byte(base64.StdEncoding.EncodeToString(es.Client.JWK("")))),
		"OPENID_PROVIDER_CLIENT_ID":    fakeesignet.ClientID,
		"CLIENT_APP_URL":               "https://register.example.org",
	}
}

func newFixture(t *testing.T, override map[string]string) *fixture {
	t.Helper()
	f := &fixture{ida: fakeida.New(t), esignet: fakeesignet.New(t), logs: &logBuffer{}}
	f.env = fixtureEnv(t, f.ida, f.esignet)
	maps.Copy(f.env, override)
	for k, v := range override {
		if v == "" {
			delete(f.env, k)
		}
	}
	var cfg Config
	if err := config.Load(&cfg, config.MapLookuper(f.env)); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, logging.New(f.logs, logging.Options{Level: "debug"}), lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	f.client = esignetverifyv1.NewEsignetVerifyServiceClient(conn)
	return f
}
