package opencrvs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const testNID = "8031687218"

func newTestClient(t *testing.T, f *fakeCRVS, mod func(*Options)) *Client {
	t.Helper()
	o := Options{GatewayURL: f.gatewayURL(), Timeout: 2 * time.Second}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

func systemMode(f *fakeCRVS) func(*Options) {
	return func(o *Options) {
		o.AuthURL, o.ClientID, o.ClientSecret = f.authURL(), f.clientID, f.clientSecret
	}
}

func confirmationFor(eventID, actionID, token string) Confirmation {
	return Confirmation{EventID: eventID, ActionID: actionID, RecordToken: token,
		TransactionID: "mosip-" + uuid(), RegistrationNumber: "EE008OLG4317"}
}

func wantCode(t *testing.T, err error, code string, retryable bool) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error with code %s", err, err, code)
	}
	if e.Code != code || e.Retryable != retryable || IsRetryable(err) != retryable {
		t.Fatalf("error = %v, want code %s retryable %v", err, code, retryable)
	}
	return e
}

func TestAcceptBirthWritesNationalID(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)
	eventID, actionID, _, tok := f.record("birth", actionRegister)
	cf := confirmationFor(eventID, actionID, tok)
	cf.NationalID = testNID

	out, err := c.Accept(context.Background(), cf)
	if err != nil || out != Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	gets := f.callsTo(procGet)
	if len(gets) != 1 || gets[0].Method != http.MethodGet || gets[0].Input["eventId"] != eventID {
		t.Errorf("event.get calls = %+v, want one GET with the event id", gets)
	}
	accepts := f.callsTo(procRegisterAccept)
	if len(accepts) != 1 {
		t.Fatalf("register.accept calls = %d, want 1", len(accepts))
	}
	in := accepts[0].Input
	if accepts[0].Method != http.MethodPost || accepts[0].Auth != "Bearer "+tok {
		t.Errorf("accept sent %s with Authorization %q, want POST with the record token", accepts[0].Method, accepts[0].Auth)
	}
	want := map[string]any{"transactionId": cf.TransactionID, "eventId": eventID, "actionId": actionID,
		"registrationNumber": "EE008OLG4317", "declaration": map[string]any{"child.nid": testNID}}
	if fmt.Sprint(in) != fmt.Sprint(want) {
		t.Errorf("accept input = %v, want %v", in, want)
	}
	conf, ok := f.confirmation(eventID, actionID)
	if !ok || conf["status"] != statusAccepted || conf["transactionId"] != cf.TransactionID {
		t.Errorf("confirmation = %v, want Accepted with the caller's transactionId", conf)
	}
}

func TestAcceptDeathSendsNoDeclaration(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)
	eventID, actionID, _, tok := f.record("death", actionRegister)

	out, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok))
	if err != nil || out != Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	in := f.callsTo(procRegisterAccept)[0].Input
	if _, ok := in["declaration"]; ok {
		t.Errorf("death accept input = %v, want no declaration", in)
	}
}

func TestAcceptCorrectionUsesRequestID(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)
	eventID, actionID, requestID, tok := f.record("birth", actionApproveCorrection)
	cf := confirmationFor(eventID, actionID, tok)
	cf.RegistrationNumber, cf.NationalID = "", testNID

	out, err := c.Accept(context.Background(), cf)
	if err != nil || out != Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	if n := len(f.callsTo(procRegisterAccept)); n != 0 {
		t.Errorf("register.accept called %d times for a correction", n)
	}
	calls := f.callsTo(procCorrectionAccept)
	if len(calls) != 1 {
		t.Fatalf("correction.approve.accept calls = %d, want 1", len(calls))
	}
	in := calls[0].Input
	if in["requestId"] != requestID || fmt.Sprint(in["declaration"]) != fmt.Sprint(map[string]any{"child.nid": testNID}) {
		t.Errorf("correction accept input = %v, want requestId %s and child.nid", in, requestID)
	}
	if _, ok := in["registrationNumber"]; ok {
		t.Errorf("correction accept input has a registrationNumber: %v", in)
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action, proc string
	}{
		{actionRegister, procRegisterReject},
		{actionApproveCorrection, procCorrectionReject},
	} {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			f := newFakeCRVS(t)
			c := newTestClient(t, f, nil)
			eventID, actionID, _, tok := f.record("birth", tc.action)
			cf := confirmationFor(eventID, actionID, tok)
			cf.Reason, cf.NationalID = "RPR-PKR-016 packet validation failed", testNID

			out, err := c.Reject(context.Background(), cf)
			if err != nil || out != Rejected {
				t.Fatalf("Reject() = %v, %v; want Rejected", out, err)
			}
			calls := f.callsTo(tc.proc)
			if len(calls) != 1 {
				t.Fatalf("%s calls = %d, want 1", tc.proc, len(calls))
			}
			// AsyncActionInput: nothing else, no declaration, no reason.
			var keys []string
			for k := range calls[0].Input {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"actionId", "eventId", "transactionId"}; !slices.Equal(keys, want) {
				t.Errorf("reject input keys = %v, want %v", keys, want)
			}
			if conf, ok := f.confirmation(eventID, actionID); !ok || conf["status"] != statusRejected {
				t.Errorf("confirmation = %v, want Rejected", conf)
			}
		})
	}
}

func TestAlreadyConfirmed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		accept      bool
		prior       string // status confirmed before the call; "" = by the client itself
		sameTxn     bool
		wantOut     Outcome
		wantCode    string
		wantMutates bool
	}{
		{name: "accept after registrar accepted", accept: true, prior: statusAccepted, wantOut: AlreadyDone},
		{name: "accept repeated with the same transaction", accept: true, sameTxn: true, wantOut: AlreadyDone},
		{name: "reject after rejected", accept: false, prior: statusRejected, wantOut: AlreadyDone},
		{name: "accept after rejected", accept: true, prior: statusRejected, wantCode: CodeAlreadyRejected},
		{name: "reject after accepted", accept: false, prior: statusAccepted, wantCode: CodeAlreadyAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCRVS(t)
			c := newTestClient(t, f, nil)
			eventID, actionID, _, tok := f.record("birth", actionRegister)
			cf := confirmationFor(eventID, actionID, tok)
			confirm := c.Reject
			if tc.accept {
				confirm = c.Accept
			}
			if tc.sameTxn {
				if out, err := confirm(context.Background(), cf); err != nil || out == AlreadyDone {
					t.Fatalf("first call = %v, %v", out, err)
				}
			} else {
				f.confirmDirectly(eventID, actionID, tc.prior)
			}
			before := len(f.callsTo(procRegisterAccept)) + len(f.callsTo(procRegisterReject))

			out, err := confirm(context.Background(), cf)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, false)
			} else if err != nil || out != tc.wantOut {
				t.Fatalf("call = %v, %v; want %v", out, err, tc.wantOut)
			}
			if after := len(f.callsTo(procRegisterAccept)) + len(f.callsTo(procRegisterReject)); after != before {
				t.Errorf("the call sent a confirmation (%d → %d); the event showed it was already confirmed", before, after)
			}
		})
	}
}

// A registrar confirms between our event.get and our accept: core answers
// with the unchanged event, whose confirmation is not ours.
func TestAcceptRaceEndsAlreadyDone(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	eventID, actionID, _, tok := f.record("birth", actionRegister)
	// The gateway confirms as a registrar right before the accept reaches core.
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, procRegisterAccept) {
			f.confirmDirectly(eventID, actionID, statusAccepted)
		}
		inner.ServeHTTP(w, r)
	})
	c := newTestClient(t, f, nil)
	out, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok))
	if err != nil || out != AlreadyDone {
		t.Fatalf("Accept() = %v, %v; want AlreadyDone", out, err)
	}
}

func TestNoPendingAction(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)

	// Accepted synchronously: the REGISTER action itself is Accepted.
	eventID, actionID, _, tok := f.record("death", actionRegister)
	f.mu.Lock()
	ev := f.events[eventID]
	ev.Actions[len(ev.Actions)-1]["status"] = statusAccepted
	f.mu.Unlock()
	if out, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok)); err != nil || out != NoPendingAction {
		t.Errorf("Accept(synchronously accepted) = %v, %v; want NoPendingAction", out, err)
	}

	// The action is not in the event and nothing is pending.
	if out, err := c.Reject(context.Background(), confirmationFor(eventID, uuid(), tok)); err != nil || out != NoPendingAction {
		t.Errorf("Reject(unknown action, nothing pending) = %v, %v; want NoPendingAction", out, err)
	}
	if n := len(f.callsTo(procRegisterAccept)) + len(f.callsTo(procRegisterReject)); n != 0 {
		t.Errorf("%d confirmations sent with nothing pending", n)
	}

	// The action is not in the event but another one is pending: the stored
	// ids are stale, which a person must look at.
	eventID2, _, _, tok2 := f.record("birth", actionRegister)
	_, err := c.Accept(context.Background(), confirmationFor(eventID2, uuid(), tok2))
	wantCode(t, err, "NOT_FOUND", false)
}

func TestUnsupportedPendingAction(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)
	eventID, actionID, _, tok := f.record("birth", "PRINT_CERTIFICATE")
	_, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok))
	wantCode(t, err, CodeUnsupportedAction, false)
}

func TestInvalidConfirmation(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, nil)
	eventID, actionID, _, tok := f.record("birth", actionRegister)
	for name, cf := range map[string]Confirmation{
		"no event id":            {ActionID: actionID, RecordToken: tok, TransactionID: "mosip-1", RegistrationNumber: "R"},
		"no transaction id":      {EventID: eventID, ActionID: actionID, RecordToken: tok, RegistrationNumber: "R"},
		"no record token":        {EventID: eventID, ActionID: actionID, TransactionID: "mosip-1", RegistrationNumber: "R"},
		"no registration number": {EventID: eventID, ActionID: actionID, RecordToken: tok, TransactionID: "mosip-1"},
	} {
		_, err := c.Accept(context.Background(), cf)
		if e := wantCode(t, err, CodeInvalidArgument, false); e.Reason == "" {
			t.Errorf("%s: error has no reason", name)
		}
	}
	if n := len(f.callsTo(procRegisterAccept)); n != 0 {
		t.Errorf("%d accepts sent for invalid confirmations", n)
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		proc      string // where the answer is injected
		answer    fakeAnswer
		assigned  bool
		code      string
		status    int
		retryable bool
	}{
		{name: "401 expired record token", proc: procGet, answer: trpcErr(401, "UNAUTHORIZED", "Authentication failed"), code: "UNAUTHORIZED", status: 401},
		{name: "403 missing scopes", proc: procRegisterAccept, answer: trpcErr(403, "FORBIDDEN", "Missing required scopes for action confirmation"), code: "FORBIDDEN", status: 403},
		{name: "event not found", proc: procGet, answer: trpcErr(404, "NOT_FOUND", "Event not found with ID: x"), code: "NOT_FOUND", status: 404},
		{name: "input refused", proc: procRegisterAccept, answer: trpcErr(400, "BAD_REQUEST", "[\n  {\n    \"code\": \"invalid_type\"\n  }\n]"), code: "BAD_REQUEST", status: 400},
		{name: "user assigned", assigned: true, code: "CONFLICT", status: 409, retryable: true},
		{name: "503 from the ingress", proc: procRegisterAccept, answer: fakeAnswer{503, "Service Unavailable"}, code: "SERVICE_UNAVAILABLE", status: 503, retryable: true},
		{name: "502 html page", proc: procGet, answer: fakeAnswer{502, "<html><body>bad gateway</body></html>"}, code: "BAD_GATEWAY", status: 502, retryable: true},
		{name: "masked 500", proc: procRegisterAccept, answer: trpcErr(500, "INTERNAL_SERVER_ERROR", "Internal server error"), code: "INTERNAL_SERVER_ERROR", status: 500, retryable: true},
		{name: "429", proc: procRegisterAccept, answer: fakeAnswer{429, `{"statusCode":429,"error":"Too Many Requests","message":"Rate limit exceeded"}`}, code: "TOO_MANY_REQUESTS", status: 429, retryable: true},
		{name: "200 not trpc", proc: procRegisterAccept, answer: fakeAnswer{200, "<html>ok</html>"}, code: CodeMalformed, status: 200, retryable: true},
		{name: "reject on accepted, unmasked", proc: procRegisterAccept, answer: trpcErr(500, "INTERNAL_SERVER_ERROR", "Action has already been accepted."), code: CodeAlreadyAccepted, status: 500},
		{name: "accept on rejected", proc: procRegisterAccept, answer: trpcErr(400, "BAD_REQUEST", "Action has already been rejected."), code: CodeAlreadyRejected, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCRVS(t)
			c := newTestClient(t, f, nil)
			eventID, actionID, _, tok := f.record("birth", actionRegister)
			if tc.proc != "" {
				f.failNext(tc.proc, tc.answer)
			}
			f.setAssigned(tc.assigned)
			out, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok))
			if out != 0 {
				t.Errorf("Accept() outcome = %v, want none with an error", out)
			}
			e := wantCode(t, err, tc.code, tc.retryable)
			if e.Status != tc.status {
				t.Errorf("Status = %d, want %d", e.Status, tc.status)
			}
			if strings.Contains(e.Error(), "<html") {
				t.Errorf("error keeps a proxy page: %v", e)
			}
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	f.setLatency(time.Second)
	c := newTestClient(t, f, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	eventID, actionID, _, tok := f.record("birth", actionRegister)

	start := time.Now()
	_, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, tok))
	wantCode(t, err, CodeTimeout, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) = false for %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Accept took %s with a 50ms timeout", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	c2 := newTestClient(t, f, nil)
	_, err = c2.Accept(ctx, confirmationFor(eventID, actionID, tok))
	wantCode(t, err, CodeCanceled, true)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, Canceled) = false for %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	c, err := New(Options{GatewayURL: u})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Accept(context.Background(), Confirmation{EventID: uuid(), ActionID: uuid(), RecordToken: "t", TransactionID: "mosip-x"})
	wantCode(t, err, CodeUnavailable, true)
}

func TestSystemTokenFetchedOnceAndCached(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, systemMode(f))
	if !c.SystemTokenMode() {
		t.Fatal("SystemTokenMode() = false with a client id")
	}
	for i := range 3 {
		eventID, actionID, _, _ := f.record("birth", actionRegister)
		cf := confirmationFor(eventID, actionID, "")
		if out, err := c.Accept(context.Background(), cf); err != nil || out != Accepted {
			t.Fatalf("Accept #%d = %v, %v", i, out, err)
		}
	}
	if n := f.tokensIssued(); n != 1 {
		t.Errorf("tokens fetched = %d, want 1 for three confirmations", n)
	}
	for _, call := range f.callsTo(procRegisterAccept) {
		if !strings.HasPrefix(call.Auth, "Bearer eyJ") {
			t.Errorf("Authorization = %q, want the system token", call.Auth)
		}
	}
}

func TestSystemTokenRefetchedOn401(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, systemMode(f))
	eventID, actionID, _, _ := f.record("birth", actionRegister)
	if _, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, "")); err != nil {
		t.Fatal(err)
	}
	// OpenCRVS redeployed with new keys: the cached token stops working.
	f.revokeAll()
	eventID, actionID, _, _ = f.record("death", actionRegister)
	if out, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, "")); err != nil || out != Accepted {
		t.Fatalf("Accept after revocation = %v, %v; want Accepted with a new token", out, err)
	}
	if n := f.tokensIssued(); n != 2 {
		t.Errorf("tokens fetched = %d, want 2", n)
	}

	// A 401 that a fresh token does not cure is permanent after one refetch.
	f.failNext(procGet, trpcErr(401, "UNAUTHORIZED", "Authentication failed"), trpcErr(401, "UNAUTHORIZED", "Authentication failed"))
	_, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, ""))
	wantCode(t, err, "UNAUTHORIZED", false)
	if n := f.tokensIssued(); n != 3 {
		t.Errorf("tokens fetched = %d, want 3 (one refetch)", n)
	}
}

func TestSystemTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	var offset atomic.Int64
	c := newTestClient(t, f, func(o *Options) {
		systemMode(f)(o)
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	accept := func() {
		t.Helper()
		eventID, actionID, _, _ := f.record("birth", actionRegister)
		if _, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, "")); err != nil {
			t.Fatal(err)
		}
	}
	accept()
	offset.Store(int64(8 * time.Minute))
	accept()
	if n := f.tokensIssued(); n != 1 {
		t.Errorf("tokens fetched at 8 min = %d, want 1", n)
	}
	offset.Store(int64(9*time.Minute + 30*time.Second)) // within a minute of the 10-minute exp
	accept()
	if n := f.tokensIssued(); n != 2 {
		t.Errorf("tokens fetched at 9.5 min = %d, want 2", n)
	}
}

func TestSystemTokenSharedByConcurrentCalls(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	c := newTestClient(t, f, systemMode(f))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		eventID, actionID, _, _ := f.record("birth", actionRegister)
		wg.Go(func() {
			if _, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, "")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.tokensIssued(); n != 1 {
		t.Errorf("tokens fetched = %d, want 1 for 20 concurrent confirmations", n)
	}
}

func TestSystemTokenErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		answer    fakeAnswer
		secret    string
		code      string
		retryable bool
	}{
		{name: "wrong secret", secret: "wrong", code: "invalid_client"},
		{name: "auth service down", answer: fakeAnswer{503, "upstream connect error"}, code: "SERVICE_UNAVAILABLE", retryable: true},
		{name: "no access token", answer: fakeAnswer{200, `{"token_type":"Bearer"}`}, code: CodeMalformed, retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCRVS(t)
			if tc.answer.status != 0 {
				f.tokenFail = []fakeAnswer{tc.answer}
			}
			c := newTestClient(t, f, func(o *Options) {
				systemMode(f)(o)
				if tc.secret != "" {
					o.ClientSecret = tc.secret
				}
			})
			eventID, actionID, _, _ := f.record("birth", actionRegister)
			_, err := c.Accept(context.Background(), confirmationFor(eventID, actionID, ""))
			e := wantCode(t, err, tc.code, tc.retryable)
			if e.Procedure != procToken {
				t.Errorf("Procedure = %q, want %q", e.Procedure, procToken)
			}
			if strings.Contains(e.Error(), "wrong") || strings.Contains(e.Error(), f.clientSecret) {
				t.Errorf("error text leaks the secret: %v", e)
			}
		})
	}
}

// OpenCRVS echoing input back in a message must not put the national id or
// the token into our errors, logs or spans.
func TestNoSecretsInErrorsOrSpans(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var logs strings.Builder
	var logMu sync.Mutex
	c := newTestClient(t, f, func(o *Options) {
		o.TracerProvider = tp
		o.Logger = newLockedLogger(&logs, &logMu)
	})
	eventID, actionID, _, tok := f.record("birth", actionRegister)
	cf := confirmationFor(eventID, actionID, tok)
	cf.NationalID = testNID
	f.failNext(procRegisterAccept, trpcErr(400, "BAD_REQUEST", "bad child.nid "+testNID+" for token "+tok))
	_, err := c.Accept(context.Background(), cf)
	wantCode(t, err, "BAD_REQUEST", false)
	if strings.Contains(err.Error(), testNID) || strings.Contains(err.Error(), tok) {
		t.Errorf("error leaks: %v", err)
	}
	if _, err := c.Reject(context.Background(), cf); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		for _, a := range s.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, testNID) || strings.Contains(v, tok) {
				t.Errorf("span %s attribute %s leaks: %s", s.Name(), a.Key, v)
			}
		}
	}
	for _, want := range []string{"opencrvs.accept", "opencrvs.reject", "opencrvs event.get", "opencrvs " + procRegisterReject} {
		if !slices.Contains(names, want) {
			t.Errorf("spans %v lack %q", names, want)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), testNID) || strings.Contains(logs.String(), tok) {
		t.Errorf("logs leak: %s", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFakeCRVS(t)
	reader := sdkmetric.NewManualReader()
	c := newTestClient(t, f, func(o *Options) { o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) })
	eventID, actionID, _, tok := f.record("birth", actionRegister)
	cf := confirmationFor(eventID, actionID, tok)
	for range 2 {
		if _, err := c.Accept(context.Background(), cf); err != nil {
			t.Fatal(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "notification.opencrvs.confirmations" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := dp.Attributes.Value(attribute.Key("outcome"))
				got[outcome.AsString()] += dp.Value
			}
		}
	}
	if got["accepted"] != 1 || got["already_done"] != 1 {
		t.Errorf("confirmations by outcome = %v, want accepted 1, already_done 1", got)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	gw, _ := url.Parse("http://gateway:7070")
	auth, _ := url.Parse("http://gateway:7070/auth")
	rel, _ := url.Parse("/events")
	for _, tc := range []struct {
		name string
		o    Options
		want []string // substrings of the error; nil = valid
	}{
		{name: "record token mode", o: Options{GatewayURL: gw}},
		{name: "system mode", o: Options{GatewayURL: gw, AuthURL: auth, ClientID: "id", ClientSecret: "s"}},
		{name: "no gateway", o: Options{}, want: []string{"GatewayURL"}},
		{name: "relative gateway", o: Options{GatewayURL: rel}, want: []string{"GatewayURL"}},
		{name: "id without secret or auth URL", o: Options{GatewayURL: gw, ClientID: "id"},
			want: []string{"ClientSecret", "AuthURL"}},
		{name: "negative timeout", o: Options{GatewayURL: gw, Timeout: -time.Second}, want: []string{"Timeout"}},
	} {
		_, err := New(tc.o)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: New() = %v, want nil", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: New() = nil, want an error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: New() = %v, want it to mention %s", tc.name, err, w)
			}
		}
	}
}

func TestRefreshTime(t *testing.T) {
	t.Parallel()
	sent := time.Unix(1_800_000_000, 0)
	jwt := func(claims string) string {
		return "h." + strings.TrimRight(b64(claims), "=") + ".s"
	}
	for _, tc := range []struct {
		name      string
		token     string
		expiresIn json.Number
		want      time.Time
	}{
		{"jwt exp", jwt(fmt.Sprintf(`{"exp":%d}`, sent.Unix()+600)), "", sent.Add(540 * time.Second)},
		{"short jwt", jwt(fmt.Sprintf(`{"exp":%d}`, sent.Unix()+100)), "", sent.Add(80 * time.Second)},
		{"expires_in", "opaque", "300", sent.Add(240 * time.Second)},
		{"nothing", "opaque", "", sent.Add(540 * time.Second)},
		{"bad exp", jwt(`{"exp":"soon"}`), "", sent.Add(540 * time.Second)},
	} {
		if got := refreshTime(tc.token, tc.expiresIn, sent); !got.Equal(tc.want) {
			t.Errorf("%s: refreshTime = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPlanPendingAction(t *testing.T) {
	t.Parallel()
	ev := &eventDoc{ID: "e", Actions: []eventAction{
		{ID: "a1", Type: actionRegister, Status: statusRequested},
		{ID: "c1", Type: actionRegister, Status: statusRejected, OriginalActionID: "a1"},
		{ID: "a2", Type: actionRegister, Status: statusRequested},
	}}
	cf := Confirmation{EventID: "e", ActionID: "a2", TransactionID: "t", RegistrationNumber: "R"}
	proc, input, done, err := plan(ev, cf, true)
	if err != nil || done != 0 || proc != procRegisterAccept || input["actionId"] != "a2" {
		t.Errorf("plan = %s, %v, %v, %v; want register.accept of a2", proc, input, done, err)
	}
	if p, ok := ev.pending(); !ok || p.ID != "a2" {
		t.Errorf("pending() = %v, %v; want a2", p, ok)
	}
}
