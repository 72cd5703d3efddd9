// Package mosip holds what every MOSIP kernel API shares: the request and
// response envelopes (kernel RequestWrapper/ResponseWrapper), the request
// time format, and the rule for deciding whether a response succeeded.
//
// MOSIP services report most business failures with HTTP 200 and a non-empty
// errors array, and some report success with a null response when they
// swallowed an exception, so a client must check the HTTP status, then
// errors, then that response is present. CheckResponse does exactly that and
// returns an *Error that tells transient failures (worth retrying) from
// permanent ones.
package mosip

import (
	"bytes"
	"encoding/json"
	"time"
)

// TimeLayout is the timestamp layout MOSIP's kernel parses first
// (yyyy-MM-dd'T'HH:mm:ss.SSS'Z'); other layouts are not accepted everywhere.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// RequestTime formats t for the requesttime field. It converts to UTC
// because the kernel reads the value as a LocalDateTime and ignores offsets.
func RequestTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Metadata is the envelope's free-form metadata object. A nil Metadata is
// sent as {} rather than null because some MOSIP validators reject null.
type Metadata map[string]any

// MarshalJSON encodes a nil map as {}.
func (m Metadata) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]any(m))
}

// Request is the kernel request envelope around a request body of type T.
type Request[T any] struct {
	// ID names the API operation; most APIs accept any string, some validate it.
	ID string `json:"id"`
	// Version is the API version the caller speaks, usually "1.0".
	Version string `json:"version"`
	// RequestTime is RequestTime(now); MOSIP rejects requests outside its time window.
	RequestTime string `json:"requesttime"`
	// Metadata is sent as {} when nil.
	Metadata Metadata `json:"metadata"`
	// Request is the operation's body.
	Request T `json:"request"`
}

// NewRequest builds an envelope stamped with now, so callers cannot forget
// the request time or send null metadata.
func NewRequest[T any](id, version string, now time.Time, body T) Request[T] {
	return Request[T]{ID: id, Version: version, RequestTime: RequestTime(now), Metadata: Metadata{}, Request: body}
}

// Response is the kernel response envelope. Use T = json.RawMessage to
// decode the body later, after CheckResponse has accepted it.
type Response[T any] struct {
	// ID echoes the request id.
	ID string `json:"id"`
	// Version echoes the request version.
	Version string `json:"version"`
	// ResponseTime is when MOSIP answered, in TimeLayout.
	ResponseTime string `json:"responsetime"`
	// Metadata is usually null.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Response is nil when MOSIP sent null or omitted it, which is a failure.
	Response *T `json:"response"`
	// Errors is non-empty on failure, even with HTTP 200.
	Errors []ServiceError `json:"errors"`
}

// ServiceError is one entry of the errors array.
type ServiceError struct {
	// Code is MOSIP's error code, e.g. "KER-ATH-401".
	Code string `json:"errorCode"`
	// Message is MOSIP's human-readable message.
	Message string `json:"message"`
}

// UnmarshalJSON also accepts errorMessage, the field IDA uses instead of
// message, so one type reads errors from every MOSIP service.
func (e *ServiceError) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code         json.RawMessage `json:"errorCode"`
		Message      json.RawMessage `json:"message"`
		ErrorMessage json.RawMessage `json:"errorMessage"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Code = looseString(raw.Code)
	e.Message = looseString(raw.Message)
	if e.Message == "" {
		e.Message = looseString(raw.ErrorMessage)
	}
	return nil
}

// looseString reads a JSON string, or the literal text of a number, since
// some MOSIP error handlers emit numeric codes ("errorCode": 500).
func looseString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String()
	}
	return ""
}
