package rpc

import (
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/mosipcrvs/bridge/pkg/config"
)

// defaultTimeout is the per-call deadline Dial uses when ClientOptions.Timeout is zero.
const defaultTimeout = 10 * time.Second

// ClientOptions configures Dial.
type ClientOptions struct {
	// TLS enables TLS when CAFile or CertFile is set: CAFile verifies the
	// server (system roots when empty) and CertFile/KeyFile are presented as
	// the client certificate for mTLS. Plaintext otherwise.
	TLS config.GRPCTLS
	// Timeout is the default deadline of every call (10s when zero); a
	// caller's shorter context deadline still wins. It also bounds the whole
	// lifetime of streaming calls.
	Timeout time.Duration
	// ExtraOptions are appended after the defaults, so they can override them.
	ExtraOptions []grpc.DialOption
}

// Dial returns a lazily-connecting client connection to target (any
// grpc.NewClient target, e.g. "127.0.0.1:9101" or "dns:///auth-token:9101")
// with OpenTelemetry tracing, keepalive, the default deadline and retries of
// UNAVAILABLE (3 attempts, exponential backoff from 0.1s to 1s). Calls fail
// fast rather than wait for a connection. Close it when done.
func Dial(target string, o ClientOptions) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.TLS.Enabled() {
		cfg, err := tlsConfig(o.TLS.CertFile, o.TLS.KeyFile, o.TLS.CAFile, "")
		if err != nil {
			return nil, fmt.Errorf("rpc: client TLS: %w", err)
		}
		creds = credentials.NewTLS(cfg)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		// Time must not undercut the server's enforcement MinTime (10s).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                30 * time.Second,
			Timeout:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultServiceConfig(serviceConfig(timeout)),
		// Our defaults are authoritative: ignore service configs published by
		// the resolver (DNS TXT records), which would replace them wholesale.
		grpc.WithDisableServiceConfig(),
	}
	conn, err := grpc.NewClient(target, append(opts, o.ExtraOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("rpc: dial %s: %w", target, err)
	}
	return conn, nil
}

// serviceConfig applies to every method. Only UNAVAILABLE is retried: it
// means the request was not processed (connection refused, server draining),
// whereas retrying other codes could repeat a side effect.
func serviceConfig(timeout time.Duration) string {
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
	return `{"methodConfig":[{"name":[{}],"timeout":"` + secs + `s","waitForReady":false,` +
		`"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s",` +
		`"backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
}
