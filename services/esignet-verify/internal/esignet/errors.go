package esignet

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ProviderError is eSignet refusing a request: the token endpoint's HTTP 400
// {"error","error_description"}, or the userinfo endpoint's 401 with
// WWW-Authenticate: error="…". Code and Description are eSignet's own codes
// (invalid_grant, invalid_client, invalid_token…), never request data.
type ProviderError struct {
	// Endpoint is "token" or "userinfo".
	Endpoint string
	// Status is the HTTP status eSignet answered.
	Status int
	// Code is the OAuth error ("invalid_grant"), or "" when eSignet gave none.
	Code string
	// Description is eSignet's error_description (an internal error code).
	Description string
}

// Error names the endpoint, the status and eSignet's codes.
func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "eSignet %s endpoint refused the request (HTTP %d)", e.Endpoint, e.Status)
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" && e.Description != e.Code {
		b.WriteString(" (")
		b.WriteString(e.Description)
		b.WriteString(")")
	}
	return b.String()
}

// UnavailableError is eSignet not answering usefully: a transport failure,
// a timeout, HTTP 5xx or a body that is not what the endpoint promises.
type UnavailableError struct {
	// Endpoint is "token", "userinfo" or "jwks".
	Endpoint string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Err is the cause (never carries a token or a code).
	Err error
}

// Error names the endpoint and the cause.
func (e *UnavailableError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("eSignet %s endpoint answered HTTP %d: %v", e.Endpoint, e.Status, e.Err)
	}
	return fmt.Sprintf("eSignet %s endpoint unreachable: %v", e.Endpoint, e.Err)
}

// Unwrap exposes the cause (context.DeadlineExceeded for timeouts).
func (e *UnavailableError) Unwrap() error { return e.Err }

// Reasons a token fails verification; VerificationError.Reason is one of
// them, stable for metrics and for callers switching on gRPC ErrorInfo.
const (
	ReasonMalformed       = "MALFORMED"
	ReasonUnsigned        = "UNSIGNED"
	ReasonDecryption      = "DECRYPTION_FAILED"
	ReasonAlgorithm       = "ALGORITHM_NOT_ALLOWED"
	ReasonUnknownKey      = "UNKNOWN_KEY"
	ReasonSignature       = "SIGNATURE_INVALID"
	ReasonExpired         = "EXPIRED"
	ReasonNotYetValid     = "NOT_YET_VALID"
	ReasonAudience        = "AUDIENCE_MISMATCH"
	ReasonIssuer          = "ISSUER_MISMATCH"
	ReasonSubject         = "SUBJECT_MISSING"
	ReasonSubjectMismatch = "SUBJECT_MISMATCH"
)

// ErrVerification is wrapped by every VerificationError.
var ErrVerification = errors.New("verification failed")

// VerificationError is a userinfo or id_token that must not be trusted.
type VerificationError struct {
	// Token is "userinfo" or "id_token".
	Token string
	// Reason is one of the Reason* constants.
	Reason string
	// Detail explains the reason without quoting the token or its claims.
	Detail string
}

// Error names the token, the reason and the detail.
func (e *VerificationError) Error() string {
	return fmt.Sprintf("eSignet %s rejected: %s: %s", e.Token, e.Reason, e.Detail)
}

// Unwrap makes errors.Is(err, ErrVerification) true.
func (e *VerificationError) Unwrap() error { return ErrVerification }

func verr(token, reason, format string, args ...any) *VerificationError {
	return &VerificationError{Token: token, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// printable bounds text from the wire before it enters an error: at most
// 120 characters, control characters dropped, so a hostile upstream cannot
// flood logs or statuses.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 120 {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
