package ida

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// maxResponseBytes bounds IDA's answer; a real one is well under 2 KiB.
const maxResponseBytes = 256 << 10

// Options configures NewClient.
type Options struct {
	// AuthURL is IDA's auth endpoint without the path parameters
	// (…/idauthentication/v1/auth), as IDA_AUTH_URL in the TypeScript
	// mosip-api.
	AuthURL string
	// MISPLicenseKey, PartnerID and APIKey complete the URL:
	// AuthURL/{MISPLicenseKey}/{PartnerID}/{APIKey}.
	MISPLicenseKey, PartnerID, APIKey string
	// Builder builds and signs the requests (required).
	Builder *Builder
	// Timeout bounds each attempt; default 10 s.
	Timeout time.Duration
	// Transport is the HTTP transport (tests).
	Transport http.RoundTripper
	// Tracer makes one span per attempt.
	Tracer trace.Tracer
}

// Client authenticates demographics against IDA. It is safe for
// concurrent use.
type Client struct {
	url     string
	host    string
	secrets []string
	builder *Builder
	http    *http.Client
	tracer  trace.Tracer
}

// NewClient builds a client.
func NewClient(o Options) (*Client, error) {
	if o.Builder == nil {
		return nil, errors.New("ida: a Builder is required")
	}
	u, err := url.Parse(strings.TrimRight(o.AuthURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("ida: AuthURL must be an http(s) URL")
	}
	if o.MISPLicenseKey == "" || o.PartnerID == "" || o.APIKey == "" {
		return nil, errors.New("ida: MISP licence key, partner id and API key are required")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Verifications come in bursts from many OpenCRVS workers; keep
		// enough connections warm that a burst does not pay for new TLS
		// handshakes.
		t.MaxIdleConnsPerHost = 64
		tr = t
	}
	tracer := o.Tracer
	if tracer == nil {
		tracer = trace.NewNoopTracerProvider().Tracer("")
	}
	return &Client{
		url:  u.String() + "/" + url.PathEscape(o.MISPLicenseKey) + "/" + url.PathEscape(o.PartnerID) + "/" + url.PathEscape(o.APIKey),
		host: u.Host, secrets: []string{o.MISPLicenseKey, o.APIKey},
		builder: o.Builder, tracer: tracer,
		// The client is not wrapped with otelhttp: its spans would record
		// the URL, whose path holds the licence and API keys.
		http: &http.Client{Transport: tr, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

// Authenticate asks IDA whether d matches the identity. A person who does
// not match, is unknown or deactivated is an Outcome with Verified false;
// an error means IDA gave no verdict: a *mosip.Error (transport, HTTP,
// IDA refusing the partner or the request, malformed answer) whose text
// carries IDA's code and message but no personal data. It makes one
// attempt: the service answers UNAVAILABLE for temporary failures and the
// bridge's gRPC clients retry those with backoff, so retrying here too
// would multiply the load on an IDA that is already struggling.
func (c *Client) Authenticate(ctx context.Context, d Demographics) (*Outcome, error) {
	return c.attempt(ctx, d)
}

func (c *Client) attempt(ctx context.Context, d Demographics) (*Outcome, error) {
	ctx, span := c.tracer.Start(ctx, "ida.authenticate", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("server.address", c.host), attribute.String("ida.individual_id_type", d.IDType)))
	defer span.End()
	out, err := c.send(ctx, d)
	switch {
	case err != nil:
		span.SetStatus(codes.Error, "no verdict")
		var me *mosip.Error
		if errors.As(err, &me) && me.Code != "" {
			span.SetAttributes(attribute.String("ida.error_code", me.Code))
		}
	default:
		span.SetAttributes(attribute.Bool("ida.verified", out.Verified), attribute.String("ida.reason", out.Reason),
			attribute.String("ida.transaction_id", out.TransactionID))
	}
	return out, err
}

func (c *Client) send(ctx context.Context, d Demographics) (*Outcome, error) {
	b, err := c.builder.Build(d)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(b.Body))
	if err != nil {
		return nil, fmt.Errorf("ida: %w", errors.New("cannot build the HTTP request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("signature", b.Signature)
	// IDA's filter requires the header; MOSIP's own client sends this
	// literal placeholder.
	req.Header.Set("Authorization", "Authorization")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, mosip.NewTransportError(c.scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, mosip.NewTransportError(c.scrub(err))
	}
	if len(body) > maxResponseBytes {
		return nil, malformed(resp.StatusCode, "the answer is larger than 256 KiB")
	}
	out, err := ParseResponse(resp.StatusCode, body, b.Attributes)
	if err != nil {
		var me *mosip.Error
		if errors.As(err, &me) {
			return nil, me.Redact(c.secrets...)
		}
		return nil, err
	}
	out.TransactionID = b.TransactionID
	return out, nil
}

// scrub drops the URL (it holds the licence and API keys) from HTTP
// client errors, keeping the cause.
func (c *Client) scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	text := err.Error()
	for _, s := range c.secrets {
		if s != "" && strings.Contains(text, s) {
			return errors.New("request failed (details withheld: they contained the partner's keys)")
		}
	}
	return err
}
