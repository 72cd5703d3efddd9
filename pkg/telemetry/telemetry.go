// Package telemetry sets up OpenTelemetry for a binary: tracer and meter
// providers, W3C trace-context and baggage propagation, and exporters chosen
// by the standard OTEL_* variables.
//
// Nothing is exported unless asked: with OTEL_TRACES_EXPORTER and
// OTEL_METRICS_EXPORTER unset (and no OTEL_EXPORTER_OTLP_ENDPOINT), both
// default to "none", which is also what tests get. Set
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp, =console) to
// export; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Providers holds the SDK providers so they can be flushed at shutdown.
type Providers struct {
	Tracer *sdktrace.TracerProvider
	Meter  *sdkmetric.MeterProvider
}

// Setup installs global tracer and meter providers and the W3C propagator
// for the named service. Call Shutdown on the way out to flush.
func Setup(ctx context.Context, service, version string) (*Providers, error) {
	// Default to no export when nothing is configured; autoexport would
	// otherwise try OTLP on localhost.
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		setDefaultEnv("OTEL_TRACES_EXPORTER", "none")
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") == "" {
		setDefaultEnv("OTEL_METRICS_EXPORTER", "none")
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(service), semconv.ServiceVersion(version)))
	if err != nil {
		// A schema URL conflict only loses the default attributes; keep going.
		res = resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))
	}
	if env := os.Getenv("OTEL_SERVICE_NAME"); env != "" || os.Getenv("OTEL_RESOURCE_ATTRIBUTES") != "" {
		if fromEnv, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
			if merged, err := resource.Merge(res, fromEnv); err == nil {
				res = merged
			}
		}
	}
	spanExp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: span exporter: %w", err)
	}
	reader, err := autoexport.NewMetricReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metric reader: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExp), sdktrace.WithResource(res))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Providers{Tracer: tp, Meter: mp}, nil
}

// Shutdown flushes and stops the providers within timeout.
func (p *Providers) Shutdown(timeout time.Duration) error {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return errors.Join(p.Tracer.Shutdown(ctx), p.Meter.Shutdown(ctx))
}

func setDefaultEnv(name, value string) {
	if _, ok := os.LookupEnv(name); !ok {
		_ = os.Setenv(name, value)
	}
}
