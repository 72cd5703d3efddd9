// Package opencrvs confirms OpenCRVS records once MOSIP has answered: it
// accepts or rejects the record's pending REGISTER or APPROVE_CORRECTION
// action through the events service's tRPC API behind the OpenCRVS gateway.
//
// The wire form is tRPC v11 with the superjson transformer, unbatched:
// queries are GET {gateway}/events/<procedure>?input=<{"json": input}>,
// mutations POST {gateway}/events/<procedure> with {"json": input}. Every
// confirmation first reads the event (event.get) to find what is pending,
// so a repeated call after a lost answer ends as AlreadyDone instead of a
// second confirmation, and OpenCRVS deduplicates on the caller's
// deterministic transactionId as a second line of defence.
//
// Two credentials are supported: the record-specific token OpenCRVS 1.9 and
// 2.0 hand the country configuration (stored by the packet service and
// passed per call), or, when a client id and secret are configured, an
// OpenCRVS 2.1 system-client token from the auth service's client_credentials
// grant, cached until shortly before it expires.
package opencrvs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// NationalIDField is the declaration field Accept writes the national id to
// on births (OpenCRVS's "child.nid").
const NationalIDField = "child.nid"

// DefaultTimeout bounds each HTTP call when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options configure a Client.
type Options struct {
	// GatewayURL is OPENCRVS_GATEWAY_URL, e.g. http://gateway:7070; the
	// procedures live under <gateway>/events/.
	GatewayURL *url.URL
	// AuthURL is OPENCRVS_AUTH_URL, e.g. http://gateway:7070/auth; system
	// tokens come from POST <AuthURL>/token. Required with ClientID.
	AuthURL *url.URL
	// ClientID and ClientSecret are OPENCRVS_CLIENT_ID and
	// OPENCRVS_CLIENT_SECRET. Set, they select system-token mode (OpenCRVS
	// 2.1); empty, each call uses the Confirmation's RecordToken (1.9, 2.0).
	ClientID     string
	ClientSecret string
	// HTTPClient sends the requests; nil means an otelhttp-instrumented
	// client that never follows redirects (a redirect would carry the
	// bearer token elsewhere) with dial and TLS timeouts.
	HTTPClient *http.Client
	// Timeout bounds each HTTP call (event.get, the confirmation, a token
	// fetch); default DefaultTimeout.
	Timeout time.Duration
	// Logger receives outcomes that are not errors (nothing pending, already
	// confirmed); default discards.
	Logger *slog.Logger
	// TracerProvider and MeterProvider default to the global ones.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Now is the clock for token expiry; default time.Now.
	Now func() time.Time
}

// Client confirms records in OpenCRVS. It is safe for concurrent use.
type Client struct {
	events  *url.URL
	http    *http.Client
	timeout time.Duration
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics
	tokens  *systemTokens // nil in record-token mode
}

// New validates o and returns a Client, reporting every problem at once.
func New(o Options) (*Client, error) {
	var errs []error
	if err := checkURL("GatewayURL", o.GatewayURL); err != nil {
		errs = append(errs, err)
	}
	system := o.ClientID != "" || o.ClientSecret != ""
	if system {
		if o.ClientID == "" || o.ClientSecret == "" {
			errs = append(errs, errors.New("ClientID and ClientSecret must be set together"))
		}
		if err := checkURL("AuthURL", o.AuthURL); err != nil {
			errs = append(errs, fmt.Errorf("%w (required with ClientID)", err))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout must not be negative, got %s", o.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("opencrvs: %w", err)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newHTTPClient(o.Timeout, o.TracerProvider, o.MeterProvider)
	}
	m, err := newMetrics(o.MeterProvider.Meter(ScopeName))
	if err != nil {
		return nil, fmt.Errorf("opencrvs: metrics: %w", err)
	}
	c := &Client{
		events:  o.GatewayURL.JoinPath("events"),
		http:    o.HTTPClient,
		timeout: o.Timeout,
		log:     o.Logger,
		tracer:  o.TracerProvider.Tracer(ScopeName),
		metrics: m,
	}
	if system {
		c.tokens = &systemTokens{url: o.AuthURL.JoinPath("token").String(), clientID: o.ClientID, clientSecret: o.ClientSecret,
			http: o.HTTPClient, timeout: o.Timeout, now: o.Now, observe: m.recordTokenFetch}
	}
	return c, nil
}

func checkURL(name string, u *url.URL) error {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an absolute http(s) URL", name)
	}
	return nil
}

// newHTTPClient is the default client: traced and measured by otelhttp
// (span names carry the path, never the query or headers), no redirects.
func newHTTPClient(timeout time.Duration, tp trace.TracerProvider, mp metric.MeterProvider) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = 5 * time.Second
	base.ResponseHeaderTimeout = timeout
	// Every worker of the notification service may call OpenCRVS at once:
	// keep a connection for each rather than the default 2 per host, so a
	// busy moment does not open (and TLS-handshake) a new one per call.
	base.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport: otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path })),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SystemTokenMode reports whether the client authenticates with its own
// OpenCRVS 2.1 system token (true) or with each Confirmation's RecordToken.
func (c *Client) SystemTokenMode() bool { return c.tokens != nil }

// Confirmation describes what to confirm on one OpenCRVS record.
type Confirmation struct {
	// EventID and ActionID come from the record token's claims, stored by
	// the packet service. ActionID is the Requested action to confirm.
	EventID, ActionID string
	// RecordToken is the stored record-specific token, used unless the
	// client is in system-token mode.
	RecordToken string
	// TransactionID is deterministic, derived by the caller from the MOSIP
	// event (e.g. "mosip-<uuid>"): OpenCRVS deduplicates on it, so a retry
	// never creates a second action.
	TransactionID string
	// RegistrationNumber is required to accept a REGISTER action.
	RegistrationNumber string
	// NationalID is written as declaration["child.nid"] on accepts (births,
	// corrections); empty sends no declaration (deaths).
	NationalID string
	// Reason is MOSIP's result or error code text for rejects (no personal
	// data). OpenCRVS's reject input has no field for it, so it is only
	// logged.
	Reason string
}

// Outcome is how a confirmation ended. Every outcome counts as done.
type Outcome int

// Outcomes. The zero value is returned with errors.
const (
	// Accepted: this call accepted the pending action.
	Accepted Outcome = iota + 1
	// Rejected: this call rejected the pending action.
	Rejected
	// AlreadyDone: the action was already confirmed the way asked (by an
	// earlier attempt whose answer was lost, or by someone else).
	AlreadyDone
	// NoPendingAction: the event has nothing waiting for this action (for
	// instance a death that OpenCRVS accepted synchronously); logged and
	// treated as done.
	NoPendingAction
)

// String returns the outcome's metric label.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case AlreadyDone:
		return "already_done"
	case NoPendingAction:
		return "no_pending_action"
	}
	return "unknown"
}

// Accept accepts the pending action: event.get, then
// event.actions.register.accept for REGISTER (with registrationNumber, and
// declaration {"child.nid": NationalID} when NationalID is set) or
// event.actions.correction.approve.accept for APPROVE_CORRECTION (with the
// pending action's requestId). Errors are *Error; see IsRetryable.
func (c *Client) Accept(ctx context.Context, cf Confirmation) (Outcome, error) {
	return c.confirm(ctx, cf, true)
}

// Reject rejects the pending action: event.get, then
// event.actions.register.reject or event.actions.correction.approve.reject.
// OpenCRVS's reject input is {eventId, actionId, transactionId} only, so
// cf.Reason goes to the log, not to OpenCRVS. Errors are *Error.
func (c *Client) Reject(ctx context.Context, cf Confirmation) (Outcome, error) {
	return c.confirm(ctx, cf, false)
}

func (c *Client) confirm(ctx context.Context, cf Confirmation, accept bool) (out Outcome, err error) {
	kind := "reject"
	if accept {
		kind = "accept"
	}
	mode := "record_token"
	if c.tokens != nil {
		mode = "system_token"
	}
	ctx, span := c.tracer.Start(ctx, "opencrvs."+kind, trace.WithAttributes(attribute.String("opencrvs.token_mode", mode)))
	defer func() {
		label := out.String()
		if err != nil {
			label = "permanent_error"
			if IsRetryable(err) {
				label = "retryable_error"
			}
			span.SetStatus(codes.Error, label)
		}
		span.SetAttributes(attribute.String("opencrvs.outcome", label))
		c.metrics.recordConfirmation(ctx, kind, label)
		span.End()
	}()

	if err := c.validate(cf); err != nil {
		return 0, err
	}
	// The national id and the tokens never appear in error text, even if
	// OpenCRVS echoed them.
	secrets := []string{cf.NationalID, cf.RecordToken}
	raw, err := c.call(ctx, procGet, map[string]string{"eventId": cf.EventID}, cf.RecordToken, secrets)
	if err != nil {
		return 0, err
	}
	var ev eventDoc
	if json.Unmarshal(raw, &ev) != nil {
		return 0, &Error{Procedure: procGet, Status: http.StatusOK, Code: CodeMalformed, Retryable: true,
			Reason: "output is not an event document"}
	}
	proc, input, done, err := plan(&ev, cf, accept)
	if err != nil || done != 0 {
		c.logDone(ctx, done, kind, cf, ev)
		return done, err
	}
	span.SetAttributes(attribute.String("opencrvs.procedure", proc))
	if !accept {
		c.log.InfoContext(ctx, "opencrvs reject", slog.String("event_id", cf.EventID), slog.String("procedure", proc),
			slog.String("reason", sanitize(cf.Reason, secrets...)))
	}
	raw, err = c.call(ctx, proc, input, cf.RecordToken, secrets)
	if err != nil {
		return 0, err
	}
	// Someone may have confirmed between event.get and this call; core then
	// returns the event unchanged.
	out = Accepted
	if !accept {
		out = Rejected
	}
	var after eventDoc
	if json.Unmarshal(raw, &after) == nil {
		if conf, ok := after.confirmationOf(cf.ActionID); ok && conf.TransactionID != cf.TransactionID {
			out = AlreadyDone
			c.logDone(ctx, out, kind, cf, after)
		}
	}
	return out, nil
}

func (c *Client) validate(cf Confirmation) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"EventID", cf.EventID}, {"ActionID", cf.ActionID}, {"TransactionID", cf.TransactionID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if c.tokens == nil && cf.RecordToken == "" {
		missing = append(missing, "RecordToken (not in system-token mode)")
	}
	if len(missing) > 0 {
		return invalidArgument("confirmation lacks %v", missing)
	}
	return nil
}

// plan decides from the event what to do: a procedure and its input, or an
// outcome (or error) without any mutation.
func plan(ev *eventDoc, cf Confirmation, accept bool) (proc string, input map[string]any, done Outcome, err error) {
	if conf, ok := ev.confirmationOf(cf.ActionID); ok {
		switch {
		case conf.Status == statusAccepted && accept, conf.Status == statusRejected && !accept:
			return "", nil, AlreadyDone, nil
		case conf.Status == statusAccepted:
			return "", nil, 0, &Error{Procedure: procGet, Code: CodeAlreadyAccepted,
				Reason: "the action was accepted in OpenCRVS; it cannot be rejected"}
		case conf.Status == statusRejected:
			return "", nil, 0, &Error{Procedure: procGet, Code: CodeAlreadyRejected,
				Reason: "the action was rejected in OpenCRVS; it cannot be accepted"}
		}
	}
	act, found := ev.action(cf.ActionID)
	if !found {
		if other, ok := ev.pending(); ok {
			return "", nil, 0, &Error{Procedure: procGet, Code: "NOT_FOUND",
				Reason: fmt.Sprintf("action %s is not in the event; the pending action is %s %s", cf.ActionID, other.Type, other.ID)}
		}
		return "", nil, NoPendingAction, nil
	}
	if act.Status != statusRequested {
		// Confirmed synchronously when it was requested: nothing waits.
		return "", nil, NoPendingAction, nil
	}
	input = map[string]any{"transactionId": cf.TransactionID, "eventId": cf.EventID, "actionId": cf.ActionID}
	switch act.Type {
	case actionRegister:
		if !accept {
			return procRegisterReject, input, 0, nil
		}
		if cf.RegistrationNumber == "" {
			return "", nil, 0, invalidArgument("accepting a REGISTER action needs a RegistrationNumber")
		}
		input["registrationNumber"] = cf.RegistrationNumber
		addNationalID(input, cf.NationalID)
		return procRegisterAccept, input, 0, nil
	case actionApproveCorrection:
		if !accept {
			return procCorrectionReject, input, 0, nil
		}
		if act.RequestID == "" {
			return "", nil, 0, &Error{Procedure: procGet, Code: CodeMalformed,
				Reason: "the pending APPROVE_CORRECTION action has no requestId"}
		}
		input["requestId"] = act.RequestID
		addNationalID(input, cf.NationalID)
		return procCorrectionAccept, input, 0, nil
	}
	return "", nil, 0, &Error{Procedure: procGet, Code: CodeUnsupportedAction,
		Reason: fmt.Sprintf("the pending action is %q; only REGISTER and APPROVE_CORRECTION are confirmed", act.Type)}
}

func addNationalID(input map[string]any, nid string) {
	if nid != "" {
		input["declaration"] = map[string]string{NationalIDField: nid}
	}
}

func (c *Client) logDone(ctx context.Context, out Outcome, kind string, cf Confirmation, ev eventDoc) {
	switch out {
	case NoPendingAction:
		attrs := []any{slog.String("event_id", cf.EventID), slog.String("action_id", cf.ActionID), slog.String("kind", kind)}
		if p, ok := ev.pending(); ok {
			attrs = append(attrs, slog.String("pending_action_type", p.Type))
		}
		c.log.InfoContext(ctx, "opencrvs: no pending action to confirm; treated as done", attrs...)
	case AlreadyDone:
		c.log.InfoContext(ctx, "opencrvs: action already confirmed; treated as done",
			slog.String("event_id", cf.EventID), slog.String("action_id", cf.ActionID), slog.String("kind", kind))
	}
}
