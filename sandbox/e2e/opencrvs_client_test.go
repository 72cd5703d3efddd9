// The notification service's OpenCRVS client against the sandbox's OpenCRVS
// emulator.

package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	sandboxcrvs "github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/notification/opencrvs"
)

// crvsClientEnv is a fresh sandbox and the OpenCRVS client pointed at it.
type crvsClientEnv struct {
	sb  *server.Sandbox
	url string
}

func newCRVSClientEnv(t *testing.T) *crvsClientEnv {
	t.Helper()
	var cfg server.Config
	if err := config.Load(&cfg, config.MapLookuper(map[string]string{})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sb, err := server.New(cfg, "http://"+srv.Listener.Addr().String(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sb.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = sb.Close() })
	return &crvsClientEnv{sb: sb, url: srv.URL}
}

// client returns a client in record-token mode, or in system-token mode
// (OpenCRVS 2.1) with the sandbox's registered integration client.
func (e *crvsClientEnv) client(t *testing.T, system bool, timeout time.Duration) *opencrvs.Client {
	t.Helper()
	gw, _ := url.Parse(e.url)
	o := opencrvs.Options{GatewayURL: gw, Timeout: timeout}
	if system {
		o.AuthURL, _ = url.Parse(e.url + "/auth")
		o.ClientID, o.ClientSecret = e.sb.Config.OpenCRVSClientID, e.sb.Config.OpenCRVSClientSecret.Value()
	}
	c, err := opencrvs.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// record creates an event with a Requested action, as OpenCRVS does when
// the country configuration answers 202, and the record token it hands out.
func (e *crvsClientEnv) record(t *testing.T, eventType, actionType string) (eventID, actionID, requestID, token string) {
	t.Helper()
	eventID = e.sb.CRVS.CreateEvent(eventType, map[string]any{"child.name": map[string]any{"firstname": "Aisha"}})
	actionID, requestID, err := e.sb.CRVS.RequestAction(eventID, actionType)
	if err != nil {
		t.Fatal(err)
	}
	token, err = e.sb.CRVS.Auth().RecordToken(sandboxcrvs.RecordTokenOptions{EventID: eventID, ActionID: actionID,
		Generation: sandboxcrvs.Generation20})
	if err != nil {
		t.Fatal(err)
	}
	return eventID, actionID, requestID, token
}

func crvsTxn() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("mosip-%x", b)
}

func (e *crvsClientEnv) confirmation(t *testing.T, eventID, actionID string) sandboxcrvs.Action {
	t.Helper()
	ev, ok := e.sb.CRVS.Event(eventID)
	if !ok {
		t.Fatalf("event %s not in the sandbox", eventID)
	}
	conf, ok := ev.Confirmation(actionID)
	if !ok {
		t.Fatalf("no confirmation of action %s in %+v", actionID, ev.Actions)
	}
	return conf
}

func TestOpenCRVSClientAcceptBirthWithNID(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, false, 5*time.Second)
	eventID, actionID, _, tok := e.record(t, "birth", sandboxcrvs.ActionRegister)
	cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok, TransactionID: crvsTxn(),
		RegistrationNumber: "EE008OLG4317", NationalID: "8031687218"}

	out, err := c.Accept(context.Background(), cf)
	if err != nil || out != opencrvs.Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	conf := e.confirmation(t, eventID, actionID)
	if conf.Status != sandboxcrvs.StatusAccepted || conf.TransactionID != cf.TransactionID ||
		conf.RegistrationNumber != cf.RegistrationNumber || conf.Declaration["child.nid"] != cf.NationalID {
		t.Errorf("confirmation = %+v, want Accepted with our transactionId, registration number and child.nid", conf)
	}
	if gets := e.sb.CRVS.CallsTo("event.get"); len(gets) != 1 || gets[0].Method != "GET" || gets[0].Status != 200 {
		t.Errorf("event.get calls = %+v, want one successful GET", gets)
	}
	if _, ok := e.sb.CRVS.Event(eventID); !ok {
		t.Fatal("event vanished")
	}
}

func TestOpenCRVSClientAcceptDeathWithoutDeclaration(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, false, 5*time.Second)
	eventID, actionID, _, tok := e.record(t, "death", sandboxcrvs.ActionRegister)
	out, err := c.Accept(context.Background(), opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok,
		TransactionID: crvsTxn(), RegistrationNumber: "DD008OLG4318"})
	if err != nil || out != opencrvs.Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	if conf := e.confirmation(t, eventID, actionID); len(conf.Declaration) != 0 {
		t.Errorf("death confirmation declaration = %v, want none", conf.Declaration)
	}
	if calls := e.sb.CRVS.CallsTo("event.actions.register.accept"); len(calls) != 1 || strings.Contains(string(calls[0].Input), "declaration") {
		t.Errorf("accept calls = %+v, want one without a declaration", calls)
	}
}

func TestOpenCRVSClientAcceptCorrection(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, false, 5*time.Second)
	eventID, actionID, requestID, tok := e.record(t, "birth", sandboxcrvs.ActionApproveCorrection)
	out, err := c.Accept(context.Background(), opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok,
		TransactionID: crvsTxn(), NationalID: "8031687218"})
	if err != nil || out != opencrvs.Accepted {
		t.Fatalf("Accept() = %v, %v; want Accepted", out, err)
	}
	conf := e.confirmation(t, eventID, actionID)
	if conf.Type != sandboxcrvs.ActionApproveCorrection || conf.RequestID != requestID || conf.Declaration["child.nid"] != "8031687218" {
		t.Errorf("confirmation = %+v, want APPROVE_CORRECTION with requestId %s and child.nid", conf, requestID)
	}
}

func TestOpenCRVSClientReject(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, false, 5*time.Second)
	eventID, actionID, _, tok := e.record(t, "birth", sandboxcrvs.ActionRegister)
	cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok, TransactionID: crvsTxn(),
		Reason: "REJECTED PACKET_REJECTED"}
	out, err := c.Reject(context.Background(), cf)
	if err != nil || out != opencrvs.Rejected {
		t.Fatalf("Reject() = %v, %v; want Rejected", out, err)
	}
	if conf := e.confirmation(t, eventID, actionID); conf.Status != sandboxcrvs.StatusRejected || conf.TransactionID != cf.TransactionID {
		t.Errorf("confirmation = %+v, want Rejected with our transactionId", conf)
	}
	// Rejecting again is done already; accepting now is refused for good.
	if out, err := c.Reject(context.Background(), cf); err != nil || out != opencrvs.AlreadyDone {
		t.Errorf("second Reject() = %v, %v; want AlreadyDone", out, err)
	}
	cf.RegistrationNumber = "EE1"
	if _, err := c.Accept(context.Background(), cf); err == nil || opencrvs.IsRetryable(err) {
		t.Errorf("Accept after reject = %v, want a permanent error", err)
	}
}

func TestOpenCRVSClientAlreadyAccepted(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, false, 5*time.Second)
	eventID, actionID, _, tok := e.record(t, "birth", sandboxcrvs.ActionRegister)
	cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok, TransactionID: crvsTxn(),
		RegistrationNumber: "EE008OLG4317", NationalID: "8031687218"}
	if _, err := c.Accept(context.Background(), cf); err != nil {
		t.Fatal(err)
	}
	// A retry after a lost answer, and a duplicate MOSIP event with another
	// transaction id: both find the action confirmed and send nothing.
	for _, txn := range []string{cf.TransactionID, crvsTxn()} {
		cf.TransactionID = txn
		if out, err := c.Accept(context.Background(), cf); err != nil || out != opencrvs.AlreadyDone {
			t.Errorf("Accept again = %v, %v; want AlreadyDone", out, err)
		}
	}
	if n := len(e.sb.CRVS.CallsTo("event.actions.register.accept")); n != 1 {
		t.Errorf("register.accept calls = %d, want 1", n)
	}
}

func TestOpenCRVSClientUserAssignedConflict(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, true, 5*time.Second)
	eventID, actionID, _, _ := e.record(t, "birth", sandboxcrvs.ActionRegister)
	if err := e.sb.CRVS.Assign(eventID, "6810f2b9a1e4d7c3b2a19f02"); err != nil {
		t.Fatal(err)
	}
	cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, TransactionID: crvsTxn(), RegistrationNumber: "EE008OLG4317"}
	_, err := c.Accept(context.Background(), cf)
	var oe *opencrvs.Error
	if !opencrvs.IsRetryable(err) || !asCRVSError(err, &oe) || oe.Code != "CONFLICT" || oe.Status != 409 {
		t.Fatalf("Accept on an assigned record = %v, want retryable 409 CONFLICT", err)
	}
	if err := e.sb.CRVS.Unassign(eventID); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Accept(context.Background(), cf); err != nil || out != opencrvs.Accepted {
		t.Errorf("Accept after unassign = %v, %v; want Accepted", out, err)
	}
}

func TestOpenCRVSClientCredentialsMode(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)
	c := e.client(t, true, 5*time.Second)
	for _, tc := range []struct{ eventType, action string }{
		{"birth", sandboxcrvs.ActionRegister}, {"death", sandboxcrvs.ActionRegister}, {"birth", sandboxcrvs.ActionApproveCorrection},
	} {
		eventID, actionID, _, _ := e.record(t, tc.eventType, tc.action)
		cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, TransactionID: crvsTxn(), RegistrationNumber: "EE008OLG4317"}
		if tc.eventType == "birth" {
			cf.NationalID = "8031687218"
		}
		if out, err := c.Accept(context.Background(), cf); err != nil || out != opencrvs.Accepted {
			t.Fatalf("%s %s: Accept() = %v, %v; want Accepted", tc.eventType, tc.action, out, err)
		}
		if conf := e.confirmation(t, eventID, actionID); conf.CreatedBy != e.sb.Config.OpenCRVSClientID || conf.CreatedByUserType != "system" {
			t.Errorf("confirmation by %s (%s), want the integration's system client", conf.CreatedBy, conf.CreatedByUserType)
		}
	}
	tokens := e.sb.CRVS.TokenCalls()
	if len(tokens) != 1 || tokens[0].GrantType != "client_credentials" || tokens[0].Status != 200 {
		t.Errorf("token calls = %+v, want one client_credentials grant for three confirmations", tokens)
	}

	// A redeploy with new keys: the cached token is refused once, a new one is fetched.
	if err := e.sb.CRVS.Auth().Rotate(); err != nil {
		t.Fatal(err)
	}
	eventID, actionID, _, _ := e.record(t, "death", sandboxcrvs.ActionRegister)
	if out, err := c.Accept(context.Background(), opencrvs.Confirmation{EventID: eventID, ActionID: actionID,
		TransactionID: crvsTxn(), RegistrationNumber: "DD1"}); err != nil || out != opencrvs.Accepted {
		t.Fatalf("Accept after key rotation = %v, %v; want Accepted with a new token", out, err)
	}
	if n := len(e.sb.CRVS.TokenCalls()); n != 2 {
		t.Errorf("token calls = %d, want 2 after one 401", n)
	}
}

func TestOpenCRVSClientFailures(t *testing.T) {
	t.Parallel()
	e := newCRVSClientEnv(t)

	// A record token that expired (7 days later, or a redeploy) is permanent.
	eventID, actionID, _, _ := e.record(t, "birth", sandboxcrvs.ActionRegister)
	expired, err := e.sb.CRVS.Auth().RecordToken(sandboxcrvs.RecordTokenOptions{EventID: eventID, ActionID: actionID,
		IssuedAt: time.Now().Add(-8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t, false, 5*time.Second)
	cf := opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: expired, TransactionID: crvsTxn(), RegistrationNumber: "R1"}
	var oe *opencrvs.Error
	if _, err := c.Accept(context.Background(), cf); opencrvs.IsRetryable(err) || !asCRVSError(err, &oe) || oe.Status != 401 {
		t.Errorf("Accept with an expired token = %v, want permanent 401", err)
	}

	// A token for another record is refused (403), permanently.
	_, _, _, other := e.record(t, "birth", sandboxcrvs.ActionRegister)
	cf.RecordToken = other
	if _, err := c.Accept(context.Background(), cf); opencrvs.IsRetryable(err) || !asCRVSError(err, &oe) || oe.Status != 403 {
		t.Errorf("Accept with another record's token = %v, want permanent 403", err)
	}

	// The gateway's ingress failing is retryable; the retry then succeeds.
	eventID, actionID, _, tok := e.record(t, "birth", sandboxcrvs.ActionRegister)
	cf = opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok, TransactionID: crvsTxn(), RegistrationNumber: "R2"}
	for _, status := range []int{503, 500} {
		e.sb.CRVS.FailNext(1, status)
		if _, err := c.Accept(context.Background(), cf); !opencrvs.IsRetryable(err) {
			t.Errorf("Accept with a %d = %v, want retryable", status, err)
		}
	}
	if out, err := c.Accept(context.Background(), cf); err != nil || out != opencrvs.Accepted {
		t.Errorf("retry = %v, %v; want Accepted", out, err)
	}

	// A slow OpenCRVS times out, retryably.
	eventID, actionID, _, tok = e.record(t, "death", sandboxcrvs.ActionRegister)
	e.sb.CRVS.SetLatency(time.Second)
	defer e.sb.CRVS.SetLatency(0)
	fast := e.client(t, false, 100*time.Millisecond)
	if _, err := fast.Accept(context.Background(), opencrvs.Confirmation{EventID: eventID, ActionID: actionID, RecordToken: tok,
		TransactionID: crvsTxn(), RegistrationNumber: "R3"}); !opencrvs.IsRetryable(err) || !asCRVSError(err, &oe) || oe.Code != opencrvs.CodeTimeout {
		t.Errorf("Accept against a slow OpenCRVS = %v, want a retryable timeout", err)
	}
}

func asCRVSError(err error, target **opencrvs.Error) bool { return errors.As(err, target) }
