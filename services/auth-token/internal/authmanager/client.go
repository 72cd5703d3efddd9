// Package authmanager calls MOSIP's auth manager (kernel-auth-service)
// clientidsecretkey endpoint and turns its answer into a token with an
// expiry. It holds no cache: package tokencache decides when to call it.
package authmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Envelope id and version the auth manager expects for client credentials.
const (
	requestID      = "mosip.io.clientId.pwd"
	requestVersion = "1.0"
)

// maxBody bounds how much of a response we read; the real answer is a few
// hundred bytes.
const maxBody = 1 << 20

// Credentials identify one MOSIP client (a Keycloak client) to the auth manager.
type Credentials struct {
	// ClientID is the Keycloak client id; not a secret.
	ClientID string
	// Secret is the client secret.
	Secret config.Secret
	// AppID selects the Keycloak realm through the auth manager's app-id map.
	AppID string
}

// Token is one token as issued, with the times the cache works from.
type Token struct {
	// Value is the token; send it as the cookie Authorization=<Value>.
	Value string
	// AcquiredAt is when the request that obtained it was sent.
	AcquiredAt time.Time
	// ExpiresAt is when MOSIP stops accepting it.
	ExpiresAt time.Time
	// ExpirySource says where ExpiresAt came from: ExpiryJWT, ExpiryMaxAge or ExpiryDefault.
	ExpirySource string
}

// Options configure a Client.
type Options struct {
	// URL is the full clientidsecretkey URL (MOSIP_AUTH_URL).
	URL *url.URL
	// Timeout bounds each call, whatever the caller's context allows.
	Timeout time.Duration
	// DefaultTTL dates opaque tokens that carry no JWT exp and no cookie Max-Age.
	DefaultTTL time.Duration
	// Transport is the base round tripper; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// TracerProvider receives the HTTP client spans (default: global).
	TracerProvider trace.TracerProvider
	// MeterProvider receives the HTTP client metrics (default: global).
	MeterProvider metric.MeterProvider
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client fetches tokens from the auth manager. It is safe for concurrent use.
type Client struct {
	url        string
	timeout    time.Duration
	defaultTTL time.Duration
	http       *http.Client
	now        func() time.Time
}

// New returns a Client. The HTTP transport is instrumented with otelhttp;
// spans carry the method, URL and status, never headers or bodies, so
// neither the secret nor the token reaches a trace.
func New(o Options) (*Client, error) {
	if o.URL == nil || (o.URL.Scheme != "http" && o.URL.Scheme != "https") || o.URL.Host == "" {
		return nil, errors.New("authmanager: URL must be an absolute http(s) URL")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = 30 * time.Minute
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	path := o.URL.EscapedPath()
	opts := []otelhttp.Option{
		otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "POST " + path }),
	}
	if o.TracerProvider != nil {
		opts = append(opts, otelhttp.WithTracerProvider(o.TracerProvider))
	}
	if o.MeterProvider != nil {
		opts = append(opts, otelhttp.WithMeterProvider(o.MeterProvider))
	}
	return &Client{
		url:        o.URL.String(),
		timeout:    o.Timeout,
		defaultTTL: o.DefaultTTL,
		// No redirects: a redirect would re-send the secret to wherever the
		// Location header points.
		http: &http.Client{
			Transport:     otelhttp.NewTransport(base, opts...),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: o.Now,
	}, nil
}

type authRequest struct {
	ClientID  string `json:"clientId"`
	SecretKey string `json:"secretKey"`
	AppID     string `json:"appId"`
}

// Fetch asks the auth manager for a new token. Errors are *mosip.Error
// (Temporary for transport failures and 5xx, MOSIP's code for refusals)
// with the secret scrubbed from any upstream text.
func (c *Client) Fetch(ctx context.Context, cred Credentials) (Token, error) {
	sent := c.now()
	body, err := json.Marshal(mosip.NewRequest(requestID, requestVersion, sent, authRequest{
		ClientID: cred.ClientID, SecretKey: cred.Secret.Value(), AppID: cred.AppID,
	}))
	if err != nil {
		return Token{}, fmt.Errorf("authmanager: encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return Token{}, fmt.Errorf("authmanager: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Token{}, mosip.NewTransportError(err).Redact(cred.Secret.Value())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Token{}, mosip.NewTransportError(fmt.Errorf("read response: %w", err)).Redact(cred.Secret.Value())
	}
	tok, err := ParseResponse(resp.StatusCode, resp.Header, raw, sent, c.defaultTTL)
	if err != nil {
		var me *mosip.Error
		if errors.As(err, &me) {
			return Token{}, me.Redact(cred.Secret.Value())
		}
		return Token{}, err
	}
	return tok, nil
}
