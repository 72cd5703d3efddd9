package esignetverify

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// metrics are what an operator watches: verification outcomes (a rising
// share of errors is an integration problem, of failures a data one) and
// latencies of IDA and eSignet.
type metrics struct {
	verifications metric.Int64Counter
	idaDuration   metric.Float64Histogram
	exchanges     metric.Int64Counter
	exchangeDur   metric.Float64Histogram
}

var latencyBuckets = metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

func newMetrics(m metric.Meter) (*metrics, error) {
	var out metrics
	var errs []error
	var err error
	out.verifications, err = m.Int64Counter("esignetverify.verifications",
		metric.WithDescription("IDA identity verifications, by result (verified, failed, error) and reason (failure reason or MOSIP error code)."),
		metric.WithUnit("{verification}"))
	errs = append(errs, err)
	out.idaDuration, err = m.Float64Histogram("esignetverify.ida.duration",
		metric.WithDescription("Latency of IDA authentications, retries included."), metric.WithUnit("s"), latencyBuckets)
	errs = append(errs, err)
	out.exchanges, err = m.Int64Counter("esignetverify.esignet.exchanges",
		metric.WithDescription("eSignet code exchanges, by result (verified, error) and reason (endpoint and OAuth error, or token and verification failure)."),
		metric.WithUnit("{exchange}"))
	errs = append(errs, err)
	out.exchangeDur, err = m.Float64Histogram("esignetverify.esignet.duration",
		metric.WithDescription("Latency of eSignet code exchanges (token, userinfo and verification)."), metric.WithUnit("s"), latencyBuckets)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *metrics) verification(ctx context.Context, result, reason string, d time.Duration) {
	attrs := metric.WithAttributes(attribute.String("result", result), attribute.String("reason", reason))
	m.verifications.Add(ctx, 1, attrs)
	m.idaDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("result", result)))
}

func (m *metrics) exchange(ctx context.Context, result, reason string, d time.Duration) {
	m.exchanges.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result), attribute.String("reason", reason)))
	m.exchangeDur.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("result", result)))
}

// errorCode names an IDA failure for the reason attribute: MOSIP's code or
// the failure channel, a small set of values.
func errorCode(err error) string {
	var me *mosip.Error
	if !errors.As(err, &me) {
		return "internal"
	}
	if me.Code != "" {
		return me.Code
	}
	return me.Kind.String()
}
