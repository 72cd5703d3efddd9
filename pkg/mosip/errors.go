package mosip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel causes carried by *Error (errors.Is works through it).
var (
	// ErrMalformed means the body was not a MOSIP envelope: MOSIP (or a proxy
	// in front of it) answered something this client cannot interpret.
	ErrMalformed = errors.New("malformed response")
	// ErrNoResponse means the envelope had neither errors nor a response,
	// which MOSIP services produce when they swallow an exception.
	ErrNoResponse = errors.New("response is null")
)

// Kind says which of MOSIP's failure channels an Error came from.
type Kind int

const (
	// KindTransport: no HTTP answer at all (DNS, connect, TLS, timeout).
	KindTransport Kind = iota + 1
	// KindHTTP: a non-2xx status, usually from the auth filter or a gateway.
	KindHTTP
	// KindRejected: HTTP 2xx with a non-empty errors array (a business refusal).
	KindRejected
	// KindMalformed: HTTP 2xx with a body that is not a usable envelope.
	KindMalformed
)

// String names the kind for logs and metrics.
func (k Kind) String() string {
	switch k {
	case KindTransport:
		return "transport"
	case KindHTTP:
		return "http"
	case KindRejected:
		return "rejected"
	case KindMalformed:
		return "malformed"
	default:
		return "unknown"
	}
}

// Limits that keep a hostile or broken upstream from flooding logs and
// gRPC statuses through error text.
const (
	maxMessageLen = 300
	maxDetails    = 8
)

// Error is a failed MOSIP call. It carries MOSIP's own code and message so
// callers can map it (KER-ATH-401 → re-authenticate) and operators can see
// what MOSIP said, but never the request or response body, so neither
// tokens nor secrets end up in it.
type Error struct {
	// Kind is the failure channel.
	Kind Kind
	// Status is the HTTP status, 0 for transport failures.
	Status int
	// Code is the first MOSIP errorCode ("KER-ATH-401"), empty when MOSIP gave none.
	Code string
	// Message is the first MOSIP message, or a description of the failure.
	Message string
	// Details lists the errors array (at most a few entries).
	Details []ServiceError
	// Err is the underlying cause: the transport error, ErrMalformed or ErrNoResponse.
	Err error
}

// Error formats the failure without any body content beyond MOSIP's own
// error code and message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mosip: ")
	switch e.Kind {
	case KindTransport:
		b.WriteString("request failed")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
		return b.String()
	case KindHTTP:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		if e.Code == "" && e.Message == "" {
			if t := http.StatusText(e.Status); t != "" {
				b.WriteString(" ")
				b.WriteString(t)
			}
			return b.String()
		}
		b.WriteString(": ")
	case KindMalformed:
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
		return b.String()
	}
	code := e.Code
	if code == "" {
		code = "(no code)"
	}
	b.WriteString(code)
	if e.Message != "" {
		b.WriteString(" ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap exposes the cause, so errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, ErrMalformed) work.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying the same request later may succeed:
// transport failures, 408, 429 and 5xx. Business refusals and other 4xx
// are permanent until someone changes configuration or input.
func (e *Error) Temporary() bool {
	switch e.Kind {
	case KindTransport:
		return true
	case KindHTTP:
		return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
	default:
		return false
	}
}

// unauthorizedCodes are the kernel auth codes that mean the token (or the
// credentials behind it) was not accepted.
var unauthorizedCodes = map[string]bool{"KER-ATH-401": true, "KER-ATH-402": true, "KER-ATH-403": true}

// Unauthorized reports whether MOSIP refused the caller's token or
// credentials: HTTP 401/403 or a KER-ATH-401/402/403 code.
func (e *Error) Unauthorized() bool {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return true
	}
	for _, d := range e.Details {
		if unauthorizedCodes[d.Code] {
			return true
		}
	}
	return unauthorizedCodes[e.Code]
}

// Redact returns a copy with every occurrence of the given values (secrets,
// tokens) replaced in the message, details and cause text. Use it when the
// upstream might echo what it was sent.
func (e *Error) Redact(values ...string) *Error {
	out := *e
	out.Message = redact(e.Message, values)
	out.Code = redact(e.Code, values)
	if e.Details != nil {
		out.Details = make([]ServiceError, len(e.Details))
		for i, d := range e.Details {
			out.Details[i] = ServiceError{Code: redact(d.Code, values), Message: redact(d.Message, values)}
		}
	}
	if e.Err != nil {
		if text := e.Err.Error(); redact(text, values) != text {
			out.Err = &redactedError{text: redact(text, values), err: e.Err}
		}
	}
	return &out
}

func redact(s string, values []string) string {
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// redactedError hides its cause's text but keeps errors.Is/As working.
type redactedError struct {
	text string
	err  error
}

func (r *redactedError) Error() string { return r.text }
func (r *redactedError) Unwrap() error { return r.err }

// IsTemporary reports whether err is (or wraps) an *Error that is worth retrying.
func IsTemporary(err error) bool {
	var me *Error
	return errors.As(err, &me) && me.Temporary()
}

// IsUnauthorized reports whether err is (or wraps) an *Error saying MOSIP
// refused the token or credentials (HTTP 401/403, KER-ATH-401/402/403);
// the caller should invalidate its token and retry once.
func IsUnauthorized(err error) bool {
	var me *Error
	return errors.As(err, &me) && me.Unauthorized()
}

// NewTransportError wraps a failure that produced no HTTP response.
func NewTransportError(err error) *Error {
	return &Error{Kind: KindTransport, Err: err}
}

// CheckResponse applies MOSIP's wire rule to an HTTP answer: the status must
// be 2xx, the errors array must be empty (MOSIP reports business failures
// with HTTP 200) and response must be present and not null. It returns the
// raw response for the caller to decode, or an *Error.
func CheckResponse(httpStatus int, body []byte) (json.RawMessage, error) {
	var env struct {
		Response json.RawMessage `json:"response"`
		Errors   json.RawMessage `json:"errors"`
	}
	parseErr := json.Unmarshal(body, &env)
	var details []ServiceError
	var detailsErr error
	if parseErr == nil {
		details, detailsErr = decodeErrors(env.Errors)
	}

	if httpStatus < 200 || httpStatus > 299 {
		e := &Error{Kind: KindHTTP, Status: httpStatus}
		if parseErr == nil && detailsErr == nil {
			e.setDetails(details)
		}
		return nil, e
	}
	if parseErr != nil {
		return nil, &Error{Kind: KindMalformed, Status: httpStatus, Err: ErrMalformed, Message: describeJSONError(parseErr)}
	}
	if detailsErr != nil {
		return nil, &Error{Kind: KindMalformed, Status: httpStatus, Err: ErrMalformed, Message: "errors is not an array of errors"}
	}
	if len(details) > 0 {
		e := &Error{Kind: KindRejected, Status: httpStatus}
		e.setDetails(details)
		return nil, e
	}
	resp := bytes.TrimSpace(env.Response)
	if len(resp) == 0 || bytes.Equal(resp, []byte("null")) {
		return nil, &Error{Kind: KindMalformed, Status: httpStatus, Err: ErrNoResponse}
	}
	return json.RawMessage(resp), nil
}

// decodeErrors reads the errors field, treating absent and null as empty.
func decodeErrors(raw json.RawMessage) ([]ServiceError, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := make([]ServiceError, 0, min(len(list), maxDetails))
	for _, item := range list {
		var se ServiceError
		// A null or non-object entry still means MOSIP reported a failure;
		// keep it as an entry without code rather than ignoring it.
		_ = json.Unmarshal(item, &se)
		if len(out) < maxDetails {
			out = append(out, ServiceError{Code: clean(se.Code), Message: clean(se.Message)})
		}
	}
	if len(list) > 0 && len(out) == 0 {
		out = append(out, ServiceError{})
	}
	return out, nil
}

func (e *Error) setDetails(details []ServiceError) {
	e.Details = details
	if len(details) > 0 {
		e.Code = details[0].Code
		e.Message = details[0].Message
	}
}

// describeJSONError keeps the decoder's description of what went wrong
// without quoting the body it was reading.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("not JSON (offset %d)", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("body is a JSON %s, not an envelope", typ.Value)
	}
	return "not a JSON envelope"
}

// clean makes upstream text safe to log and put in a gRPC status: valid
// UTF-8, no control characters, bounded length.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
