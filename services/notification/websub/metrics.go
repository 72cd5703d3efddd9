package websub

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are what an operator watches: the state of every subscription,
// subscribe attempts and failures, the hub's denials and intent
// verifications, delivery problems reported by the callback, publishes.
type metrics struct {
	attempts         metric.Int64Counter
	failures         metric.Int64Counter
	denials          metric.Int64Counter
	intents          metric.Int64Counter
	deliveryProblems metric.Int64Counter
	publishes        metric.Int64Counter
}

var allStatuses = []string{StatusPending, StatusActive, StatusDenied, StatusFailed}

func newMetrics(mt metric.Meter, m *Manager) (*metrics, error) {
	var out metrics
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, err := mt.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	out.attempts = counter("notification.websub.subscribe.attempts", "Subscribe requests sent to the hub, by subscription.", "{request}")
	out.failures = counter("notification.websub.subscribe.failures",
		"Failed subscribe attempts, by subscription and kind (transport, status, denied, token, unverified, canceled).", "{failure}")
	out.denials = counter("notification.websub.denials",
		"hub.mode=denied calls from the hub, by subscription and kind (already_registered confirms a renewal; denied does not).", "{call}")
	out.intents = counter("notification.websub.intent.calls",
		"Intent-verification GETs answered, by subscription, mode and result (verified, already_registered, denied, refused).", "{call}")
	out.deliveryProblems = counter("notification.websub.delivery_problems",
		"Delivery problems the callback reported, each bringing the re-subscribe forward, by subscription.", "{report}")
	out.publishes = counter("notification.websub.publishes", "Publishes to the hub, by topic and result.", "{publish}")
	state, err := mt.Int64ObservableGauge("notification.websub.subscription.state",
		metric.WithDescription("1 for the current status (pending, active, denied, failed) of each subscription, 0 for the others."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for _, s := range m.States() {
				for _, st := range allStatuses {
					v := int64(0)
					if s.Status == st {
						v = 1
					}
					o.Observe(v, metric.WithAttributes(attribute.String("subscription", s.Name), attribute.String("status", st)))
				}
			}
			return nil
		}))
	_ = state
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &out, nil
}

func nameAttr(name string) metric.AddOption {
	return metric.WithAttributes(attribute.String("subscription", name))
}

func nameKindAttrs(name, kind string) metric.AddOption {
	return metric.WithAttributes(attribute.String("subscription", name), attribute.String("kind", kind))
}

func intentAttrs(name, mode, result string) metric.AddOption {
	if name == "" {
		name = "unknown"
	}
	switch mode {
	case "subscribe", "unsubscribe", "denied":
	default:
		mode = "other" // bounded label set whatever the caller sends
	}
	return metric.WithAttributes(attribute.String("subscription", name), attribute.String("mode", mode), attribute.String("result", result))
}

func topicResultAttrs(topic, result string) metric.AddOption {
	return metric.WithAttributes(attribute.String("topic", topic), attribute.String("result", result))
}
