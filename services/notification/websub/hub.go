package websub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TopicCredentialStatusUpdate is the topic credential acknowledgements are
// published to.
const TopicCredentialStatusUpdate = "CREDENTIAL_STATUS_UPDATE"

// maxHubAnswer bounds what is read of a hub answer (a short form body).
const maxHubAnswer = 64 << 10

// HubError is a hub request that did not succeed. Its text is safe to log:
// no token, no secret, no callback URL.
type HubError struct {
	// Op is "subscribe" or "publish".
	Op string
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Denied is true when the hub answered hub.mode=denied (with any
	// status, 200 included).
	Denied bool
	// Reason is the hub's hub.reason or message, or what went wrong.
	Reason string
	// Temporary is true when repeating the request later may succeed
	// without a change on either side: no answer, 5xx without a denial,
	// 429, a token that could not be obtained.
	Temporary bool
	// TokenRefused is true when the hub refused the token or the caller's
	// authorization (401, 403, or a denial saying so).
	TokenRefused bool
	// Err is the underlying transport, context or token-source error.
	Err error

	tokenSource bool // the token could not be obtained
}

// Error implements error.
func (e *HubError) Error() string {
	var b strings.Builder
	b.WriteString("websub: ")
	b.WriteString(e.Op)
	switch {
	case e.Denied:
		b.WriteString(" denied")
	case e.Status != 0:
		b.WriteString(" answered ")
		b.WriteString(strconv.Itoa(e.Status))
	default:
		b.WriteString(" failed")
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *HubError) Unwrap() error { return e.Err }

func (e *HubError) kind() string {
	switch {
	case e.tokenSource:
		return kindToken
	case e.Denied:
		return kindDenied
	case e.Status != 0:
		return kindStatus
	}
	return kindTransport
}

// IsTemporary reports whether a PublishCredentialStatus error may succeed
// when repeated later.
func IsTemporary(err error) bool {
	var he *HubError
	return errors.As(err, &he) && he.Temporary
}

// subscribe sends one subscribe request for s.
func (m *Manager) subscribe(ctx context.Context, s Subscription) error {
	ctx, span := m.tracer.Start(ctx, "websub.subscribe", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("websub.subscription", s.Name), attribute.String("websub.topic", s.Topic)))
	defer span.End()
	form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {s.Topic}, "hub.callback": {s.Callback}, "hub.secret": {s.Secret}}
	if s.LeaseSeconds > 0 {
		form.Set("hub.lease_seconds", strconv.Itoa(s.LeaseSeconds))
	}
	body := []byte(form.Encode())
	err := m.withToken(ctx, "subscribe", func(token string) *HubError {
		return m.send(ctx, "subscribe", m.hub.String(), "application/x-www-form-urlencoded", body, token)
	})
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// withToken runs call with the WebSub client's token; when the hub refuses
// the token, the token is invalidated and call runs once more with a new one.
func (m *Manager) withToken(ctx context.Context, op string, call func(token string) *HubError) error {
	var used []string // every token sent, scrubbed from the final reason
	for attempt := 1; ; attempt++ {
		token, err := m.token(ctx)
		if err != nil || token == "" {
			if err == nil {
				err = errors.New("empty token")
			}
			return &HubError{Op: op, Temporary: true, Reason: "token: " + m.scrub(err.Error(), used...), Err: err, tokenSource: true}
		}
		used = append(used, token)
		he := call(token)
		if he == nil {
			return nil
		}
		he.Reason = m.scrub(he.Reason, used...)
		if he.TokenRefused && attempt == 1 {
			if m.invalidate != nil {
				m.invalidate(ctx)
			}
			continue
		}
		return he
	}
}

// send POSTs body to target with the token cookie and reads the hub's
// answer: success is a 2xx whose body is hub.mode=accepted (or empty, as
// W3C hubs answer); hub.mode=denied is a failure whatever the status.
func (m *Manager) send(ctx context.Context, op, target, contentType string, body []byte, token string) *HubError {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &HubError{Op: op, Reason: "cannot build the request", Err: err}
	}
	req.Header.Set("Content-Type", contentType)
	// MOSIP's hub reads the token only from this cookie (no Bearer header).
	req.Header.Set("Cookie", "Authorization="+token)
	resp, err := m.http.Do(req)
	if err != nil {
		reason := "no answer: connection failed"
		if ctx.Err() != nil {
			reason = "canceled"
		} else if isTimeout(err) {
			reason = "no answer in time"
		}
		return &HubError{Op: op, Temporary: true, Reason: reason, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxHubAnswer))
	if err != nil {
		return &HubError{Op: op, Status: resp.StatusCode, Temporary: true, Reason: "answer could not be read", Err: err}
	}
	return parseHubAnswer(op, resp.StatusCode, raw)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}

// parseHubAnswer classifies a hub answer; nil means accepted. The reason
// still needs scrubbing.
func parseHubAnswer(op string, status int, raw []byte) *HubError {
	text := strings.TrimSpace(string(raw))
	// Ballerina builds the body by concatenation without encoding, so a
	// reason may hold spaces or stray '%'; ParseQuery keeps what it can.
	vals, _ := url.ParseQuery(text)
	mode := vals.Get("hub.mode")
	ok2xx := status/100 == 2
	switch {
	case mode == "denied":
		reason := vals.Get("hub.reason")
		return &HubError{Op: op, Status: status, Denied: true, Reason: reason,
			TokenRefused: status == http.StatusUnauthorized || status == http.StatusForbidden || authReason(reason)}
	case ok2xx && (mode == "accepted" || text == ""):
		return nil
	case ok2xx:
		return &HubError{Op: op, Status: status, Temporary: true, Reason: "unexpected answer: " + firstLine(text)}
	}
	reason := http.StatusText(status)
	// The hub answers malformed requests with a short plain-text message.
	if text != "" && !strings.HasPrefix(text, "<") {
		reason = firstLine(text)
	}
	return &HubError{Op: op, Status: status, Reason: reason,
		Temporary:    status >= 500 || status == http.StatusTooManyRequests,
		TokenRefused: status == http.StatusUnauthorized || status == http.StatusForbidden}
}

// authReason recognises denials about the token or the caller's roles
// ("Unauthorized", "Authorization token cannot be found", "Subscriber is
// not authorized", "Publisher is not authorized"): a new token may carry
// roles granted since the cached one was issued.
func authReason(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "authoriz") || strings.Contains(r, "token")
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return sanitize(s, 120)
}

// credentialStatusEvent is MOSIP's CredentialStatusEvent, as MOSIP's own
// mediator publishes it.
type credentialStatusEvent struct {
	PublishedOn string            `json:"publishedOn"`
	Publisher   string            `json:"publisher"`
	Topic       string            `json:"topic"`
	Event       credentialsStatus `json:"event"`
}

type credentialsStatus struct {
	ID        string  `json:"id"`
	RequestID string  `json:"requestId"`
	Status    string  `json:"status"`
	Timestamp string  `json:"timestamp"`
	URL       *string `json:"url"`
}

// mosipTime is MOSIP's timestamp layout.
const mosipTime = "2006-01-02T15:04:05.000Z"

// PublishCredentialStatus tells MOSIP what became of a credential, as MOSIP's
// mediator does after processing one: POST {hub}?hub.mode=publish&
// hub.topic=CREDENTIAL_STATUS_UPDATE with {publishedOn, publisher, topic,
// event: {id, requestId, status, timestamp, url: null}}. requestID is the
// credential event's event.transactionId; status is "served" or an error
// status such as "serving_error_decrypt". The event id is derived from
// requestID and status, so a repeated publish carries the same id. Errors
// are *HubError; IsTemporary tells whether to retry.
func (m *Manager) PublishCredentialStatus(ctx context.Context, requestID, status string) error {
	ctx, span := m.tracer.Start(ctx, "websub.publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("websub.topic", TopicCredentialStatusUpdate), attribute.String("websub.status", status)))
	defer span.End()
	err := m.publishStatus(ctx, requestID, status)
	result := "ok"
	if err != nil {
		result = "error"
		span.SetStatus(codes.Error, err.Error())
	}
	m.metrics.publishes.Add(ctx, 1, topicResultAttrs(TopicCredentialStatusUpdate, result))
	return err
}

func (m *Manager) publishStatus(ctx context.Context, requestID, status string) error {
	if requestID == "" || status == "" {
		return &HubError{Op: "publish", Reason: "requestID and status are required"}
	}
	now := m.now().UTC().Format(mosipTime)
	body, err := json.Marshal(credentialStatusEvent{PublishedOn: now, Publisher: m.publisher, Topic: TopicCredentialStatusUpdate,
		Event: credentialsStatus{ID: nameUUID(requestID + "\x00" + status), RequestID: requestID, Status: status, Timestamp: now}})
	if err != nil {
		return &HubError{Op: "publish", Reason: "cannot encode the event", Err: err}
	}
	target := *m.hub
	q := target.Query()
	q.Set("hub.mode", "publish")
	q.Set("hub.topic", TopicCredentialStatusUpdate)
	target.RawQuery = q.Encode()
	return m.withToken(ctx, "publish", func(token string) *HubError {
		return m.send(ctx, "publish", target.String(), "application/json", body, token)
	})
}

// nameUUID is a name-based (version 5 layout, SHA-1) UUID of name, so the
// same acknowledgement always has the same event id.
func nameUUID(name string) string {
	sum := sha1.Sum([]byte("mosip-crvs-bridge/credential-status\x00" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
