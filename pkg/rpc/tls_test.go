package rpc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/rpc"
)

// pki holds PEM file names of a test CA and certificates it issued.
type pki struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
}

// newPKI writes a fresh CA, a server certificate for 127.0.0.1/localhost and
// a client certificate into dir.
func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rpc test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{caFile: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)

	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		return certFile, keyFile
	}
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t, t.TempDir())
	other := newPKI(t, t.TempDir()) // an unrelated CA
	serverTLS := config.GRPCTLS{CertFile: p.serverCert, KeyFile: p.serverKey}
	mTLS := config.GRPCTLS{CertFile: p.serverCert, KeyFile: p.serverKey, ClientCAFile: p.caFile}

	tests := []struct {
		name   string
		server config.GRPCTLS
		client config.GRPCTLS
		want   codes.Code
	}{
		{"TLS with CA", serverTLS, config.GRPCTLS{CAFile: p.caFile}, codes.OK},
		{"TLS client with cert anyway", serverTLS, config.GRPCTLS{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, codes.OK},
		{"TLS plaintext client", serverTLS, config.GRPCTLS{}, codes.Unavailable},
		{"TLS wrong CA", serverTLS, config.GRPCTLS{CAFile: other.caFile}, codes.Unavailable},
		{"mTLS with client cert", mTLS, config.GRPCTLS{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, codes.OK},
		{"mTLS without client cert", mTLS, config.GRPCTLS{CAFile: p.caFile}, codes.Unavailable},
		{"mTLS client cert from other CA", mTLS, config.GRPCTLS{CAFile: p.caFile, CertFile: other.clientCert, KeyFile: other.clientKey}, codes.Unavailable},
		{"plaintext server TLS client", config.GRPCTLS{}, config.GRPCTLS{CAFile: p.caFile}, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, rpc.ServerOptions{TLS: tt.server}, time.Second, nil)
			hc := healthpb.NewHealthClient(dial(t, s.addr, rpc.ClientOptions{TLS: tt.client, Timeout: 5 * time.Second}))
			resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if status.Code(err) != tt.want {
				t.Fatalf("Check error = %v, want %v", err, tt.want)
			}
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Check = %v, want SERVING", resp.GetStatus())
			}
			if err != nil {
				t.Logf("rejected as expected: %v", err)
			}
		})
	}
}
