// Package websub keeps the notification service subscribed to MOSIP's
// WebSub hub and publishes credential acknowledgements to it.
//
// MOSIP's hub (Ballerina websubhub on Kafka) deviates from W3C WebSub in
// ways that shape this package:
//
//   - it authenticates subscribers only by a Cookie "Authorization=<token>";
//   - a refused subscribe can come back with any status, including 200,
//     with body "hub.mode=denied&hub.reason=…", so the body is always read;
//   - re-subscribing an active subscription is answered asynchronously by
//     a GET hub.mode=denied "Subscriber has already registered with the
//     Hub", which confirms the subscription rather than ending it;
//   - after a few failed deliveries the hub silently stops delivering to a
//     subscriber (keeping the messages) until it subscribes again, so the
//     Manager re-subscribes on a schedule and soon after the callback
//     reports a delivery problem (NotifyDeliveryProblem);
//   - leases are accepted but not enforced; the Manager still renews before
//     the lease the hub states in its intent verification runs out.
//
// Intent verification (the hub's GET on the callback) is answered by
// VerifyIntent, which the service's HTTP handler calls.
package websub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the package's tracer and meter.
const ScopeName = "github.com/mosipcrvs/bridge/services/notification/websub"

// Subscription statuses reported by States.
const (
	// StatusPending: a subscribe request was sent (or is about to be) and
	// the hub has not verified it yet.
	StatusPending = "pending"
	// StatusActive: the hub verified our intent, or confirmed with "already
	// registered" that the subscription exists.
	StatusActive = "active"
	// StatusDenied: the hub sent hub.mode=denied (other than "already
	// registered"); a new subscribe follows with backoff.
	StatusDenied = "denied"
	// StatusFailed: the last subscribe request failed (hub unreachable,
	// error status, synchronous denial, no verification in time); a new one
	// follows with backoff.
	StatusFailed = "failed"
)

// maxIdleConnsPerHost is how many idle connections to the hub are kept.
const maxIdleConnsPerHost = 64

// Defaults of Options.
const (
	DefaultResubscribeInterval = 6 * time.Hour
	DefaultRetryBase           = time.Second
	DefaultRetryMax            = 5 * time.Minute
	DefaultAfterFailureDelay   = 30 * time.Second
	DefaultVerifyTimeout       = 5 * time.Minute
	DefaultHTTPTimeout         = 10 * time.Second
	// DefaultPublisher is the publisher name in CREDENTIAL_STATUS_UPDATE
	// events: what MOSIP's own OpenCRVS mediator sends.
	DefaultPublisher = "OPENCRVS_MEDIATOR"
)

// maxSecret is WebSub's bound on hub.secret (it must be shorter).
const maxSecret = 200

// Subscription is one topic to keep subscribed.
type Subscription struct {
	// Name identifies it in logs, metrics and the API, e.g. "credential".
	Name string
	// Topic is e.g. "<partnerId>/CREDENTIAL_ISSUED" or
	// "REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT".
	Topic string
	// Callback is the absolute URL the hub calls. Two subscriptions may
	// share it (the topic tells them apart) or use different paths.
	Callback string
	// Secret is hub.secret, the HMAC key of deliveries; never logged.
	Secret string
	// LeaseSeconds is sent as hub.lease_seconds when positive.
	LeaseSeconds int
}

// TokenSource returns the WebSub client's MOSIP token, sent to the hub as
// Cookie: Authorization=<token>.
type TokenSource func(ctx context.Context) (string, error)

// Options configure a Manager.
type Options struct {
	// HubURL is the hub, e.g. https://api-internal.mosip.example/hub.
	HubURL *url.URL
	// Subscriptions to keep alive.
	Subscriptions []Subscription
	// Token supplies the MOSIP token (required).
	Token TokenSource
	// Invalidate, when set, is called after the hub refused the token (401,
	// 403, or a denial naming the token or authorization) before one retry
	// with a new token.
	Invalidate func(ctx context.Context)
	// HTTPClient sends the hub requests; nil means an otelhttp-instrumented
	// client with a timeout of HTTPTimeout that never follows redirects
	// (they would carry the token and the secret elsewhere) and keeps a
	// connection for each concurrent publisher.
	HTTPClient *http.Client
	// HTTPTimeout bounds each hub request of the default client (default
	// 10 s).
	HTTPTimeout time.Duration
	// Logger receives state changes; default discards.
	Logger *slog.Logger
	// ResubscribeInterval is how often an active subscription is renewed
	// (default 6 h, MOSIP's mediator); sooner when the hub's lease is
	// shorter.
	ResubscribeInterval time.Duration
	// RetryBase and RetryMax bound the full-jitter backoff after a failed
	// or denied subscribe (default 1 s and 5 min).
	RetryBase, RetryMax time.Duration
	// AfterFailureDelay is how soon NotifyDeliveryProblem re-subscribes
	// (default 30 s).
	AfterFailureDelay time.Duration
	// VerifyTimeout is how long after an accepted subscribe the hub may
	// take to call the callback (verification, or "already registered")
	// before the attempt counts as failed (default 5 min).
	VerifyTimeout time.Duration
	// Publisher names us in CREDENTIAL_STATUS_UPDATE events (default
	// DefaultPublisher).
	Publisher string
	// Clock is read for every scheduling decision and timestamp (default
	// time.Now). Waiting uses real timers for the durations it computes.
	Clock func() time.Time
	// TracerProvider and MeterProvider default to the global ones.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// State is a snapshot of one subscription.
type State struct {
	Name, Topic, Callback string
	// Status is StatusPending, StatusActive, StatusDenied or StatusFailed.
	Status string
	// LastError describes the last failure or denial (no secrets); empty
	// once active again.
	LastError string
	// VerifiedAt is when the hub last verified our intent (zero when it only
	// ever confirmed with "already registered").
	VerifiedAt time.Time
	// LastAttempt is when the last subscribe request was sent.
	LastAttempt time.Time
	// NextRenewal is when the next subscribe request is due (or, while a
	// request awaits the hub's call, when it counts as unverified).
	NextRenewal time.Time
	// Attempts counts the subscribe requests sent since start.
	Attempts int
	// LeaseSeconds is the lease the hub stated when it verified intent.
	LeaseSeconds int
}

// sub is the mutable state of one subscription, guarded by Manager.mu.
type sub struct {
	cfg  Subscription
	path string // the callback's path, normalised

	status            string
	lastErr           string
	verifiedAt        time.Time
	lastAttempt, next time.Time
	attempts          int
	failures          int // consecutive, for the backoff
	lease             int

	// gen counts attempts started; answeredGen is the gen the hub last
	// answered with a GET (verified, confirmed or denied), so an attempt
	// whose POST answer is read after the hub's GET leaves the state alone.
	gen, answeredGen int
	// awaitUntil bounds when intent GETs for our latest request are
	// accepted; awaiting marks an accepted request whose GET is due by then.
	awaitUntil time.Time
	awaiting   bool
	inflight   bool
}

// Manager subscribes to the hub and keeps the subscriptions alive. Its
// methods are safe for concurrent use.
type Manager struct {
	hub               *url.URL
	token             TokenSource
	invalidate        func(context.Context)
	http              *http.Client
	log               *slog.Logger
	interval          time.Duration
	retryBase         time.Duration
	retryMax          time.Duration
	afterFailure      time.Duration
	verifyTimeout     time.Duration
	publisher         string
	now               func() time.Time
	tracer            trace.Tracer
	metrics           *metrics
	started           atomic.Bool
	kick              chan struct{}
	mu                sync.Mutex
	subs              []*sub
	secrets, callback []string // scrubbed from any text kept from the hub
}

// New validates o, reporting every problem at once, and returns a Manager:
// absolute http(s) hub and callback URLs, a token source, non-empty topics
// and secrets (shorter than 200 bytes), unique names, and no two
// subscriptions with the same topic and callback path.
func New(o Options) (*Manager, error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !absoluteHTTP(o.HubURL) {
		add("HubURL must be an absolute http(s) URL")
	}
	if o.Token == nil {
		add("Token is required")
	}
	for name, d := range map[string]time.Duration{"ResubscribeInterval": o.ResubscribeInterval, "RetryBase": o.RetryBase,
		"RetryMax": o.RetryMax, "AfterFailureDelay": o.AfterFailureDelay, "VerifyTimeout": o.VerifyTimeout} {
		if d < 0 {
			add("%s must not be negative, got %s", name, d)
		}
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i, s := range o.Subscriptions {
		label := fmt.Sprintf("subscription %d (%q)", i, s.Name)
		switch {
		case s.Name == "":
			add("subscription %d: Name is required", i)
		case names[s.Name]:
			add("%s: Name is used twice", label)
		}
		names[s.Name] = true
		if s.Topic == "" {
			add("%s: Topic is required", label)
		}
		u, err := url.Parse(s.Callback)
		if err != nil || !absoluteHTTP(u) {
			add("%s: Callback must be an absolute http(s) URL", label)
		} else {
			// VerifyIntent tells subscriptions apart by topic and path.
			key := s.Topic + "\x00" + cleanPath(u.Path)
			if keys[key] {
				add("%s: another subscription has the same topic and callback path", label)
			}
			keys[key] = true
		}
		if s.Secret == "" {
			add("%s: Secret is required (MOSIP's hub refuses subscriptions without hub.secret)", label)
		} else if len(s.Secret) >= maxSecret {
			add("%s: Secret must be shorter than %d bytes", label, maxSecret)
		}
		if s.LeaseSeconds < 0 {
			add("%s: LeaseSeconds must not be negative", label)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("websub: %w", err)
	}

	m := &Manager{hub: o.HubURL, token: o.Token, invalidate: o.Invalidate, http: o.HTTPClient, log: o.Logger,
		interval: or(o.ResubscribeInterval, DefaultResubscribeInterval), retryBase: or(o.RetryBase, DefaultRetryBase),
		retryMax: or(o.RetryMax, DefaultRetryMax), afterFailure: or(o.AfterFailureDelay, DefaultAfterFailureDelay),
		verifyTimeout: or(o.VerifyTimeout, DefaultVerifyTimeout), publisher: o.Publisher, now: o.Clock,
		kick: make(chan struct{}, 1)}
	m.retryMax = max(m.retryMax, m.retryBase)
	if m.publisher == "" {
		m.publisher = DefaultPublisher
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	tp, mp := o.TracerProvider, o.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if m.http == nil {
		m.http = newHTTPClient(or(o.HTTPTimeout, DefaultHTTPTimeout), tp, mp)
	}
	m.tracer = tp.Tracer(ScopeName)
	for _, s := range o.Subscriptions {
		u, _ := url.Parse(s.Callback)
		m.subs = append(m.subs, &sub{cfg: s, path: cleanPath(u.Path), status: StatusPending})
		m.secrets = append(m.secrets, s.Secret)
		m.callback = append(m.callback, s.Callback)
	}
	var err error
	if m.metrics, err = newMetrics(mp.Meter(ScopeName), m); err != nil {
		return nil, fmt.Errorf("websub: metrics: %w", err)
	}
	return m, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func absoluteHTTP(u *url.URL) bool {
	return u != nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// cleanPath normalises a callback path for matching: the hub may add a
// trailing slash, and an empty path is the root.
func cleanPath(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	return p
}

func newHTTPClient(timeout time.Duration, tp trace.TracerProvider, mp metric.MeterProvider) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Every worker of the notification service may publish a status at
	// once; the default of 2 idle connections per host would open (and
	// handshake) a new one for most of them.
	base.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{
		Timeout: timeout,
		Transport: otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp),
			// The publish query names only the mode and topic; the form
			// body with the secret is never recorded.
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "websub hub " + r.Method })),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// States returns a snapshot of every subscription, in configuration order.
func (m *Manager) States() []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]State, len(m.subs))
	for i, s := range m.subs {
		out[i] = State{Name: s.cfg.Name, Topic: s.cfg.Topic, Callback: s.cfg.Callback, Status: s.status,
			LastError: s.lastErr, VerifiedAt: s.verifiedAt, LastAttempt: s.lastAttempt, NextRenewal: s.next,
			Attempts: s.attempts, LeaseSeconds: s.lease}
	}
	return out
}

// Run subscribes every subscription at once, then keeps them alive until
// ctx ends: renewals on ResubscribeInterval (or before the hub's lease runs
// out), retries with backoff after failures and denials, and soon after
// NotifyDeliveryProblem. It does not unsubscribe on return, so the hub keeps
// queueing for us. It returns nil when ctx ends, and an error if called
// twice.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("websub: Run called more than once")
	}
	m.mu.Lock()
	now := m.now()
	for _, s := range m.subs {
		s.next = now
	}
	m.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, wait := m.schedule()
		for _, s := range due {
			wg.Go(func() {
				m.attempt(ctx, s)
				m.wake()
			})
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-m.kick:
		case <-timer.C:
		}
	}
}

// wake makes Run re-read the schedule.
func (m *Manager) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// schedule returns the subscriptions due for a subscribe request (marked
// in flight) and how long until the next one is due. Requests the hub has
// not called back for within VerifyTimeout fail here.
func (m *Manager) schedule() ([]*sub, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	wait := time.Hour
	var due []*sub
	for _, s := range m.subs {
		if s.inflight {
			continue
		}
		if s.awaiting && !now.Before(s.awaitUntil) {
			m.failLocked(s, now, kindUnverified, fmt.Sprintf("the hub did not call the callback within %s of the subscribe request", m.verifyTimeout))
		}
		if !now.Before(s.next) {
			s.inflight = true
			due = append(due, s)
			continue
		}
		wait = min(wait, s.next.Sub(now))
	}
	return due, max(wait, time.Millisecond)
}

// attempt sends one subscribe request for s and records the result.
func (m *Manager) attempt(ctx context.Context, s *sub) {
	m.mu.Lock()
	now := m.now()
	s.gen++
	gen := s.gen
	s.attempts++
	s.lastAttempt = now
	s.awaitUntil = now.Add(m.verifyTimeout)
	s.awaiting = false
	if s.status != StatusActive {
		s.status = StatusPending
	}
	cfg := s.cfg
	m.mu.Unlock()

	m.metrics.attempts.Add(ctx, 1, nameAttr(cfg.Name))
	err := m.subscribe(ctx, cfg)

	m.mu.Lock()
	defer m.mu.Unlock()
	s.inflight = false
	now = m.now()
	if s.answeredGen == gen {
		return // the hub already called back for this request
	}
	if err == nil {
		s.awaiting = true
		s.awaitUntil = now.Add(m.verifyTimeout)
		s.next = s.awaitUntil
		return
	}
	var he *HubError
	kind := kindTransport
	if errors.As(err, &he) {
		kind = he.kind()
		if he.Status != 0 {
			// The hub answered: it will not call back for this request.
			s.awaitUntil = time.Time{}
		}
	}
	if ctx.Err() != nil {
		kind = kindCanceled
	}
	m.failLocked(s, now, kind, err.Error())
}

// Failure kinds, the metric label of subscribe failures.
const (
	kindTransport  = "transport"
	kindStatus     = "status"
	kindDenied     = "denied"
	kindToken      = "token"
	kindUnverified = "unverified"
	kindCanceled   = "canceled"
)

// failLocked records a failed subscribe and schedules the next one with
// full-jitter backoff. Caller holds m.mu.
func (m *Manager) failLocked(s *sub, now time.Time, kind, msg string) {
	s.status = StatusFailed
	s.lastErr = msg
	s.awaiting = false
	s.failures++
	s.next = now.Add(m.backoff(s.failures))
	m.metrics.failures.Add(context.Background(), 1, nameKindAttrs(s.cfg.Name, kind))
	if kind != kindCanceled {
		m.log.Warn("websub subscribe failed", slog.String("subscription", s.cfg.Name), slog.String("topic", s.cfg.Topic),
			slog.String("kind", kind), slog.String("error", msg), slog.Int("failures", s.failures),
			slog.Time("retry_at", s.next))
	}
}

// backoff is full jitter: uniform in [0, min(RetryMax, RetryBase·2^(n-1))].
func (m *Manager) backoff(failures int) time.Duration {
	ceiling := m.retryBase
	for i := 1; i < failures && ceiling < m.retryMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, m.retryMax)
	return rand.N(ceiling + 1)
}

// renewalLocked is when an active subscription is renewed: after
// ResubscribeInterval, or at four fifths of the hub's lease if sooner.
func (m *Manager) renewalLocked(s *sub, now time.Time) time.Time {
	d := m.interval
	if s.lease > 0 {
		d = min(d, max(time.Duration(s.lease)*time.Second*4/5, time.Second))
	}
	return now.Add(d)
}

// NotifyDeliveryProblem tells the Manager that the callback failed to
// store an event of topic. MOSIP's hub stops delivering after a few
// failures until the subscriber subscribes again, so every subscription of
// the topic is re-subscribed within AfterFailureDelay (once, however many
// failures are reported meanwhile).
func (m *Manager) NotifyDeliveryProblem(topic string) {
	m.mu.Lock()
	now := m.now()
	found := false
	for _, s := range m.subs {
		if s.cfg.Topic != topic {
			continue
		}
		found = true
		m.metrics.deliveryProblems.Add(context.Background(), 1, nameAttr(s.cfg.Name))
		if at := now.Add(m.afterFailure); s.next.After(at) {
			s.next = at
		}
	}
	m.mu.Unlock()
	if !found {
		m.log.Warn("websub delivery problem for an unknown topic", slog.String("topic", sanitize(topic, 0)))
		return
	}
	m.wake()
}

// subscriptionFor returns the subscription matching a callback path and
// topic. Caller holds m.mu.
func (m *Manager) subscriptionFor(path, topic string) *sub {
	p := cleanPath(path)
	i := slices.IndexFunc(m.subs, func(s *sub) bool { return s.path == p && s.cfg.Topic == topic })
	if i < 0 {
		return nil
	}
	return m.subs[i]
}
