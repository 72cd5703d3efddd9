package opencrvs

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// Codes the client sets itself, next to OpenCRVS's tRPC codes (FORBIDDEN,
// NOT_FOUND, CONFLICT, BAD_REQUEST, INTERNAL_SERVER_ERROR, ...) and the auth
// service's OAuth errors (invalid_client, invalid_request).
const (
	// CodeTimeout: no answer within Options.Timeout. Retryable.
	CodeTimeout = "TIMEOUT"
	// CodeCanceled: the caller's context ended first. Retryable: OpenCRVS
	// may or may not have seen the call, and a repeat is deduplicated.
	CodeCanceled = "CANCELED"
	// CodeUnavailable: connection refused, reset, DNS failure. Retryable.
	CodeUnavailable = "UNAVAILABLE"
	// CodeMalformed: a success status with a body that is not a tRPC result.
	// Retryable, since every call is safe to repeat.
	CodeMalformed = "MALFORMED"
	// CodeInvalidArgument: the Confirmation lacks what the call needs. Permanent.
	CodeInvalidArgument = "INVALID_ARGUMENT"
	// CodeAlreadyAccepted: Reject found the action accepted. Permanent: the
	// record is registered in OpenCRVS although MOSIP failed it.
	CodeAlreadyAccepted = "ALREADY_ACCEPTED"
	// CodeAlreadyRejected: Accept found the action rejected. Permanent.
	CodeAlreadyRejected = "ALREADY_REJECTED"
	// CodeUnsupportedAction: the pending action is neither REGISTER nor
	// APPROVE_CORRECTION. Permanent.
	CodeUnsupportedAction = "UNSUPPORTED_ACTION"
)

// Error is a failed confirmation or token call, classified for the caller's
// retry decision. Its text is safe to log and to store: it never holds a
// token, a national id or any part of a declaration.
type Error struct {
	// Retryable is true for timeouts, connection errors, 5xx, 429 and
	// CONFLICT (OpenCRVS 2.1 refuses confirmations while a user is assigned
	// to the record); false for 401, 403, NOT_FOUND, BAD_REQUEST and the
	// client's own permanent codes.
	Retryable bool
	// Status is the HTTP status, 0 when none came.
	Status int
	// Code is the tRPC error code, the OAuth error, or one of the Code*
	// constants of this package.
	Code string
	// Reason is OpenCRVS's message, shortened and scrubbed.
	Reason string
	// Procedure is the tRPC procedure ("event.get",
	// "event.actions.register.accept", ...) or "auth.token".
	Procedure string
	// Err is the underlying transport or context error, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("opencrvs: ")
	if e.Procedure != "" {
		b.WriteString(e.Procedure)
		b.WriteString(": ")
	}
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(' ')
	}
	b.WriteString(e.Code)
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Retryable {
		b.WriteString(" (retryable)")
	}
	return b.String()
}

// Unwrap returns the transport or context error, so errors.Is(err,
// context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether a failed Accept or Reject may succeed when
// repeated later with the same Confirmation (same TransactionID, so OpenCRVS
// never records two confirmations). Errors that are not *Error are
// permanent.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// statusCodes names HTTP statuses that came without a tRPC code (proxy
// errors, Hapi routes), using tRPC's names where it has one.
var statusCodes = map[int]string{
	400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
	405: "METHOD_NOT_SUPPORTED", 408: "TIMEOUT", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
	415: "UNSUPPORTED_MEDIA_TYPE", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
	501: "NOT_IMPLEMENTED", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
}

func codeForStatus(status int) string {
	if c, ok := statusCodes[status]; ok {
		return c
	}
	return "HTTP_" + strconv.Itoa(status)
}

// retryableStatus is the rule for answers: the server or a proxy failed,
// asked us to slow down, or the record is in a state that will change
// (CONFLICT). A retry re-reads the event first, so a CONFLICT caused by a
// confirmation that did go through ends as AlreadyDone.
func retryableStatus(status int, code string) bool {
	switch {
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return true
	case code == "CONFLICT", code == "TOO_MANY_REQUESTS", code == "TIMEOUT":
		return true
	}
	return false
}

// Plain errors core throws from the reject procedure, which tRPC turns into
// INTERNAL_SERVER_ERROR (500) keeping the message outside production. They
// are final states, not server trouble.
const (
	msgAlreadyAccepted = "Action has already been accepted."
	msgAlreadyRejected = "Action has already been rejected."
	msgActionNotFound  = "Action not found."
)

// refine turns the few answers whose message says more than the status into
// their permanent codes.
func refine(e *Error) {
	switch strings.TrimSpace(e.Reason) {
	case msgAlreadyAccepted:
		e.Code, e.Retryable = CodeAlreadyAccepted, false
	case msgAlreadyRejected:
		e.Code, e.Retryable = CodeAlreadyRejected, false
	case msgActionNotFound:
		e.Code, e.Retryable = "NOT_FOUND", false
	}
}

// maxReason bounds the reason kept from an upstream message.
const maxReason = 300

// minScrubLen is the shortest value scrubbed from upstream text; shorter
// ones identify nothing and would garble messages.
const minScrubLen = 4

// sanitize makes upstream text safe for logs: the given secrets replaced,
// control characters and runs of white space folded to one space, and the
// result shortened.
func sanitize(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= minScrubLen {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() >= maxReason {
			b.WriteString("…")
			break
		}
	}
	return b.String()
}

func invalidArgument(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Reason: fmt.Sprintf(format, args...)}
}
