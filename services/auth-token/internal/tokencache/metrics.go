package tokencache

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// ScopeName is the instrumentation scope of the service's tracer and meter.
const ScopeName = "github.com/mosipcrvs/bridge/services/auth-token"

// metrics holds the instruments. Cache hits and misses are observable
// counters read from the per-client atomics at collection time, which keeps
// the L1 hit path free of instrument calls and allocations.
type metrics struct {
	authCalls       metric.Int64Counter
	refreshFailures metric.Int64Counter
	storeErrors     metric.Int64Counter
	invalidations   metric.Int64Counter
	fetchDuration   metric.Float64Histogram
	registration    metric.Registration
}

func newMetrics(m metric.Meter, entries map[string]*entry) (*metrics, error) {
	var out metrics
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	out.authCalls, err = m.Int64Counter("authtoken.authmanager.calls",
		metric.WithDescription("Calls to the MOSIP auth manager, by client and outcome."), metric.WithUnit("{call}"))
	add(err)
	out.refreshFailures, err = m.Int64Counter("authtoken.refresh.failures",
		metric.WithDescription("Background refreshes that failed while the previous token was still served."), metric.WithUnit("{refresh}"))
	add(err)
	out.storeErrors, err = m.Int64Counter("authtoken.store.errors",
		metric.WithDescription("Errors from the shared token store (Redis), by operation; each one means a fallback to process memory."), metric.WithUnit("{error}"))
	add(err)
	out.invalidations, err = m.Int64Counter("authtoken.invalidations",
		metric.WithDescription("InvalidateToken calls, by client and result (invalidated, not_current, rate_limited)."), metric.WithUnit("{call}"))
	add(err)
	out.fetchDuration, err = m.Float64Histogram("authtoken.authmanager.duration",
		metric.WithDescription("Latency of auth manager calls."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	add(err)
	hits, err := m.Int64ObservableCounter("authtoken.cache.hits",
		metric.WithDescription("GetToken calls answered from a cache, by client and level (l1 in-process, l2 shared store)."), metric.WithUnit("{call}"))
	add(err)
	misses, err := m.Int64ObservableCounter("authtoken.cache.misses",
		metric.WithDescription("GetToken calls that found no valid cached token, by client."), metric.WithUnit("{call}"))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	type attrs struct{ l1, l2, client metric.ObserveOption }
	pre := make(map[*entry]attrs, len(entries))
	for _, e := range entries {
		c := attribute.String("client", e.name)
		pre[e] = attrs{
			l1:     metric.WithAttributeSet(attribute.NewSet(c, attribute.String("level", "l1"))),
			l2:     metric.WithAttributeSet(attribute.NewSet(c, attribute.String("level", "l2"))),
			client: metric.WithAttributeSet(attribute.NewSet(c)),
		}
	}
	out.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for e, a := range pre {
			o.ObserveInt64(hits, int64(e.hitsL1.Load()), a.l1)
			o.ObserveInt64(hits, int64(e.hitsL2.Load()), a.l2)
			o.ObserveInt64(misses, int64(e.misses.Load()), a.client)
		}
		return nil
	}, hits, misses)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *metrics) recordFetch(ctx context.Context, client string, d time.Duration, err error) {
	set := metric.WithAttributes(attribute.String("client", client), attribute.String("outcome", Outcome(err)))
	m.authCalls.Add(ctx, 1, set)
	m.fetchDuration.Record(ctx, d.Seconds(), set)
}

// Outcome classifies an auth manager result for metrics and logs:
// success, rejected (MOSIP refused, errors[] or 4xx), unavailable
// (transport, 5xx, 429), malformed, timeout, canceled or error.
func Outcome(err error) string {
	if err == nil {
		return "success"
	}
	var me *mosip.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case !errors.As(err, &me):
		return "error"
	case me.Temporary():
		return "unavailable"
	case me.Kind == mosip.KindMalformed:
		return "malformed"
	default:
		return "rejected"
	}
}
