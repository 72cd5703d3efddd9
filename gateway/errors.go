package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	jsonContentType = "application/json; charset=utf-8"
	// msgInternal is the TypeScript mosip-api's answer to any unexpected
	// error; internal details go to the log, never to the caller.
	msgInternal = "An unexpected error occurred"
)

// errorBody is the JSON body of every error the gateway answers, except
// the edge's own 401, which keeps mosip-api's exact {"error":"Unauthorized"}.
type errorBody struct {
	Error   string `json:"error"`
	Code    string `json:"code"`
	Details []any  `json:"details"`
}

// httpMapping says how one gRPC code reaches HTTP callers.
type httpMapping struct {
	status int
	// echo passes the status message and its client-facing details on:
	// only for codes whose message describes the caller's request. For the
	// others the message may carry addresses, stack traces or MOSIP
	// internals, so message is sent instead.
	echo    bool
	message string
}

// codeMappings is the one place gRPC codes become HTTP statuses.
// FailedPrecondition is 409, not 422: it reports the state of the
// resource or system (a transaction already completed, MOSIP refusing our
// credentials), and the same request may succeed once that state changes;
// 422 would tell the caller to fix its body, which InvalidArgument (400)
// already does.
var codeMappings = map[codes.Code]httpMapping{
	codes.InvalidArgument:    {status: http.StatusBadRequest, echo: true},
	codes.OutOfRange:         {status: http.StatusBadRequest, echo: true},
	codes.NotFound:           {status: http.StatusNotFound, echo: true},
	codes.AlreadyExists:      {status: http.StatusConflict, echo: true},
	codes.Aborted:            {status: http.StatusConflict, echo: true},
	codes.FailedPrecondition: {status: http.StatusConflict, echo: true},
	codes.PermissionDenied:   {status: http.StatusForbidden, echo: true},
	codes.ResourceExhausted:  {status: http.StatusTooManyRequests, echo: true},
	codes.Unauthenticated:    {status: http.StatusUnauthorized, message: "Unauthorized"},
	codes.Canceled:           {status: 499, message: "Request canceled"},
	codes.DeadlineExceeded:   {status: http.StatusGatewayTimeout, message: "The request timed out"},
	codes.Unavailable:        {status: http.StatusServiceUnavailable, message: "Service temporarily unavailable"},
	codes.Unimplemented:      {status: http.StatusNotImplemented, message: "Not implemented"},
}

// mapStatus returns the HTTP status, message and details for s.
func mapStatus(s *status.Status) (int, string, []any) {
	m, ok := codeMappings[s.Code()]
	if !ok {
		// Internal, Unknown, DataLoss and anything unexpected.
		return http.StatusInternalServerError, msgInternal, []any{}
	}
	if !m.echo {
		return m.status, m.message, []any{}
	}
	return m.status, s.Message(), publicDetails(s)
}

// publicDetails keeps the detail types services attach for callers and
// drops the rest (DebugInfo in particular).
func publicDetails(s *status.Status) []any {
	out := []any{}
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out = append(out, map[string]string{"kind": "fieldViolation", "field": v.GetField(), "description": v.GetDescription()})
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				out = append(out, map[string]string{"kind": "preconditionViolation", "type": v.GetType(), "subject": v.GetSubject(), "description": v.GetDescription()})
			}
		case *errdetails.ErrorInfo:
			md := d.GetMetadata()
			if md == nil {
				md = map[string]string{}
			}
			out = append(out, map[string]any{"kind": "errorInfo", "reason": d.GetReason(), "domain": d.GetDomain(), "metadata": md})
		}
	}
	return out
}

func codeName(c codes.Code) string { return code.Code(c).String() }

// errorHandler is grpc-gateway's error hook: every failed RPC of a
// generated route, and every raw route that calls writeRPCError, ends here.
func (g *Gateway) errorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st := stateFrom(ctx); st != nil && st.bodyTooLarge.Load() {
		writeBodyTooLarge(w)
		return
	}
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		// Raised by the mux itself for a malformed path escape.
		writeError(w, hse.HTTPStatus, codeName(codeForHTTP(hse.HTTPStatus)), http.StatusText(hse.HTTPStatus), nil)
		return
	}
	s := status.Convert(err)
	httpStatus, msg, details := mapStatus(s)
	attrs := []slog.Attr{
		slog.String("route", routeFromContext(ctx)),
		slog.String("grpc_code", codeName(s.Code())),
		slog.String("grpc_message", s.Message()),
	}
	if httpStatus >= http.StatusInternalServerError {
		g.logger.LogAttrs(ctx, slog.LevelError, "request failed", attrs...)
	} else {
		g.logger.LogAttrs(ctx, slog.LevelDebug, "request refused", attrs...)
	}
	writeError(w, httpStatus, codeName(s.Code()), msg, details)
}

// writeRPCError answers a raw route's failed gRPC call with the same
// mapping as the generated routes.
func (g *Gateway) writeRPCError(w http.ResponseWriter, r *http.Request, err error) {
	g.errorHandler(r.Context(), g.mux, nil, w, r, err)
}

// routingErrorHandler answers requests that match no route.
func (g *Gateway) routingErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, httpStatus int) {
	c := codeForHTTP(httpStatus)
	if c == codes.Internal {
		writeError(w, http.StatusInternalServerError, codeName(c), msgInternal, nil)
		return
	}
	writeError(w, httpStatus, codeName(c), http.StatusText(httpStatus), nil)
}

// codeForHTTP names the gRPC code of a status the mux itself produces.
func codeForHTTP(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	default:
		return codes.Internal
	}
}

func writeBodyTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, codeName(codes.ResourceExhausted), "Request body too large", nil)
}

func writeError(w http.ResponseWriter, httpStatus int, code, msg string, details []any) {
	if details == nil {
		details = []any{}
	}
	writeJSON(w, httpStatus, errorBody{Error: msg, Code: code, Details: details})
}

func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpStatus = http.StatusInternalServerError
		b = []byte(`{"error":"` + msgInternal + `","code":"INTERNAL","details":[]}`)
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	// A failed RPC may have set these before failing; they would corrupt
	// the error body.
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(append(b, '\n'))
}
