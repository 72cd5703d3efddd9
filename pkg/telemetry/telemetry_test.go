package telemetry_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/mosipcrvs/bridge/pkg/telemetry"
)

func TestSetupDefaultsToNoExportAndPropagatesW3C(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	p, err := telemetry.Setup(context.Background(), "test-svc", "v0")
	if err != nil {
		t.Fatalf("Setup() = %v", err)
	}
	ctx, span := otel.Tracer("t").Start(context.Background(), "op")
	if !span.SpanContext().IsValid() {
		t.Fatal("spans are not recorded by the installed provider")
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if got := carrier.Get("traceparent"); len(got) != 55 || got[3:35] != span.SpanContext().TraceID().String() {
		t.Errorf("traceparent = %q, want W3C header with trace id %s", got, span.SpanContext().TraceID())
	}
	span.End()
	if err := p.Shutdown(time.Second); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

func TestSetupRejectsUnknownExporter(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "carrier-pigeon")
	if _, err := telemetry.Setup(context.Background(), "test-svc", "v0"); err == nil {
		t.Error("Setup() accepted an unknown exporter")
	}
}
