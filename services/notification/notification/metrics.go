package notification

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the service's instruments: callback outcomes, processing
// outcomes, and gauges of the inbox (backlog, dead letters) and of the
// subscriptions, read when exported.
type metrics struct {
	callbacks metric.Int64Counter
	outcomes  metric.Int64Counter
	reg       metric.Registration
}

func newMetrics(s *Service) (*metrics, error) {
	m := otel.Meter("github.com/mosipcrvs/bridge/services/notification")
	var out metrics
	var err error
	if out.callbacks, err = m.Int64Counter("notification.callbacks",
		metric.WithDescription("WebSub deliveries by outcome (stored, duplicate, bad_signature, wrong_topic, store_failed)")); err != nil {
		return nil, err
	}
	if out.outcomes, err = m.Int64Counter("notification.deliveries.processed",
		metric.WithDescription("Processed deliveries by kind and final state (done, ignored, dead)")); err != nil {
		return nil, err
	}
	states, err := m.Int64ObservableGauge("notification.deliveries",
		metric.WithDescription("Stored deliveries by state: received is the backlog, dead the dead letters"))
	if err != nil {
		return nil, err
	}
	subs, err := m.Int64ObservableGauge("notification.subscriptions",
		metric.WithDescription("WebSub subscriptions by name and state (1 = in this state)"))
	if err != nil {
		return nil, err
	}
	out.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if s.db != nil {
			if counts, err := s.db.Counts(ctx); err == nil {
				for st, n := range counts {
					o.ObserveInt64(states, n, metric.WithAttributes(attribute.String("state", st)))
				}
			}
		}
		if s.subs != nil {
			for _, st := range s.subs.States() {
				o.ObserveInt64(subs, 1, metric.WithAttributes(attribute.String("name", st.Name), attribute.String("state", st.Status)))
			}
		}
		return nil
	}, states, subs)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *metrics) callback(ctx context.Context, outcome string) {
	m.callbacks.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

func (m *metrics) processed(ctx context.Context, kind, state string) {
	m.outcomes.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("state", state)))
}

func (m *metrics) close() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}
