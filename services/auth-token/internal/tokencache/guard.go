package tokencache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ErrStoreUnavailable is returned while the breaker keeps a failing store
// out of the request path.
var ErrStoreUnavailable = errors.New("token store unavailable (circuit open)")

// Breaker timings: the first retry comes quickly (a Redis restart takes a
// second or two), later ones back off so a dead Redis costs one failed
// call per 30 s rather than one per request.
const (
	breakerMinBackoff = 250 * time.Millisecond
	breakerMaxBackoff = 30 * time.Second
	storeOpTimeout    = 500 * time.Millisecond
	storeLogEvery     = 30 * time.Second
)

// guard wraps the L2 store with a per-call timeout, a circuit breaker,
// error metrics and rate-limited logging. Every caller treats its errors
// as "no shared cache right now" and carries on from process memory.
type guard struct {
	inner   Store
	log     *slog.Logger
	errs    metric.Int64Counter
	timeout time.Duration

	mu        sync.Mutex
	failing   bool
	probing   bool
	openUntil time.Time
	backoff   time.Duration
	lastLog   time.Time
	suppress  int
}

func newGuard(inner Store, log *slog.Logger, errs metric.Int64Counter) *guard {
	return &guard{inner: inner, log: log, errs: errs, timeout: storeOpTimeout}
}

// Name implements Store.
func (g *guard) Name() string { return g.inner.Name() }

// admit lets a call through unless the breaker is open. After the backoff
// one probe call is let through; its result closes or reopens the breaker.
func (g *guard) admit() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.failing {
		return true
	}
	if g.probing || time.Now().Before(g.openUntil) {
		return false
	}
	g.probing = true
	return true
}

func (g *guard) call(ctx context.Context, op string, f func(context.Context) error) error {
	if !g.admit() {
		return ErrStoreUnavailable
	}
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	err := f(cctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		// The caller gave up; that says nothing about the store's health.
		g.mu.Lock()
		g.probing = false
		g.mu.Unlock()
		return err
	}
	g.report(ctx, op, err)
	return err
}

func (g *guard) report(ctx context.Context, op string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probing = false
	now := time.Now()
	if err == nil {
		if g.failing {
			g.log.InfoContext(ctx, "token store reachable again", slog.String("store", g.inner.Name()),
				slog.Int("suppressed_errors", g.suppress))
		}
		g.failing, g.backoff, g.suppress = false, 0, 0
		return
	}
	g.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op), attribute.String("store", g.inner.Name())))
	first := !g.failing
	g.failing = true
	g.backoff = min(max(2*g.backoff, breakerMinBackoff), breakerMaxBackoff)
	// Full jitter on the upper half keeps replicas from probing in step.
	g.openUntil = now.Add(g.backoff/2 + rand.N(g.backoff/2+1))
	if first || now.Sub(g.lastLog) >= storeLogEvery {
		g.log.WarnContext(ctx, "token store failing; serving from process memory",
			slog.String("store", g.inner.Name()), slog.String("op", op), slog.String("error", err.Error()),
			slog.Duration("retry_in", g.openUntil.Sub(now)), slog.Int("suppressed_errors", g.suppress))
		g.lastLog, g.suppress = now, 0
	} else {
		g.suppress++
	}
}

// Get implements Store.
func (g *guard) Get(ctx context.Context, key string) (e Entry, found bool, err error) {
	err = g.call(ctx, "get", func(ctx context.Context) error {
		var ierr error
		e, found, ierr = g.inner.Get(ctx, key)
		return ierr
	})
	return e, found, err
}

// Set implements Store.
func (g *guard) Set(ctx context.Context, key string, e Entry) error {
	return g.call(ctx, "set", func(ctx context.Context) error { return g.inner.Set(ctx, key, e) })
}

// CompareAndDelete implements Store.
func (g *guard) CompareAndDelete(ctx context.Context, key, token string) (deleted bool, err error) {
	err = g.call(ctx, "compare_and_delete", func(ctx context.Context) error {
		var ierr error
		deleted, ierr = g.inner.CompareAndDelete(ctx, key, token)
		return ierr
	})
	return deleted, err
}

// TryLock implements Store.
func (g *guard) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (acquired bool, err error) {
	err = g.call(ctx, "lock", func(ctx context.Context) error {
		var ierr error
		acquired, ierr = g.inner.TryLock(ctx, key, owner, ttl)
		return ierr
	})
	return acquired, err
}

// Unlock implements Store.
func (g *guard) Unlock(ctx context.Context, key, owner string) error {
	return g.call(ctx, "unlock", func(ctx context.Context) error { return g.inner.Unlock(ctx, key, owner) })
}
