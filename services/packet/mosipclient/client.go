package mosipclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Sentinel errors; test with errors.Is. Both come wrapped together with
// the *mosip.Error that carries MOSIP's code.
var (
	// ErrPacketRefused means createPacket answered HTTP 200 with a null or
	// empty response: the packet writer swallowed an exception (schema,
	// field, crypto or object-store failure) and no packet exists.
	ErrPacketRefused = errors.New("MOSIP packet manager refused the packet (response null)")
	// ErrAlreadySubmitted means workflowinstance answered RPR-WIS-001: a
	// workflow for this RID and process already exists. When the caller's
	// own earlier call succeeded, this is success, not a failure.
	ErrAlreadySubmitted = errors.New("MOSIP already has a workflow instance for this packet (RPR-WIS-001)")
)

// codeAlreadySubmitted is the workflow manager's "WorkflowInstance already present".
const codeAlreadySubmitted = "RPR-WIS-001"

// tokenRejectedCodes are the kernel auth codes after which a fresh token
// may succeed: invalid and expired. KER-ATH-403 (role or audience missing)
// is not among them, as a new token for the same client has the same roles.
var tokenRejectedCodes = map[string]bool{"KER-ATH-401": true, "KER-ATH-402": true}

// maxResponse bounds what is read of an answer; MOSIP's are a few KB.
const maxResponse = 1 << 20

// minRedactLen is the shortest value scrubbed from MOSIP's error text.
// Shorter values ("M", "no") carry no identity but would garble messages.
const minRedactLen = 3

// PacketInfo describes one sub-packet createPacket wrote (id, evidence,
// optional).
type PacketInfo struct {
	// ID is the packet id (the RID when not in offline mode).
	ID string `json:"id"`
	// PacketName is "<RID>_id", "<RID>_evidence" or "<RID>_optional".
	PacketName string `json:"packetName"`
	// Source, Process and RefID echo the request.
	Source  string `json:"source"`
	Process string `json:"process"`
	RefID   string `json:"refId"`
	// SchemaVersion is the ID-schema version as MOSIP parsed it.
	SchemaVersion string `json:"schemaVersion"`
	// Signature and EncryptedHash are MOSIP's integrity data (base64url).
	Signature     string `json:"signature"`
	EncryptedHash string `json:"encryptedHash"`
	// ProviderName and ProviderVersion name MOSIP's packet writer.
	ProviderName    string `json:"providerName"`
	ProviderVersion string `json:"providerVersion"`
	// CreationDate is when MOSIP wrote the sub-packet.
	CreationDate string `json:"creationDate"`
}

// Client calls the packet manager and the workflow manager.
type Client struct {
	// BaseURL is MOSIP's internal API base, e.g.
	// https://api-internal.mosip.example; the endpoint paths are appended.
	BaseURL string
	// CreatePacketURL and WorkflowInstanceURL, when set, are the full
	// endpoint URLs instead (the TypeScript mosip-api's
	// MOSIP_CREATE_PACKET_URL and MOSIP_PROCESS_PACKET_URL).
	CreatePacketURL, WorkflowInstanceURL string
	// HTTP sends the requests; nil means NewHTTPClient(10*time.Second, nil).
	HTTP *http.Client
	// Tokens supplies the MOSIP token (required).
	Tokens TokenSource
}

// maxIdleConnsPerHost is how many kept-alive connections to each MOSIP
// host the default transport keeps: enough for the concurrent
// registrations of a busy replica. Go's default (2) makes every call
// beyond the second open, and then close, a connection of its own.
const maxIdleConnsPerHost = 64

// NewHTTPClient returns an HTTP client for MOSIP: an otelhttp transport
// over base (nil: a clone of http.DefaultTransport keeping up to 64 idle
// connections per host), so calls are traced and measured without headers
// or bodies in the telemetry; the timeout bounding each attempt; and
// redirects not followed, because a redirect would carry the token cookie
// somewhere MOSIP did not send us.
func NewHTTPClient(timeout time.Duration, base http.RoundTripper, opts ...otelhttp.Option) *http.Client {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		base = t
	}
	opts = append([]otelhttp.Option{otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	})}, opts...)
	return &http.Client{
		Transport:     otelhttp.NewTransport(base, opts...),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var defaultHTTP = sync.OnceValue(func() *http.Client { return NewHTTPClient(10*time.Second, nil) })

var tracer = otel.Tracer("github.com/mosipcrvs/bridge/services/packet/mosipclient")

// CreatePacket sends createPacket and returns the sub-packets MOSIP wrote.
// A null or empty response is ErrPacketRefused (permanent); errors[] is a
// permanent *mosip.Error with MOSIP's code; 5xx, timeouts and network
// failures are temporary (IsTemporary). A rejected token is invalidated and
// the call retried once: MOSIP's auth filter refuses before the packet
// writer runs, so the retry cannot re-create a packet.
func (c *Client) CreatePacket(ctx context.Context, req mosip.Request[CreatePacketBody]) ([]PacketInfo, error) {
	const op = "createPacket"
	ctx, span := tracer.Start(ctx, "mosipclient.CreatePacket", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("mosip.process", req.Request.Process), attribute.String("mosip.source", req.Request.Source)))
	defer span.End()

	raw, err := c.call(ctx, span, op, http.MethodPut, c.endpoint(c.CreatePacketURL, CreatePacketPath), req,
		func() []string { return packetSecrets(req.Request) })
	if err != nil {
		var me *mosip.Error
		if errors.As(err, &me) && errors.Is(me, mosip.ErrNoResponse) {
			err = fmt.Errorf("mosipclient: %s: %w: %w", op, ErrPacketRefused, me)
		}
		return nil, fail(span, err)
	}
	var infos []PacketInfo
	if err := json.Unmarshal(raw, &infos); err != nil {
		return nil, fail(span, fmt.Errorf("mosipclient: %s: %w", op, &mosip.Error{
			Kind: mosip.KindMalformed, Status: http.StatusOK, Err: mosip.ErrMalformed, Message: "response is not a list of packet infos"}))
	}
	if len(infos) == 0 {
		return nil, fail(span, fmt.Errorf("mosipclient: %s: %w: %w", op, ErrPacketRefused, &mosip.Error{
			Kind: mosip.KindMalformed, Status: http.StatusOK, Err: mosip.ErrNoResponse, Message: "the list of packets is empty"}))
	}
	span.SetAttributes(attribute.Int("mosip.packets", len(infos)))
	return infos, nil
}

// StartWorkflow sends workflowinstance and returns MOSIP's workflow
// instance id. RPR-WIS-001 is ErrAlreadySubmitted; the caller treats it as
// success when it had created and submitted the packet itself. Other
// errors are classified like CreatePacket's.
func (c *Client) StartWorkflow(ctx context.Context, req mosip.Request[WorkflowBody]) (string, error) {
	const op = "workflowinstance"
	ctx, span := tracer.Start(ctx, "mosipclient.StartWorkflow", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("mosip.process", req.Request.Process), attribute.String("mosip.source", req.Request.Source)))
	defer span.End()

	raw, err := c.call(ctx, span, op, http.MethodPost, c.endpoint(c.WorkflowInstanceURL, WorkflowInstancePath), req,
		func() []string { return workflowSecrets(req.Request) })
	if err != nil {
		var me *mosip.Error
		if errors.As(err, &me) && hasCode(me, codeAlreadySubmitted) {
			err = fmt.Errorf("mosipclient: %s: %w: %w", op, ErrAlreadySubmitted, me)
		}
		return "", fail(span, err)
	}
	var out struct {
		WorkflowInstanceID string `json:"workflowInstanceId"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fail(span, fmt.Errorf("mosipclient: %s: %w", op, &mosip.Error{
			Kind: mosip.KindMalformed, Status: http.StatusOK, Err: mosip.ErrMalformed, Message: "response is not a workflow instance"}))
	}
	return out.WorkflowInstanceID, nil
}

// IsTemporary reports whether a failed call may succeed if repeated later:
// MOSIP unreachable, timed out or answering 5xx (pkg/mosip's rule), or the
// token service unavailable. Everything else — MOSIP's business codes,
// 4xx, a null createPacket response, a token MOSIP keeps refusing — is
// permanent until someone changes data or configuration.
func IsTemporary(err error) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Temporary()
	}
	return mosip.IsTemporary(err)
}

// call sends one request, renewing the token once if MOSIP rejects it.
// Errors are wrapped as "mosipclient: <op>: ..." and scrubbed of the token
// and of the values secrets lists (called only when there is an error to
// scrub).
func (c *Client) call(ctx context.Context, span trace.Span, op, method, url string, body any, secrets func() []string) (json.RawMessage, error) {
	if c.Tokens == nil {
		return nil, fmt.Errorf("mosipclient: %s: no token source configured", op)
	}
	if url == "" {
		return nil, fmt.Errorf("mosipclient: %s: no MOSIP URL configured", op)
	}
	payload, err := encode(body)
	if err != nil {
		return nil, fmt.Errorf("mosipclient: %s: encode request: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		span.SetAttributes(attribute.Int("mosip.attempts", attempt))
		tok, err := c.Tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("mosipclient: %s: %w", op, &TokenError{Op: "get", Err: err})
		}
		raw, err := c.send(ctx, method, url, payload, tok)
		if err == nil {
			return raw, nil
		}
		me := scrub(err, append(secrets(), tok))
		if attempt == 1 && tokenRejected(me) {
			span.AddEvent("token rejected; renewing")
			if err := c.Tokens.Invalidate(ctx, tok); err != nil {
				return nil, fmt.Errorf("mosipclient: %s: MOSIP rejected the token (%v) and %w", op, me, &TokenError{Op: "invalidate", Err: err})
			}
			continue
		}
		return nil, fmt.Errorf("mosipclient: %s: %w", op, me)
	}
}

// send performs one HTTP exchange and applies MOSIP's wire rule.
func (c *Client) send(ctx context.Context, method, url string, payload []byte, tok string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload))
	if err != nil {
		return nil, mosip.NewTransportError(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// MOSIP's auth adapter reads the token only from a cookie named
	// Authorization; a Bearer header is ignored.
	req.Header.Set("Cookie", "Authorization="+tok)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, mosip.NewTransportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, mosip.NewTransportError(fmt.Errorf("read response: %w", err))
	}
	return mosip.CheckResponse(resp.StatusCode, raw)
}

func (c *Client) endpoint(override, path string) string {
	if override != "" {
		return override
	}
	if c.BaseURL == "" {
		return ""
	}
	return strings.TrimRight(c.BaseURL, "/") + path
}

// tokenRejected reports whether MOSIP refused the token itself (HTTP 401,
// KER-ATH-401 or KER-ATH-402), as opposed to the client's roles.
func tokenRejected(me *mosip.Error) bool {
	if me == nil {
		return false
	}
	if me.Status == http.StatusUnauthorized {
		return true
	}
	if tokenRejectedCodes[me.Code] {
		return true
	}
	for _, d := range me.Details {
		if tokenRejectedCodes[d.Code] {
			return true
		}
	}
	return false
}

func hasCode(me *mosip.Error, code string) bool {
	if me.Code == code {
		return true
	}
	for _, d := range me.Details {
		if d.Code == code {
			return true
		}
	}
	return false
}

// scrub returns err as a *mosip.Error with the secrets replaced wherever
// MOSIP might echo them (its messages, a transport error's text).
func scrub(err error, secrets []string) *mosip.Error {
	var me *mosip.Error
	if !errors.As(err, &me) {
		me = mosip.NewTransportError(err)
	}
	return me.Redact(secrets...)
}

// fail records err on the span (MOSIP's code, never a value) and returns it.
func fail(span trace.Span, err error) error {
	var me *mosip.Error
	if errors.As(err, &me) {
		span.SetAttributes(attribute.String("mosip.error_kind", me.Kind.String()))
		if me.Code != "" {
			span.SetAttributes(attribute.String("mosip.error_code", me.Code))
		}
	}
	span.SetAttributes(attribute.Bool("mosip.temporary", IsTemporary(err)))
	span.SetStatus(codes.Error, "MOSIP call failed")
	return err
}

// packetSecrets lists the personal values of a packet, longest first (so
// that a value containing another is scrubbed whole): every field value
// and the values inside simpleType JSON, the forwarded metaData values
// (the informant's token), OpenCRVS's audit values, and their JSON-escaped
// forms.
func packetSecrets(b CreatePacketBody) []string {
	var out []string
	for _, v := range b.Fields {
		out = append(out, v)
		var entries []struct {
			Value string `json:"value"`
		}
		if json.Unmarshal([]byte(v), &entries) == nil {
			for _, e := range entries {
				out = append(out, e.Value)
			}
		}
	}
	var labels []label
	if json.Unmarshal([]byte(b.MetaInfo["metaData"]), &labels) == nil {
		for _, l := range labels {
			switch l.Label {
			case labelRegistrationType, labelCenterID, labelMachineID:
			default:
				if l.Value != nil {
					out = append(out, *l.Value)
				}
			}
		}
	}
	if len(b.Audits) > 1 {
		for _, a := range b.Audits[1:] {
			for _, v := range a {
				out = append(out, v)
			}
		}
	}
	return secretList(out)
}

func workflowSecrets(b WorkflowBody) []string {
	n := b.NotificationInfo
	return secretList([]string{n.Name, n.Phone, n.Email})
}

func secretList(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		forms := []string{v}
		if q, err := json.Marshal(v); err == nil {
			forms = append(forms, string(q[1:len(q)-1]))
		}
		for _, f := range forms {
			if len(f) >= minRedactLen && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}
