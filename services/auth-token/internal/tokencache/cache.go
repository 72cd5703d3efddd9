// Package tokencache is the two-level MOSIP token cache behind the
// auth-token service.
//
// L1 is an atomic pointer per client to an immutable token, so a hit is a
// pointer load and two time comparisons, with no lock and no allocation.
// L2 is a Store shared by replicas (Redis) that also holds a short lock, so
// that across a fleet one replica calls the auth manager and the others
// read its result. Within a process, concurrent misses share one fetch
// (singleflight). Tokens are refreshed in the background at a fraction of
// their lifetime while the current one keeps being served; a failed
// refresh keeps the old token until it goes stale and retries with
// spacing. A failing store only costs extra fetches, never a failed call.
package tokencache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/authmanager"
)

// DefaultKeyPrefix namespaces the service's keys in a shared Redis.
const DefaultKeyPrefix = "mosipcrvs:authtoken:"

// Fetcher obtains a new token from the auth manager; *authmanager.Client is one.
type Fetcher interface {
	Fetch(ctx context.Context, cred authmanager.Credentials) (authmanager.Token, error)
}

// Client is one configured MOSIP client.
type Client struct {
	// Name is the configured name callers use ("packet", "websub").
	Name string
	// Credentials are sent to the auth manager.
	Credentials authmanager.Credentials
}

// Options configure a Cache. Zero values take the documented defaults;
// tests shorten the timings.
type Options struct {
	// Profile namespaces store keys: <KeyPrefix><Profile>:<client>.
	Profile string
	// KeyPrefix defaults to DefaultKeyPrefix.
	KeyPrefix string
	// Clients are the configured clients; names must be unique and non-empty.
	Clients []Client
	// Fetcher calls the auth manager.
	Fetcher Fetcher
	// Store is the shared L2 store; nil means a private MemoryStore.
	Store Store
	// Policy is the expiry arithmetic.
	Policy Policy
	// FetchTimeout bounds one auth manager call as the Fetcher enforces it
	// (default 10 s); lock and flight timeouts are derived from it.
	FetchTimeout time.Duration
	// RefreshRetryMin and RefreshRetryMax space retries after a failed
	// background refresh (defaults 10 s and 60 s, doubling in between).
	RefreshRetryMin, RefreshRetryMax time.Duration
	// FailureHold is how long a failed fetch answers further misses
	// without calling the auth manager again (default 1 s), so a refusing
	// or dead auth manager is not hammered by every caller in turn.
	FailureHold time.Duration
	// MinForcedRefreshInterval rate-limits Invalidate per client (default 10 s).
	MinForcedRefreshInterval time.Duration
	// PollMin and PollMax bound the jittered sleep of a replica waiting for
	// another replica's fetch (defaults 25 ms and 100 ms).
	PollMin, PollMax time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// TracerProvider receives miss-path spans (default: global).
	TracerProvider trace.TracerProvider
	// MeterProvider receives the cache metrics (default: global).
	MeterProvider metric.MeterProvider
}

// ErrUnknownClient is returned (wrapped in *UnknownClientError) for a
// client name that is not configured.
var ErrUnknownClient = errors.New("unknown client")

// UnknownClientError names the unknown client and the valid ones.
type UnknownClientError struct {
	// Client is the requested name (truncated for display).
	Client string
	// Known lists the configured names, sorted.
	Known []string
}

// Error implements error.
func (e *UnknownClientError) Error() string {
	return fmt.Sprintf("unknown client %q; configured clients: %s", e.Client, strings.Join(e.Known, ", "))
}

// Is makes errors.Is(err, ErrUnknownClient) work.
func (e *UnknownClientError) Is(target error) bool { return target == ErrUnknownClient }

// Cache hands out tokens per client. It is safe for concurrent use.
type Cache struct {
	entries map[string]*entry
	names   []string
	fetcher Fetcher
	store   Store
	policy  Policy
	now     func() time.Time
	log     *slog.Logger
	tracer  trace.Tracer
	m       *metrics
	group   singleflight.Group

	lockTTL, flightTimeout time.Duration
	retryMin, retryMax     time.Duration
	failureHold, minForced time.Duration
	pollMin, pollMax       time.Duration
	refreshLog             logLimiter
	baseCtx                context.Context
	cancel                 context.CancelFunc
	mu                     sync.Mutex // guards closed and wg.Add
	closed                 bool
	wg                     sync.WaitGroup
}

// entry is one client's state. cur is the L1 cache; everything else is
// bookkeeping read by States and the refresh logic.
type entry struct {
	name    string
	cred    authmanager.Credentials
	key     string
	lockKey string

	cur        atomic.Pointer[token]
	refreshing atomic.Bool
	// retryAt (unix ns) holds back background refreshes after a failure.
	retryAt       atomic.Int64
	retryBackoff  atomic.Int64
	failure       atomic.Pointer[failure]
	lastForced    atomic.Int64
	revoked       atomic.Pointer[string]
	lastSource    atomic.Pointer[string]
	hitsL1        atomic.Uint64
	hitsL2        atomic.Uint64
	misses        atomic.Uint64
	authCalls     atomic.Uint64
	refreshFailed atomic.Uint64
}

type failure struct {
	err error
	at  time.Time
}

type level int

const (
	levelL1 level = iota + 1
	levelL2
	levelFetched
)

type flightResult struct {
	tok *token
	lvl level
}

// New builds a Cache. It does not contact the store or the auth manager.
func New(o Options) (*Cache, error) {
	if o.Fetcher == nil {
		return nil, errors.New("tokencache: Fetcher is required")
	}
	if len(o.Clients) == 0 {
		return nil, errors.New("tokencache: no clients configured")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Profile == "" {
		o.Profile = "default"
	}
	setDefault(&o.FetchTimeout, 10*time.Second)
	setDefault(&o.RefreshRetryMin, 10*time.Second)
	setDefault(&o.RefreshRetryMax, 60*time.Second)
	setDefault(&o.FailureHold, time.Second)
	setDefault(&o.MinForcedRefreshInterval, 10*time.Second)
	setDefault(&o.PollMin, 25*time.Millisecond)
	setDefault(&o.PollMax, 100*time.Millisecond)
	if o.PollMax < o.PollMin {
		o.PollMax = o.PollMin
	}
	if o.RefreshRetryMax < o.RefreshRetryMin {
		o.RefreshRetryMax = o.RefreshRetryMin
	}

	c := &Cache{
		entries:     make(map[string]*entry, len(o.Clients)),
		fetcher:     o.Fetcher,
		policy:      o.Policy.withDefaults(),
		now:         o.Now,
		log:         o.Logger,
		tracer:      o.TracerProvider.Tracer(ScopeName),
		retryMin:    o.RefreshRetryMin,
		retryMax:    o.RefreshRetryMax,
		failureHold: o.FailureHold,
		minForced:   o.MinForcedRefreshInterval,
		pollMin:     o.PollMin,
		pollMax:     o.PollMax,
		// The lock outlives the winner's fetch; a loser waits at most that
		// long, then fetches itself, all within one flight.
		lockTTL:       o.FetchTimeout + 2*time.Second,
		flightTimeout: 2*o.FetchTimeout + 5*time.Second,
		refreshLog:    logLimiter{every: 10 * time.Second},
	}
	for _, cl := range o.Clients {
		if cl.Name == "" {
			return nil, errors.New("tokencache: client with empty name")
		}
		if _, dup := c.entries[cl.Name]; dup {
			return nil, fmt.Errorf("tokencache: client %q configured twice", cl.Name)
		}
		key := o.KeyPrefix + o.Profile + ":" + cl.Name
		c.entries[cl.Name] = &entry{name: cl.Name, cred: cl.Credentials, key: key, lockKey: key + ":lock"}
		c.names = append(c.names, cl.Name)
	}
	sort.Strings(c.names)
	m, err := newMetrics(o.MeterProvider.Meter(ScopeName), c.entries)
	if err != nil {
		return nil, fmt.Errorf("tokencache: metrics: %w", err)
	}
	c.m = m
	store := o.Store
	if store == nil {
		store = NewMemoryStore(o.Now)
	}
	c.store = newGuard(store, o.Logger, m.storeErrors)
	c.baseCtx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Clients returns the configured client names, sorted.
func (c *Cache) Clients() []string { return append([]string(nil), c.names...) }

func (c *Cache) lookup(client string) (*entry, error) {
	if e := c.entries[client]; e != nil {
		return e, nil
	}
	shown := client
	if len(shown) > 64 {
		shown = shown[:64] + "…"
	}
	return nil, &UnknownClientError{Client: shown, Known: c.Clients()}
}

// Get returns a usable token for client. The hit path is lock-free and
// allocation-free; a miss waits for one shared fetch, bounded by ctx.
func (c *Cache) Get(ctx context.Context, client string) (Token, error) {
	e := c.entries[client]
	if e == nil {
		_, err := c.lookup(client)
		return Token{}, err
	}
	now := c.now()
	if t := e.cur.Load(); t != nil && now.Before(t.staleAt) {
		e.hitsL1.Add(1)
		if !now.Before(t.refreshAt) && now.UnixNano() >= e.retryAt.Load() && !e.refreshing.Load() {
			c.refreshAhead(e)
		}
		return Token{Value: t.value, ExpiresAt: t.expiresAt}, nil
	}
	return c.miss(ctx, e)
}

func (c *Cache) miss(ctx context.Context, e *entry) (Token, error) {
	if f := e.failure.Load(); f != nil && c.now().Sub(f.at) < c.failureHold {
		e.misses.Add(1)
		return Token{}, f.err
	}
	// The flight runs detached from this caller: if this caller gives up,
	// the callers sharing the flight still get the token.
	detached := context.WithoutCancel(ctx)
	ch := c.group.DoChan(e.name, func() (any, error) { return c.flight(detached, e) })
	select {
	case r := <-ch:
		if r.Err != nil {
			e.misses.Add(1)
			return Token{}, r.Err
		}
		fr := r.Val.(flightResult)
		switch fr.lvl {
		case levelL1:
			e.hitsL1.Add(1)
		case levelL2:
			e.hitsL2.Add(1)
		default:
			e.misses.Add(1)
		}
		return Token{Value: fr.tok.value, ExpiresAt: fr.tok.expiresAt}, nil
	case <-ctx.Done():
		e.misses.Add(1)
		return Token{}, ctx.Err()
	}
}

// refreshAhead starts one background refresh for e unless one is running.
func (c *Cache) refreshAhead(e *entry) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		e.refreshing.Store(false)
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer e.refreshing.Store(false)
		r := <-c.group.DoChan(e.name, func() (any, error) { return c.flight(c.baseCtx, e) })
		if r.Err == nil {
			e.retryBackoff.Store(0)
			return
		}
		if c.baseCtx.Err() != nil {
			return // closing: the refresh was abandoned, not refused
		}
		e.refreshFailed.Add(1)
		c.m.refreshFailures.Add(c.baseCtx, 1, metric.WithAttributes(attribute.String("client", e.name)))
		// Space retries: min, doubling to max, jittered so replicas spread out.
		b := time.Duration(e.retryBackoff.Load())
		b = min(max(2*b, c.retryMin), c.retryMax)
		e.retryBackoff.Store(int64(b))
		wait := b/2 + mrand.N(b/2+1)
		e.retryAt.Store(c.now().Add(wait).UnixNano())
		if cur := e.cur.Load(); cur != nil && c.refreshLog.allow() {
			c.log.Warn("token refresh failed; serving the current token until it goes stale",
				slog.String("client", e.name), slog.String("error", r.Err.Error()),
				slog.Time("stale_at", cur.staleAt), slog.Duration("retry_in", wait))
		}
	}()
}

// flight runs one load under its own deadline and records the outcome.
func (c *Cache) flight(parent context.Context, e *entry) (any, error) {
	ctx, cancel := context.WithTimeout(parent, c.flightTimeout)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, "authtoken.load", trace.WithAttributes(attribute.String("mosip.client", e.name)))
	defer span.End()
	t, lvl, err := c.load(ctx, e)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, Outcome(err))
		e.failure.Store(&failure{err: err, at: c.now()})
		return nil, err
	}
	span.SetAttributes(attribute.String("authtoken.source", [...]string{levelL1: "l1", levelL2: "l2", levelFetched: "auth_manager"}[lvl]))
	return flightResult{tok: t, lvl: lvl}, nil
}

// load finds a replacement for the current token: from L1 if another
// flight already replaced it, from L2 if another replica did, else by
// fetching under the shared lock (or without it when the store fails).
func (c *Cache) load(ctx context.Context, e *entry) (*token, level, error) {
	now := c.now()
	cur := e.cur.Load()
	if cur != nil && now.Before(cur.refreshAt) {
		return cur, levelL1, nil
	}
	span := trace.SpanFromContext(ctx)
	en, found, err := c.store.Get(ctx, e.key)
	if err != nil {
		span.AddEvent("store unavailable; fetching without lock")
		return c.fetch(ctx, e)
	}
	if t := c.adoptable(e, cur, en, found); t != nil {
		return t, levelL2, nil
	}
	owner := rand.Text()
	pollUntil := now.Add(c.lockTTL + c.pollMax)
	for waited := false; ; waited = true {
		got, err := c.store.TryLock(ctx, e.lockKey, owner, c.lockTTL)
		if err != nil {
			span.AddEvent("store unavailable; fetching without lock")
			return c.fetch(ctx, e)
		}
		if got {
			span.AddEvent("lock acquired", trace.WithAttributes(attribute.Bool("waited", waited)))
			defer c.unlock(ctx, e, owner)
			// Another replica may have stored a token between our read
			// and our lock.
			if en, found, err := c.store.Get(ctx, e.key); err == nil {
				if t := c.adoptable(e, cur, en, found); t != nil {
					return t, levelL2, nil
				}
			}
			return c.fetch(ctx, e)
		}
		if !waited {
			span.AddEvent("lock held by another replica; waiting")
		}
		if !sleep(ctx, c.pollMin+mrand.N(c.pollMax-c.pollMin+1)) || !c.now().Before(pollUntil) {
			break
		}
		en, found, err := c.store.Get(ctx, e.key)
		if err != nil {
			break
		}
		if t := c.adoptable(e, cur, en, found); t != nil {
			return t, levelL2, nil
		}
	}
	span.AddEvent("gave up waiting for another replica; fetching")
	return c.fetch(ctx, e)
}

// adoptable returns the L2 entry as an installed token if it may replace
// cur: usable now, not revoked, and, while cur is still usable, newer and
// not itself due for refresh (otherwise fetching is the point).
func (c *Cache) adoptable(e *entry, cur *token, en Entry, found bool) *token {
	if !found || en.Token == "" {
		return nil
	}
	if r := e.revoked.Load(); r != nil && *r == en.Token {
		return nil
	}
	now := c.now()
	t := newToken(c.policy, en, c.store.Name())
	if !now.Before(t.staleAt) {
		return nil
	}
	if cur != nil && en.Token == cur.value {
		return nil
	}
	if cur != nil && now.Before(cur.staleAt) && !now.Before(t.refreshAt) {
		return nil
	}
	if !c.install(e, t) {
		return nil
	}
	return t
}

// install publishes t as the L1 token. It backs out if t was revoked
// meanwhile: Invalidate records the revoked value before it compares L1,
// so either it sees t in L1 or install sees the revocation.
func (c *Cache) install(e *entry, t *token) bool {
	e.cur.Store(t)
	if r := e.revoked.Load(); r != nil && *r == t.value {
		e.cur.CompareAndSwap(t, nil)
		return false
	}
	e.failure.Store(nil)
	src := t.source
	e.lastSource.Store(&src)
	c.log.Info("token installed", slog.String("client", e.name), slog.String("source", t.source),
		slog.String("fingerprint", logging.Fingerprint(t.value)), slog.Time("expires_at", t.expiresAt),
		slog.Time("refresh_at", t.refreshAt))
	return true
}

func (c *Cache) fetch(ctx context.Context, e *entry) (*token, level, error) {
	e.authCalls.Add(1)
	start := time.Now()
	at, err := c.fetcher.Fetch(ctx, e.cred)
	c.m.recordFetch(ctx, e.name, time.Since(start), err)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch token for client %q: %w", e.name, err)
	}
	en := Entry{Token: at.Value, AcquiredAt: at.AcquiredAt, ExpiresAt: at.ExpiresAt}
	// An auth manager that hands the revoked token out again vouches for
	// it (static tokens in test rigs do this); trust the fresh answer.
	if r := e.revoked.Load(); r != nil && *r == at.Value {
		e.revoked.CompareAndSwap(r, nil)
	}
	t := newToken(c.policy, en, sourceAuthManager)
	if !c.install(e, t) {
		return nil, 0, fmt.Errorf("fetch token for client %q: token revoked while it was being fetched", e.name)
	}
	// A failed store only means other replicas fetch for themselves.
	_ = c.store.Set(ctx, e.key, en)
	return t, levelFetched, nil
}

func (c *Cache) unlock(ctx context.Context, e *entry, owner string) {
	// The flight's deadline may be spent; releasing the lock still matters
	// to the other replicas.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeOpTimeout)
	defer cancel()
	_ = c.store.Unlock(uctx, e.lockKey, owner)
}

// Invalidate drops token for client if it is still the cached one, in
// process memory and in the shared store (compare-and-delete), so the next
// Get fetches a new one. It returns false when the token is not the cached
// one or when forced refreshes for the client are rate-limited.
func (c *Cache) Invalidate(ctx context.Context, client, value string) (bool, error) {
	e, err := c.lookup(client)
	if err != nil {
		return false, err
	}
	now := c.now()
	if last := e.lastForced.Load(); last != 0 && now.Sub(time.Unix(0, last)) < c.minForced {
		c.m.invalidations.Add(ctx, 1, metric.WithAttributes(attribute.String("client", client), attribute.String("result", "rate_limited")))
		return false, nil
	}
	// Record the revocation before touching L1; see install.
	v := value
	e.revoked.Store(&v)
	dropped := false
	if cur := e.cur.Load(); cur != nil && cur.value == value {
		dropped = e.cur.CompareAndSwap(cur, nil)
	}
	deleted, serr := c.store.CompareAndDelete(ctx, e.key, value)
	if serr != nil && ctx.Err() != nil {
		return dropped, ctx.Err()
	}
	result := "not_current"
	if dropped || deleted {
		result = "invalidated"
		e.lastForced.Store(now.UnixNano())
		e.failure.Store(nil)
		c.log.Info("token invalidated", slog.String("client", client), slog.String("fingerprint", logging.Fingerprint(value)),
			slog.Bool("process", dropped), slog.Bool("shared", deleted))
	}
	c.m.invalidations.Add(ctx, 1, metric.WithAttributes(attribute.String("client", client), attribute.String("result", result)))
	return dropped || deleted, nil
}

// State is what operators may see about one client: never the token.
type State struct {
	// Client is the configured name; ClientID and AppID are what is sent
	// to the auth manager (neither is a secret).
	Client, ClientID, AppID string
	// HasToken is true while this process holds a token it would hand out.
	HasToken bool
	// AcquiredAt and ExpiresAt date the held token (zero without one).
	AcquiredAt, ExpiresAt time.Time
	// Hits counts calls answered from L1 or L2, Misses calls that found no
	// usable token, AuthCalls this process's calls to the auth manager.
	Hits, Misses, AuthCalls uint64
	// LastError is the last failed fetch or refresh, cleared by the next success.
	LastError string
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
	// Source is where the held token came from: "auth_manager" or the
	// store's name.
	Source string
}

// States reports every client, sorted by name.
func (c *Cache) States() []State {
	now := c.now()
	out := make([]State, 0, len(c.names))
	for _, name := range c.names {
		e := c.entries[name]
		s := State{
			Client: name, ClientID: e.cred.ClientID, AppID: e.cred.AppID,
			Hits: e.hitsL1.Load() + e.hitsL2.Load(), Misses: e.misses.Load(), AuthCalls: e.authCalls.Load(),
		}
		if t := e.cur.Load(); t != nil {
			s.HasToken = now.Before(t.staleAt)
			s.AcquiredAt, s.ExpiresAt = t.acquiredAt, t.expiresAt
		}
		if src := e.lastSource.Load(); src != nil {
			s.Source = *src
		}
		if f := e.failure.Load(); f != nil {
			s.LastError, s.LastErrorAt = f.err.Error(), f.at
		}
		out = append(out, s)
	}
	return out
}

// Close stops background refreshes and waits for them. It does not close
// the store, which the caller owns.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return c.m.registration.Unregister()
}

// sleep waits d or until ctx is done; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logLimiter lets one log line through per interval.
type logLimiter struct {
	every time.Duration
	last  atomic.Int64
}

func (l *logLimiter) allow() bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	return now-last >= int64(l.every) && l.last.CompareAndSwap(last, now)
}
