// Package inbox reads what MOSIP's WebSub hub delivers: it checks the
// X-Hub-Signature HMAC over the raw bytes, parses the two kinds of events
// the bridge subscribes to strictly, and builds MOSIP's acknowledgement.
// Nothing here does RSA or network calls: it runs on the callback's hot
// path, before the event is stored.
package inbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind tells the two event families apart.
type Kind string

const (
	// KindCredential is a CREDENTIAL_ISSUED event (<partnerId>/CREDENTIAL_ISSUED).
	KindCredential Kind = "credential"
	// KindStatus is a REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT.
	KindStatus Kind = "status"
)

// ErrSignature means the X-Hub-Signature header is missing, malformed or
// does not match any configured secret.
var ErrSignature = errors.New("invalid X-Hub-Signature")

// ErrMalformed means a correctly signed body is not an event we can read.
var ErrMalformed = errors.New("malformed event")

// VerifySignature checks header ("sha256=<hex>", as the Ballerina hub
// sends it) against the HMAC-SHA256 of body under each secret, in constant
// time, and returns the index of the secret that matched. Several secrets
// exist during a rotation (current and previous) and when subscriptions
// share a callback.
func VerifySignature(header string, body []byte, secrets [][]byte) (int, error) {
	algo, sigHex, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return -1, fmt.Errorf("%w: want sha256=<hex>", ErrSignature)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != sha256.Size {
		return -1, fmt.Errorf("%w: not a hex SHA-256 HMAC", ErrSignature)
	}
	match := -1
	for i, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// Every secret is tried, so the time taken does not say which one
		// matched.
		if hmac.Equal(m.Sum(nil), sig) && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return -1, fmt.Errorf("%w: no secret matches", ErrSignature)
	}
	return match, nil
}

// Sign returns the X-Hub-Signature header for body, as the hub computes
// it (for tests and the sandbox's clients).
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Event is a parsed delivery. Only the fields the bridge acts on are
// kept; the raw body is stored as it came.
type Event struct {
	Kind Kind
	// ID is MOSIP's event id; for status events, which carry none, a hash
	// of the body (a redelivery is byte-identical).
	ID string
	// Topic as the publisher named it (credential events) or the status
	// topic (status events carry no topic).
	Topic     string
	Publisher string
	// RequestID is event.transactionId: the credential request id MOSIP's
	// CREDENTIAL_STATUS_UPDATE refers to.
	RequestID string
	// RegistrationID is the RID (event.data.registrationId, or the status
	// event's instanceId); may be empty for credentials, whose subject id
	// ends with it.
	RegistrationID string
	// Credential is the encrypted credential when inline.
	Credential string
	// DataShareURI is where to fetch the credential when not inline.
	DataShareURI string
	// ProofSignature is event.data.proof.signature: a detached JWS over
	// the decrypted credential.
	ProofSignature string
	// CredentialType is data.credentialType ("vercred", "euin", ...).
	CredentialType string
	// ResultCode (PROCESSED, FAILED, REJECTED), WorkflowType (CRVS_NEW, …)
	// and ErrorCode are the status event's fields.
	ResultCode, WorkflowType, ErrorCode string
}

// StatusTopic is the packet-status topic of MOSIP's registration processor.
const StatusTopic = "REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT"

// Limits on what an event may carry; MOSIP's are far below.
const (
	maxIDLen   = 256
	maxTextLen = 1024
)

type credentialEnvelope struct {
	Publisher   *string `json:"publisher"`
	Topic       *string `json:"topic"`
	PublishedOn *string `json:"publishedOn"`
	Event       *struct {
		ID            *string         `json:"id"`
		TransactionID *string         `json:"transactionId"`
		Timestamp     *string         `json:"timestamp"`
		DataShareURI  *string         `json:"dataShareUri"`
		Data          *credentialData `json:"data"`
	} `json:"event"`
}

type credentialData struct {
	RegistrationID *string `json:"registrationId"`
	Credential     *string `json:"credential"`
	CredentialType *string `json:"credentialType"`
	Proof          *struct {
		Signature *string `json:"signature"`
	} `json:"proof"`
}

type statusEvent struct {
	InstanceID   *string `json:"instanceId"`
	ResultCode   *string `json:"resultCode"`
	WorkflowType *string `json:"workflowType"`
	ErrorCode    *string `json:"errorCode"`
}

// Parse reads a delivery body. It tells credential events (an "event"
// envelope) from status events (instanceId/resultCode) and checks every
// field the bridge relies on, naming the first one that is wrong. It never
// echoes field values in errors.
func Parse(body []byte) (Event, error) {
	if !utf8.Valid(body) {
		return Event{}, fmt.Errorf("%w: body is not UTF-8", ErrMalformed)
	}
	// Nearly every delivery is a credential event, several kB for its
	// encrypted credential, and the callback answers only after this: one
	// decoding pass reads it. Anything else takes the longer road, which
	// tells the kinds apart and says what is wrong.
	var env credentialEnvelope
	if json.Unmarshal(body, &env) == nil && env.Event != nil {
		return credentialEvent(env)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if _, ok := probe["event"]; ok {
		return parseCredential(body)
	}
	if _, ok := probe["instanceId"]; ok {
		return parseStatus(body)
	}
	return Event{}, fmt.Errorf("%w: neither a credential event (event) nor a workflow event (instanceId)", ErrMalformed)
}

func parseCredential(body []byte) (Event, error) {
	var env credentialEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if env.Event == nil {
		return Event{}, fmt.Errorf("%w: event is null", ErrMalformed)
	}
	return credentialEvent(env)
}

// credentialEvent checks a decoded credential envelope whose event is set.
func credentialEvent(env credentialEnvelope) (Event, error) {
	e := env.Event
	ev := Event{Kind: KindCredential, Publisher: deref(env.Publisher), Topic: deref(env.Topic)}
	var err error
	if ev.ID, err = required("event.id", e.ID, maxIDLen); err != nil {
		return Event{}, err
	}
	if ev.Topic == "" {
		return Event{}, fmt.Errorf("%w: topic is missing", ErrMalformed)
	}
	ev.RequestID = deref(e.TransactionID)
	ev.DataShareURI = deref(e.DataShareURI)
	if e.Data == nil {
		return Event{}, fmt.Errorf("%w: event.data is missing", ErrMalformed)
	}
	ev.RegistrationID = deref(e.Data.RegistrationID)
	ev.Credential = deref(e.Data.Credential)
	ev.CredentialType = deref(e.Data.CredentialType)
	if e.Data.Proof != nil {
		ev.ProofSignature = deref(e.Data.Proof.Signature)
	}
	if ev.Credential == "" && ev.DataShareURI == "" {
		return Event{}, fmt.Errorf("%w: neither event.data.credential nor event.dataShareUri", ErrMalformed)
	}
	for _, f := range []struct{ name, v string }{{"event.transactionId", ev.RequestID}, {"event.data.registrationId", ev.RegistrationID},
		{"event.data.credentialType", ev.CredentialType}, {"event.dataShareUri", ev.DataShareURI}} {
		if len(f.v) > maxTextLen {
			return Event{}, fmt.Errorf("%w: %s is too long", ErrMalformed, f.name)
		}
	}
	return ev, nil
}

func parseStatus(body []byte) (Event, error) {
	var s statusEvent
	if err := json.Unmarshal(body, &s); err != nil {
		return Event{}, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	ev := Event{Kind: KindStatus, Topic: StatusTopic, ErrorCode: deref(s.ErrorCode)}
	var err error
	if ev.RegistrationID, err = required("instanceId", s.InstanceID, maxIDLen); err != nil {
		return Event{}, err
	}
	if ev.ResultCode, err = required("resultCode", s.ResultCode, 64); err != nil {
		return Event{}, err
	}
	ev.WorkflowType = deref(s.WorkflowType)
	if len(ev.WorkflowType) > 64 || len(ev.ErrorCode) > 64 {
		return Event{}, fmt.Errorf("%w: workflowType or errorCode too long", ErrMalformed)
	}
	sum := sha256.Sum256(body)
	ev.ID = "status-" + hex.EncodeToString(sum[:16])
	return ev, nil
}

func required(name string, v *string, max int) (string, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return "", fmt.Errorf("%w: %s is missing", ErrMalformed, name)
	}
	if len(*v) > max {
		return "", fmt.Errorf("%w: %s is too long", ErrMalformed, name)
	}
	return *v, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// jsonProblem names what a decoding error is about without the value.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be a %s", te.Field, te.Type)
	}
	return "invalid JSON"
}

// ack is MOSIP's acknowledgement body.
type ack struct {
	Publisher   string   `json:"publisher"`
	Topic       string   `json:"topic"`
	PublishedOn string   `json:"publishedOn"`
	Event       ackEvent `json:"event"`
}

type ackEvent struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	Timestamp string `json:"timestamp"`
	Status    string `json:"status"`
	URL       string `json:"url"`
}

// Ack is MOSIP's acknowledgement body for a stored delivery (the shape
// mosip-api answers with; the hub ignores it but operators read it).
func Ack(ev Event, status string, now time.Time) []byte {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	b, _ := json.Marshal(ack{Publisher: ev.Publisher, Topic: ev.Topic, PublishedOn: ts,
		Event: ackEvent{ID: ev.ID, RequestID: ev.RequestID, Timestamp: ts, Status: status}})
	return b
}
