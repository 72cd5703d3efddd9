package opencrvs

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the package's tracer and meter.
const ScopeName = "github.com/mosipcrvs/bridge/services/notification/opencrvs"

// metrics are what an operator watches: confirmations by outcome, calls to
// OpenCRVS by procedure and result, their latency, system-token fetches.
type metrics struct {
	confirmations metric.Int64Counter
	calls         metric.Int64Counter
	duration      metric.Float64Histogram
	tokenFetches  metric.Int64Counter
}

func newMetrics(m metric.Meter) (*metrics, error) {
	var out metrics
	var errs []error
	var err error
	out.confirmations, err = m.Int64Counter("notification.opencrvs.confirmations",
		metric.WithDescription("Accept and Reject calls, by kind and outcome (accepted, rejected, already_done, no_pending_action, retryable_error, permanent_error)."),
		metric.WithUnit("{confirmation}"))
	errs = append(errs, err)
	out.calls, err = m.Int64Counter("notification.opencrvs.calls",
		metric.WithDescription("tRPC calls to OpenCRVS, by procedure and result (ok or the error code)."),
		metric.WithUnit("{call}"))
	errs = append(errs, err)
	out.duration, err = m.Float64Histogram("notification.opencrvs.call.duration",
		metric.WithDescription("Latency of tRPC calls to OpenCRVS."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	errs = append(errs, err)
	out.tokenFetches, err = m.Int64Counter("notification.opencrvs.token.fetches",
		metric.WithDescription("System-token requests to the OpenCRVS auth service, by result."),
		metric.WithUnit("{call}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *metrics) recordCall(ctx context.Context, proc, result string, d time.Duration) {
	set := metric.WithAttributes(attribute.String("procedure", proc), attribute.String("result", result))
	m.calls.Add(ctx, 1, set)
	m.duration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("procedure", proc)))
}

func (m *metrics) recordConfirmation(ctx context.Context, kind, outcome string) {
	m.confirmations.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", outcome)))
}

func (m *metrics) recordTokenFetch(ctx context.Context, result string) {
	m.tokenFetches.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result)))
}
