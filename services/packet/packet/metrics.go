package packet

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// countsTimeout bounds the gauges' queries, so a slow database cannot hold
// up a metrics export.
const countsTimeout = 5 * time.Second

// metrics are the service's instruments. The gauges are read from the
// database when metrics are exported; every replica reports the same
// database-wide numbers, so aggregate them across replicas with max, not
// sum.
type metrics struct {
	// dropped counts requestFields entries the ID schema does not declare.
	dropped metric.Int64Counter
	// purged counts transactions whose token and payload retention wiped.
	purged metric.Int64Counter
	// rewrapped counts transactions re-sealed with the current key.
	rewrapped metric.Int64Counter
	reg       metric.Registration
}

// meterName is the instrumentation scope of the service's metrics.
const meterName = "github.com/mosipcrvs/bridge/services/packet/packet"

// newMetrics creates the instruments of mp (the global provider when nil);
// the gauges read s.store, which must be open.
func newMetrics(s *Service, mp metric.MeterProvider) (*metrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	var out metrics
	var err error
	if out.dropped, err = m.Int64Counter("packet.mapping.dropped_fields",
		metric.WithDescription("requestFields entries dropped because the ID schema does not declare their target"),
		metric.WithUnit("{field}")); err != nil {
		return nil, err
	}
	if out.purged, err = m.Int64Counter("packet.retention.purged",
		metric.WithDescription("Finished transactions whose OpenCRVS token and packet data were wiped by PACKET_RETENTION"),
		metric.WithUnit("{transaction}")); err != nil {
		return nil, err
	}
	if out.rewrapped, err = m.Int64Counter("packet.keys.rewrapped",
		metric.WithDescription("Transactions whose token and packet data an older PACKET_TOKEN_KEYS key sealed, re-sealed with the current key"),
		metric.WithUnit("{transaction}")); err != nil {
		return nil, err
	}
	txs, err := m.Int64ObservableGauge("packet.transactions",
		metric.WithDescription("Transactions by status (step); received and packet_created are the backlog towards MOSIP"),
		metric.WithUnit("{transaction}"))
	if err != nil {
		return nil, err
	}
	jobs, err := m.Int64ObservableGauge("packet.queue.jobs",
		metric.WithDescription("River jobs of the packet queue by state: available, scheduled, retryable, running"),
		metric.WithUnit("{job}"))
	if err != nil {
		return nil, err
	}
	out.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, countsTimeout)
		defer cancel()
		c, err := s.store.Counts(ctx)
		if err != nil {
			return fmt.Errorf("packet gauges: %w", err)
		}
		for st, n := range c.Transactions {
			o.ObserveInt64(txs, n, metric.WithAttributes(attribute.String("status", string(st))))
		}
		for st, n := range c.Jobs {
			o.ObserveInt64(jobs, n, metric.WithAttributes(attribute.String("state", st)))
		}
		return nil
	}, txs, jobs)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *metrics) close() {
	if m != nil && m.reg != nil {
		_ = m.reg.Unregister()
	}
}
