package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mosipcrvs/bridge/pkg/logging"
)

func TestTraceIDsOnEveryLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Options{Format: "json", Level: "debug", Service: "svc"})
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	log.InfoContext(ctx, "hello")
	span.End()

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if line["trace_id"] != span.SpanContext().TraceID().String() || line["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("line = %v, want trace_id %s span_id %s", line, span.SpanContext().TraceID(), span.SpanContext().SpanID())
	}
	if line["service"] != "svc" {
		t.Errorf("service = %v", line["service"])
	}
}

func TestSensitiveAttributesRedacted(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := logging.New(&buf, logging.Options{Format: format})
		log.With(slog.String("Authorization", "Bearer abc.def.ghi")).Info("call",
			slog.String("token", "eyJsecret"), slog.String("UIN", "7186723906"), slog.String("client_secret", "hunter2"),
			slog.String("fullName", "Jane Doe"), slog.String("dateOfBirth", "2024/01/31"), slog.String("vid", "8031687218"),
			slog.Group("req", slog.String("psut", "Wk3nX")), slog.String("client", "packet"))
		out := buf.String()
		for _, secret := range []string{"abc.def.ghi", "eyJsecret", "7186723906", "hunter2", "Jane Doe", "2024/01/31", "8031687218", "Wk3nX"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s log leaks %q: %s", format, secret, out)
			}
		}
		if !strings.Contains(out, "packet") {
			t.Errorf("%s log lost a normal attribute: %s", format, out)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, got, want string }{
		{"mask", logging.Mask("7186723906", 4), "******3906"},
		{"mask short", logging.Mask("12", 4), "**"},
		{"fingerprint empty", logging.Fingerprint(""), ""},
		{"secret attr", logging.Secret("token", "x").Value.String(), logging.Redacted},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if a, b := logging.Fingerprint("a"), logging.Fingerprint("b"); a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+8 {
		t.Errorf("Fingerprint(a)=%q Fingerprint(b)=%q", a, b)
	}
	m := logging.RedactMap(map[string]any{"requestFields": map[string]any{"fullName": "Jane", "gender": "female"},
		"list": []any{map[string]any{"UIN": "1"}}})
	if m["requestFields"].(map[string]any)["fullName"] != logging.Redacted || m["requestFields"].(map[string]any)["gender"] != "female" ||
		m["list"].([]any)[0].(map[string]any)["UIN"] != logging.Redacted {
		t.Errorf("RedactMap = %v", m)
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "WARN": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo, "bogus": slog.LevelInfo} {
		if got := logging.ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}
