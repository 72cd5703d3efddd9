package opencrvs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Procedures of the events router the client calls.
const (
	procGet              = "event.get"
	procRegisterAccept   = "event.actions.register.accept"
	procRegisterReject   = "event.actions.register.reject"
	procCorrectionAccept = "event.actions.correction.approve.accept"
	procCorrectionReject = "event.actions.correction.approve.reject"
)

// maxResponse bounds what is read of an answer. event.get returns the whole
// record with every declaration, which stays well below this.
const maxResponse = 8 << 20

// eventDoc is the part of OpenCRVS's EventDocument the client reads. The
// declarations (personal data) are never decoded.
type eventDoc struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Actions []eventAction `json:"actions"`
}

// eventAction is the part of an ActionDocument the client reads.
type eventAction struct {
	ID               string `json:"id"`
	Type             string `json:"type"`
	Status           string `json:"status"`
	TransactionID    string `json:"transactionId"`
	OriginalActionID string `json:"originalActionId"`
	RequestID        string `json:"requestId"`
}

// Action statuses and types of OpenCRVS's events model.
const (
	statusRequested         = "Requested"
	statusAccepted          = "Accepted"
	statusRejected          = "Rejected"
	actionRegister          = "REGISTER"
	actionApproveCorrection = "APPROVE_CORRECTION"
)

// action returns the action with id.
func (e *eventDoc) action(id string) (eventAction, bool) {
	for _, a := range e.Actions {
		if a.ID == id {
			return a, true
		}
	}
	return eventAction{}, false
}

// confirmationOf returns the Accepted or Rejected action that confirms
// actionID (its originalActionId), as core's accept and reject look it up.
func (e *eventDoc) confirmationOf(actionID string) (eventAction, bool) {
	for _, a := range e.Actions {
		if a.OriginalActionID == actionID && actionID != "" {
			return a, true
		}
	}
	return eventAction{}, false
}

// pending is core's getPendingAction: a Requested action nothing confirms.
func (e *eventDoc) pending() (eventAction, bool) {
	for _, a := range e.Actions {
		if a.Status == statusRequested {
			if _, done := e.confirmationOf(a.ID); !done {
				return a, true
			}
		}
	}
	return eventAction{}, false
}

// trpcEnvelope is the non-batched tRPC v11 answer with the superjson
// transformer: {"result":{"data":{"json":…}}} or {"error":{"json":{…}}}.
type trpcEnvelope struct {
	Result *struct {
		Data *struct {
			JSON json.RawMessage `json:"json"`
		} `json:"data"`
	} `json:"result"`
	Error *struct {
		JSON *trpcErrorShape `json:"json"`
	} `json:"error"`
}

// trpcErrorShape is tRPC's default error shape.
type trpcErrorShape struct {
	Message string `json:"message"`
	Data    struct {
		Code       string `json:"code"`
		HTTPStatus int    `json:"httpStatus"`
	} `json:"data"`
}

// hapiError is what Hapi routes (the gateway, the auth service) answer.
type hapiError struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

// parseAnswer reads a tRPC answer: the output on success, else a classified
// *Error. secrets are scrubbed from any text kept.
func parseAnswer(proc string, status int, body []byte, secrets []string) (json.RawMessage, *Error) {
	var env trpcEnvelope
	jsonErr := json.Unmarshal(body, &env)
	if jsonErr != nil {
		// The batched form answers an array; take its only element.
		var batch []trpcEnvelope
		if json.Unmarshal(body, &batch) == nil && len(batch) == 1 {
			env, jsonErr = batch[0], nil
		}
	}
	if jsonErr == nil && env.Error == nil && status/100 == 2 {
		if env.Result == nil || env.Result.Data == nil || len(env.Result.Data.JSON) == 0 {
			return nil, &Error{Procedure: proc, Status: status, Code: CodeMalformed, Retryable: true,
				Reason: "answer has no result.data.json"}
		}
		return env.Result.Data.JSON, nil
	}
	e := &Error{Procedure: proc, Status: status}
	switch {
	case jsonErr == nil && env.Error != nil && env.Error.JSON != nil:
		shape := env.Error.JSON
		e.Code, e.Reason = shape.Data.Code, sanitize(shape.Message, secrets...)
		if e.Status/100 == 2 && shape.Data.HTTPStatus != 0 {
			e.Status = shape.Data.HTTPStatus
		}
	case status/100 == 2:
		return nil, &Error{Procedure: proc, Status: status, Code: CodeMalformed, Retryable: true,
			Reason: "answer is not a tRPC result"}
	default:
		// A proxy's plain-text page or a Hapi error: keep only a JSON
		// message, never an arbitrary body.
		var h hapiError
		if json.Unmarshal(body, &h) == nil && h.Message != "" {
			e.Reason = sanitize(h.Message, secrets...)
		} else {
			e.Reason = http.StatusText(status)
		}
	}
	if e.Code == "" {
		e.Code = codeForStatus(e.Status)
	}
	e.Retryable = retryableStatus(e.Status, e.Code)
	refine(e)
	return nil, e
}

// call runs one procedure and returns its output. In system-token mode a
// 401 drops the cached token and the call is repeated once with a new one;
// a second 401 is permanent.
func (c *Client) call(ctx context.Context, proc string, input any, recordToken string, secrets []string) (json.RawMessage, error) {
	payload, err := json.Marshal(struct {
		JSON any `json:"json"`
	}{input})
	if err != nil {
		return nil, &Error{Procedure: proc, Code: CodeInvalidArgument, Reason: "input cannot be encoded"}
	}
	for attempt := 1; ; attempt++ {
		token := recordToken
		if c.tokens != nil {
			if token, err = c.tokens.get(ctx); err != nil {
				return nil, err
			}
		}
		out, err := c.exchange(ctx, proc, payload, token, append(secrets[:len(secrets):len(secrets)], token))
		var e *Error
		if c.tokens != nil && attempt == 1 && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			c.tokens.invalidate(token)
			continue
		}
		return out, err
	}
}

// exchange performs one HTTP request for proc: GET with ?input= for the
// query event.get, POST with a JSON body for mutations.
func (c *Client) exchange(ctx context.Context, proc string, payload []byte, token string, secrets []string) (json.RawMessage, error) {
	ctx, span := c.tracer.Start(ctx, "opencrvs "+proc, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "trpc"), attribute.String("opencrvs.procedure", proc)))
	defer span.End()
	start := time.Now()
	out, err := c.exchangeOnce(ctx, proc, payload, token, secrets)
	result := "ok"
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			result = e.Code
			span.SetAttributes(attribute.String("opencrvs.error_code", e.Code), attribute.Bool("opencrvs.retryable", e.Retryable))
		}
		span.SetStatus(codes.Error, result)
	}
	c.metrics.recordCall(ctx, proc, result, time.Since(start))
	return out, err
}

func (c *Client) exchangeOnce(ctx context.Context, proc string, payload []byte, token string, secrets []string) (json.RawMessage, error) {
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.events.JoinPath(proc)
	method, body := http.MethodPost, io.Reader(bytes.NewReader(payload))
	if proc == procGet {
		method, body = http.MethodGet, nil
		target.RawQuery = "input=" + url.QueryEscape(string(payload))
	}
	req, err := http.NewRequestWithContext(callCtx, method, target.String(), body)
	if err != nil {
		return nil, &Error{Procedure: proc, Code: CodeInvalidArgument, Reason: "cannot build the request"}
	}
	req.Header.Set("Accept", "application/json")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	// Exactly one space: the events service takes token.split(' ')[1].
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, proc, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, transportError(ctx, proc, err)
	}
	out, perr := parseAnswer(proc, resp.StatusCode, raw, secrets)
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// transportError classifies a failure without an answer. ctx is the
// caller's context (not the per-call one), to tell the caller's
// cancellation from our own timeout.
func transportError(ctx context.Context, proc string, err error) *Error {
	e := &Error{Procedure: proc, Retryable: true, Err: err}
	switch {
	case ctx.Err() != nil:
		e.Code, e.Reason, e.Err = CodeCanceled, "the caller gave up", ctx.Err()
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		e.Code, e.Reason, e.Err = CodeTimeout, "no answer in time", context.DeadlineExceeded
	default:
		e.Code, e.Reason = CodeUnavailable, "no answer: connection failed"
	}
	return e
}
