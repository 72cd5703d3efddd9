package ida

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// Reasons a verification fails.
const (
	ReasonMismatch         = "DEMOGRAPHIC_MISMATCH"
	ReasonNotFound         = "IDENTITY_NOT_FOUND"
	ReasonInactive         = "IDENTITY_INACTIVE"
	ReasonNotAuthenticated = "NOT_AUTHENTICATED"
)

// Match statuses of one attribute.
const (
	MatchUnknown      = ""
	MatchMatched      = "matched"
	MatchMismatched   = "mismatched"
	MatchNotAvailable = "not_available"
)

// verdictCodes are IDA's answers about the person rather than the
// integration (mosip-apis.md §6.5): a mismatch, an unknown or invalid
// UIN/VID, a deactivated identity. They make a FAILED result; every other
// code is an integration problem the operator must see.
var verdictCodes = map[string]string{
	"IDA-DEA-001": ReasonMismatch, // demographic data did not match
	"IDA-DEA-003": ReasonMismatch, // demographic data not available in database
	"IDA-MLC-018": ReasonNotFound, // UIN/VID not available in database
	"IDA-MLC-002": ReasonNotFound, // invalid UIN (IDA 1.1 and the OpenCRVS mock for unknown ids)
	"IDA-MLC-004": ReasonNotFound, // invalid VID
	"IDA-MLC-026": ReasonNotFound, // UIN length
	"IDA-MLC-027": ReasonNotFound, // UIN checksum
	"IDA-MLC-003": ReasonInactive, // UIN deactivated (before 1.2)
	"IDA-MLC-005": ReasonInactive, // VID expired
	"IDA-MLC-010": ReasonInactive, // VID of a deactivated UIN
	"IDA-MLC-022": ReasonInactive, // UIN deactivated/blocked
	"IDA-MLC-023": ReasonInactive, // VID expired/deactivated
}

// Error is one entry of IDA's errors array.
type Error struct {
	Code, Message, Action string
}

// Outcome is IDA's verdict on one request.
type Outcome struct {
	// Verified is true when IDA authenticated the demographics.
	Verified bool
	// Reason is one of the Reason* constants when not verified.
	Reason string
	// Matches has, per attribute sent (AttrName, AttrDOB, AttrGender),
	// one of the Match* statuses.
	Matches map[string]string
	// Errors are IDA's, as it sent them.
	Errors []Error
	// TransactionID is the transactionID sent.
	TransactionID string
}

// maxErrors bounds how many IDA errors are kept.
const maxErrors = 16

// ParseResponse reads IDA's answer to a request that asked to match
// attrs. A verdict about the person is an *Outcome; anything else (HTTP
// errors, partner, licence, crypto or time-window refusals, malformed
// answers) is a *mosip.Error carrying IDA's code, never the body.
func ParseResponse(status int, body []byte, attrs []string) (*Outcome, error) {
	if status < 200 || status > 299 {
		e := &mosip.Error{Kind: mosip.KindHTTP, Status: status}
		if errs, ok := decodeErrors(body); ok && len(errs) > 0 {
			e.Code, e.Message = errs[0].Code, errs[0].Message
		}
		return nil, e
	}
	var env struct {
		Response *struct {
			AuthStatus *bool `json:"authStatus"`
		} `json:"response"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, malformed(status, "the answer is not an IDA JSON envelope")
	}
	errs, ok := decodeErrorsRaw(env.Errors)
	if !ok {
		return nil, malformed(status, "errors is not an array of IDA errors")
	}
	out := &Outcome{Errors: errs, Matches: map[string]string{}}
	for _, a := range attrs {
		out.Matches[a] = MatchUnknown
	}
	if len(errs) == 0 {
		if env.Response == nil || env.Response.AuthStatus == nil {
			return nil, malformed(status, "neither errors nor response.authStatus")
		}
		if *env.Response.AuthStatus {
			out.Verified = true
			for _, a := range attrs {
				out.Matches[a] = MatchMatched
			}
			return out, nil
		}
		out.Reason = ReasonNotAuthenticated
		return out, nil
	}
	// Any code that is not a verdict means the answer says nothing
	// reliable about the person.
	reason := ""
	for _, e := range errs {
		r, verdict := verdictCodes[e.Code]
		if !verdict {
			me := &mosip.Error{Kind: mosip.KindRejected, Status: status, Code: e.Code, Message: e.Message}
			for _, d := range errs {
				me.Details = append(me.Details, mosip.ServiceError{Code: d.Code, Message: d.Message})
			}
			return nil, me
		}
		// An identity problem outranks the mismatches it may come with.
		if reason == "" || r != ReasonMismatch {
			reason = r
		}
	}
	out.Reason = reason
	if reason == ReasonMismatch {
		attributeMatches(out, attrs)
	}
	return out, nil
}

// attributeMatches reads which attributes failed from IDA's messages
// ("Demographic data name in eng did not match", "Demographic data dob not
// available in database"). IDA lists every failing attribute, so the
// others matched, unless a message could not be attributed.
func attributeMatches(out *Outcome, attrs []string) {
	failed := map[string]string{}
	attributed := true
	for _, e := range out.Errors {
		a := demoAttribute(e.Message)
		if a == "" || !slices.Contains(attrs, a) {
			attributed = false
			continue
		}
		st := MatchMismatched
		if e.Code == "IDA-DEA-003" {
			st = MatchNotAvailable
		}
		failed[a] = st
	}
	for _, a := range attrs {
		switch {
		case failed[a] != "":
			out.Matches[a] = failed[a]
		case attributed:
			out.Matches[a] = MatchMatched
		}
	}
}

// demoAttribute extracts %s of "Demographic data %s ...".
func demoAttribute(msg string) string {
	const prefix = "demographic data "
	if len(msg) < len(prefix) || !strings.EqualFold(msg[:len(prefix)], prefix) {
		return ""
	}
	rest := msg[len(prefix):]
	if i := strings.IndexFunc(rest, unicode.IsSpace); i > 0 {
		rest = rest[:i]
	}
	return rest
}

func decodeErrors(body []byte) ([]Error, bool) {
	var env struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil, false
	}
	return decodeErrorsRaw(env.Errors)
}

// decodeErrorsRaw reads IDA's errors array (errorCode, errorMessage,
// actionMessage; "message" is accepted for the kernel's envelope). null or
// absent is no errors.
func decodeErrorsRaw(raw json.RawMessage) ([]Error, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, true
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, false
	}
	var out []Error
	for _, it := range items {
		if len(out) == maxErrors {
			break
		}
		e := Error{Code: text(it["errorCode"]), Message: text(it["errorMessage"]), Action: text(it["actionMessage"])}
		if e.Message == "" {
			e.Message = text(it["message"])
		}
		if e.Code == "" && e.Message == "" {
			continue
		}
		out = append(out, e)
	}
	return out, true
}

// text reads a JSON string (or number) and bounds it, so an upstream
// cannot flood logs and statuses through error text.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		s = n.String()
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 300 {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func malformed(status int, msg string) *mosip.Error {
	return &mosip.Error{Kind: mosip.KindMalformed, Status: status, Err: mosip.ErrMalformed, Message: msg}
}

// IsVerdict reports whether an IDA error code is a verdict about the
// person (it makes a FAILED result) rather than an integration problem.
func IsVerdict(code string) bool {
	_, ok := verdictCodes[code]
	return ok
}
