// Package logging builds the process logger: slog, JSON in production and
// text in development, with the trace and span ids of the active span on
// every line, and helpers that keep secrets and personal data out of logs.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Options selects the format and level.
type Options struct {
	// Format is "json" (default) or "text".
	Format string
	// Level is "debug", "info" (default), "warn" or "error".
	Level string
	// Service names the binary; added to every line as "service".
	Service string
}

// New returns a logger writing to w (os.Stderr when nil).
func New(w io.Writer, opts Options) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	hopts := &slog.HandlerOptions{Level: ParseLevel(opts.Level), ReplaceAttr: replaceAttr}
	var h slog.Handler
	if strings.EqualFold(opts.Format, "text") {
		h = slog.NewTextHandler(w, hopts)
	} else {
		h = slog.NewJSONHandler(w, hopts)
	}
	l := slog.New(&traceHandler{Handler: h})
	if opts.Service != "" {
		l = l.With(slog.String("service", opts.Service))
	}
	return l
}

// ParseLevel maps a level name to a slog.Level; unknown names mean info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Discard is a logger that drops everything, for tests that do not read logs.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// traceHandler adds trace_id and span_id of the span in the record's context.
type traceHandler struct{ slog.Handler }

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &traceHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	return &traceHandler{Handler: h.Handler.WithGroup(name)}
}

// replaceAttr is the last line of defence: attributes whose key names a
// secret or personal field are redacted whatever their value.
func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	if SensitiveKey(a.Key) && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, Redacted)
	}
	return a
}
