package mosipclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/mosip"
)

// fakeTokens hands out tok-1, then tok-2 after one invalidation, and so on.
type fakeTokens struct {
	mu          sync.Mutex
	generation  int
	invalidated []string
	tokenErr    error
	invErr      error
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenErr != nil {
		return "", f.tokenErr
	}
	return fmt.Sprintf("tok-%d", f.generation+1), nil
}

func (f *fakeTokens) Invalidate(_ context.Context, tok string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.invErr != nil {
		return f.invErr
	}
	f.invalidated = append(f.invalidated, tok)
	f.generation++
	return nil
}

func (f *fakeTokens) Invalidated() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.invalidated...)
}

// seen is one request the fake MOSIP received.
type seen struct {
	Method, Path, Cookie, Authorization, ContentType string
	Body                                             []byte
}

// answer is what the fake MOSIP replies to one request.
type answer struct {
	status int
	body   string
	delay  time.Duration
}

// fakeMOSIP answers requests in order from answers (the last repeats).
type fakeMOSIP struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	got     []seen
}

func newFakeMOSIP(t *testing.T, answers ...answer) *fakeMOSIP {
	t.Helper()
	f := &fakeMOSIP{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, seen{r.Method, r.URL.Path, r.Header.Get("Cookie"), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		a := f.answers[min(len(f.got), len(f.answers))-1]
		f.mu.Unlock()
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMOSIP) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

// MOSIP's answers, as its services write them.
const (
	packetOK = `{"id":"mosip.registration.packet.writer","version":"v1","responsetime":"2025-01-10T06:11:45.012Z","metadata":null,
	  "response":[{"id":"RID","packetName":"RID_id","source":"CRVS1","process":"CRVS_NEW","refId":"10001_10004","schemaVersion":"0.1",
	  "signature":"c2ln","encryptedHash":"aGFzaA","providerName":"PacketWriterImpl","providerVersion":"v1.0","creationDate":"2025-01-10T06:11:45.012Z"},
	  {"id":"RID","packetName":"RID_evidence"},{"id":"RID","packetName":"RID_optional"}],"errors":[]}`
	packetNull   = `{"id":"mosip.registration.packet.writer","version":"v1","responsetime":"2025-01-10T06:11:45.012Z","metadata":null,"response":null,"errors":[]}`
	packetEmpty  = `{"id":"mosip.registration.packet.writer","version":"v1","response":[],"errors":[]}`
	packetObject = `{"id":"mosip.registration.packet.writer","version":"v1","response":{"id":"RID"},"errors":[]}`
	noProvider   = `{"id":null,"version":null,"responsetime":"2025-01-10T06:11:45.012Z","metadata":null,"response":null,
	  "errors":[{"errorCode":"KER-PUT-006","message":"No available provider for given source and process"}]}`
	authFailed  = `{"id":null,"version":null,"responsetime":"2025-01-10T06:11:45.012Z","metadata":null,"response":null,"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`
	expired200  = `{"id":null,"version":null,"response":null,"errors":[{"errorCode":"KER-ATH-402","message":"Token expired"}]}`
	forbidden   = `{"id":null,"version":null,"response":null,"errors":[{"errorCode":"KER-ATH-403","message":"Forbidden"}]}`
	springError = `{"timestamp":"2025-01-10T06:11:45.012+00:00","status":500,"error":"Internal Server Error","path":"/commons/v1/packetmanager/createPacket"}`
	workflowOK  = `{"id":"mosip.registration.processor.workflow.instance","version":"v1","responsetime":"2025-01-10T06:11:45.012Z",
	  "response":{"workflowInstanceId":"95d09502-a548-413f-9c01-f15a7c8b08af"},"errors":null}`
	workflowDup = `{"id":"mosip.registration.processor.workflow.instance","version":"v1","responsetime":"2025-01-10T06:11:45.012Z",
	  "response":null,"errors":[{"errorCode":"RPR-WIS-001","message":"WorkflowInstance already present"}]}`
	workflowBadID = `{"id":"mosip.registration.processor.workflow.instance","version":"v1","response":null,
	  "errors":[{"errorCode":"RPR-WIN-001","message":"Invalid Request Value - id"}]}`
)

// personal values used in the requests, which must never show in errors.
const (
	personName  = "Zelda Quixote Nakamura"
	personPhone = "+260977123456"
)

func testPacket(t *testing.T) mosip.Request[CreatePacketBody] {
	t.Helper()
	req, err := testBuilder().CreatePacket(PacketInput{
		RID: "10001100040004220250110061144", Process: "CRVS_NEW", RegistrationType: RegistrationNew,
		SchemaJSON: `{"properties":{"identity":{"properties":{}}}}`,
		Fields: map[string]string{
			"fullName":               `[{"language":"eng","value":"` + personName + `"}]`,
			"birthCertificateNumber": "EE008OLG4317",
		},
		MetaLabels: map[string]string{"informantPsut": "psut-secret-token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func testWorkflow(t *testing.T) mosip.Request[WorkflowBody] {
	t.Helper()
	req, err := testBuilder().WorkflowInstance(WorkflowInput{RID: "10001100040004220250110061144", Process: "CRVS_NEW",
		Notification: Notification{Name: personName, Phone: personPhone, Email: "zelda@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func newClient(f *fakeMOSIP, tokens TokenSource) *Client {
	return &Client{BaseURL: f.URL + "/", HTTP: NewHTTPClient(5*time.Second, nil), Tokens: tokens}
}

func TestCreatePacketWire(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t, answer{200, packetOK, 0})
	tokens := &fakeTokens{}
	req := testPacket(t)
	infos, err := newClient(f, tokens).CreatePacket(context.Background(), req)
	if err != nil {
		t.Fatalf("CreatePacket() = %v", err)
	}
	if len(infos) != 3 || infos[0].PacketName != "RID_id" || infos[0].ProviderName != "PacketWriterImpl" {
		t.Errorf("CreatePacket() infos = %+v", infos)
	}
	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("MOSIP saw %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPut || r.Path != CreatePacketPath || r.ContentType != "application/json" {
		t.Errorf("request = %s %s (%s), want PUT %s (application/json)", r.Method, r.Path, r.ContentType, CreatePacketPath)
	}
	if r.Cookie != "Authorization=tok-1" {
		t.Errorf("Cookie = %q, want exactly %q", r.Cookie, "Authorization=tok-1")
	}
	if r.Authorization != "" {
		t.Errorf("Authorization header = %q, want none (MOSIP reads the cookie only; no Bearer)", r.Authorization)
	}
	want, _ := encode(req)
	if string(r.Body) != string(want) {
		t.Errorf("body differs from the built request:\n got %s\nwant %s", r.Body, want)
	}
	if len(tokens.Invalidated()) != 0 {
		t.Errorf("invalidated %q on success", tokens.Invalidated())
	}
}

func TestCreatePacketFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		answers     []answer
		wantCalls   int
		wantInvalid []string
		temporary   bool
		refused     bool   // errors.Is(err, ErrPacketRefused)
		code        string // MOSIP code carried by the *mosip.Error
		status      int
		contains    string
	}{
		{name: "200 with errors[]", answers: []answer{{200, noProvider, 0}}, wantCalls: 1,
			code: "KER-PUT-006", status: 200, contains: "KER-PUT-006 No available provider for given source and process"},
		{name: "200 with response null", answers: []answer{{200, packetNull, 0}}, wantCalls: 1, refused: true, status: 200,
			contains: "mosipclient: createPacket: MOSIP packet manager refused the packet (response null)"},
		{name: "200 with an empty list", answers: []answer{{200, packetEmpty, 0}}, wantCalls: 1, refused: true, status: 200},
		{name: "200 with an object", answers: []answer{{200, packetObject, 0}}, wantCalls: 1, status: 200, contains: "not a list of packet infos"},
		{name: "200 not JSON", answers: []answer{{200, "<html>proxy</html>", 0}}, wantCalls: 1, status: 200, contains: "malformed response"},
		{name: "401 twice", answers: []answer{{401, authFailed, 0}}, wantCalls: 2, wantInvalid: []string{"tok-1"},
			code: "KER-ATH-401", status: 401},
		{name: "KER-ATH-402 in a 200 twice", answers: []answer{{200, expired200, 0}}, wantCalls: 2, wantInvalid: []string{"tok-1"},
			code: "KER-ATH-402", status: 200},
		{name: "403 is not retried", answers: []answer{{403, forbidden, 0}}, wantCalls: 1, code: "KER-ATH-403", status: 403},
		{name: "400 is permanent", answers: []answer{{400, `{"status":400}`, 0}}, wantCalls: 1, status: 400},
		{name: "500 is temporary", answers: []answer{{500, springError, 0}}, wantCalls: 1, temporary: true, status: 500},
		{name: "503 is temporary", answers: []answer{{503, "", 0}}, wantCalls: 1, temporary: true, status: 503},
		{name: "429 is temporary", answers: []answer{{429, "", 0}}, wantCalls: 1, temporary: true, status: 429},
		{name: "redirect is not followed", answers: []answer{{302, "", 0}}, wantCalls: 1, status: 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMOSIP(t, tt.answers...)
			tokens := &fakeTokens{}
			_, err := newClient(f, tokens).CreatePacket(context.Background(), testPacket(t))
			if err == nil {
				t.Fatal("CreatePacket() = nil error")
			}
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("MOSIP saw %d requests, want %d", n, tt.wantCalls)
			}
			if got := tokens.Invalidated(); strings.Join(got, ",") != strings.Join(tt.wantInvalid, ",") {
				t.Errorf("invalidated %q, want %q", got, tt.wantInvalid)
			}
			if got := IsTemporary(err); got != tt.temporary {
				t.Errorf("IsTemporary(%v) = %v, want %v", err, got, tt.temporary)
			}
			if got := errors.Is(err, ErrPacketRefused); got != tt.refused {
				t.Errorf("errors.Is(%v, ErrPacketRefused) = %v, want %v", err, got, tt.refused)
			}
			var me *mosip.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v does not carry a *mosip.Error", err)
			}
			if me.Code != tt.code || me.Status != tt.status {
				t.Errorf("mosip.Error code %q status %d, want %q %d", me.Code, me.Status, tt.code, tt.status)
			}
			if tt.contains != "" && !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestCreatePacketRenewsTokenOnce(t *testing.T) {
	t.Parallel()
	for _, first := range []answer{{401, authFailed, 0}, {401, "", 0}, {200, expired200, 0}, {200, authFailed, 0}} {
		f := newFakeMOSIP(t, first, answer{200, packetOK, 0})
		tokens := &fakeTokens{}
		if _, err := newClient(f, tokens).CreatePacket(context.Background(), testPacket(t)); err != nil {
			t.Fatalf("first answer %d %s: CreatePacket() = %v", first.status, first.body, err)
		}
		got := f.requests()
		if len(got) != 2 || got[0].Cookie != "Authorization=tok-1" || got[1].Cookie != "Authorization=tok-2" {
			t.Errorf("first answer %d: requests = %+v, want tok-1 then tok-2", first.status, got)
		}
		if string(got[0].Body) != string(got[1].Body) {
			t.Errorf("the retry sent a different body")
		}
		if inv := tokens.Invalidated(); len(inv) != 1 || inv[0] != "tok-1" {
			t.Errorf("invalidated %q, want exactly [tok-1]", inv)
		}
	}
}

func TestCreatePacketTimeouts(t *testing.T) {
	t.Parallel()
	slow := answer{200, packetOK, 2 * time.Second}
	t.Run("client timeout", func(t *testing.T) {
		t.Parallel()
		f := newFakeMOSIP(t, slow)
		c := newClient(f, &fakeTokens{})
		c.HTTP = NewHTTPClient(50*time.Millisecond, nil)
		_, err := c.CreatePacket(context.Background(), testPacket(t))
		if err == nil || !IsTemporary(err) {
			t.Errorf("CreatePacket() = %v, want a temporary error", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		t.Parallel()
		f := newFakeMOSIP(t, slow)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newClient(f, &fakeTokens{}).CreatePacket(ctx, testPacket(t))
		if err == nil || !IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("CreatePacket() = %v, want a temporary deadline error", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		f := newFakeMOSIP(t, answer{200, packetOK, 0})
		c := newClient(f, &fakeTokens{})
		f.Close()
		_, err := c.CreatePacket(context.Background(), testPacket(t))
		var me *mosip.Error
		if err == nil || !IsTemporary(err) || !errors.As(err, &me) || me.Kind != mosip.KindTransport {
			t.Errorf("CreatePacket() = %v, want a temporary transport error", err)
		}
	})
}

func TestTokenSourceFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tokens    *fakeTokens
		answers   []answer
		calls     int
		temporary bool
		contains  string
	}{
		{"auth-token unavailable", &fakeTokens{tokenErr: status.Error(codes.Unavailable, "connection refused")}, []answer{{200, packetOK, 0}}, 0, true, "MOSIP token (get)"},
		{"credentials refused", &fakeTokens{tokenErr: status.Error(codes.FailedPrecondition, "KER-ATH-401")}, []answer{{200, packetOK, 0}}, 0, false, "MOSIP token (get)"},
		{"client not configured", &fakeTokens{tokenErr: status.Error(codes.NotFound, "no client packet")}, []answer{{200, packetOK, 0}}, 0, false, "no client packet"},
		{"invalidate fails", &fakeTokens{invErr: status.Error(codes.Unavailable, "down")}, []answer{{401, authFailed, 0}}, 1, true,
			"MOSIP rejected the token (mosip: HTTP 401: KER-ATH-401 Authentication Failed) and MOSIP token (invalidate)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMOSIP(t, tt.answers...)
			_, err := newClient(f, tt.tokens).CreatePacket(context.Background(), testPacket(t))
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("CreatePacket() = %v, want a *TokenError", err)
			}
			if IsTemporary(err) != tt.temporary {
				t.Errorf("IsTemporary(%v) = %v, want %v", err, !tt.temporary, tt.temporary)
			}
			if n := len(f.requests()); n != tt.calls {
				t.Errorf("MOSIP saw %d requests, want %d", n, tt.calls)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestErrorsNeverCarryTokensOrValues(t *testing.T) {
	t.Parallel()
	// A MOSIP that echoes what it was sent in its error message.
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, _ := json.Marshal(r.Header.Get("Cookie") + " " + string(body))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"response":null,"errors":[{"errorCode":"KER-KPM-007","message":%s}]}`, msg)
	}
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, HTTP: NewHTTPClient(5*time.Second, nil), Tokens: &fakeTokens{}}
	_, err1 := c.CreatePacket(context.Background(), testPacket(t))
	_, err2 := c.StartWorkflow(context.Background(), testWorkflow(t))
	for _, err := range []error{err1, err2} {
		if err == nil {
			t.Fatal("want an error")
		}
		text := err.Error()
		for _, secret := range []string{"tok-1", personName, "Zelda", personPhone, "EE008OLG4317", "psut-secret-token", "zelda@example.com"} {
			if strings.Contains(text, secret) {
				t.Errorf("error text contains %q: %s", secret, clip(text))
			}
		}
		if !strings.Contains(text, "KER-KPM-007") {
			t.Errorf("error text lost MOSIP's code: %s", clip(text))
		}
	}
}

func TestStartWorkflow(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t, answer{401, authFailed, 0}, answer{200, workflowOK, 0})
	tokens := &fakeTokens{}
	id, err := newClient(f, tokens).StartWorkflow(context.Background(), testWorkflow(t))
	if err != nil || id != "95d09502-a548-413f-9c01-f15a7c8b08af" {
		t.Fatalf("StartWorkflow() = %q, %v", id, err)
	}
	got := f.requests()
	if len(got) != 2 || got[1].Method != http.MethodPost || got[1].Path != WorkflowInstancePath || got[1].Cookie != "Authorization=tok-2" {
		t.Errorf("requests = %+v", got)
	}
	var body struct {
		ID, Version string
		Request     WorkflowBody
	}
	if err := json.Unmarshal(got[1].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != WorkflowInstanceID || body.Version != WorkflowInstanceVersion || body.Request.Source != "CRVS1" || body.Request.RegistrationID != "10001100040004220250110061144" {
		t.Errorf("workflow body = %+v", body)
	}
	if inv := tokens.Invalidated(); len(inv) != 1 {
		t.Errorf("invalidated %q, want one", inv)
	}
}

func TestStartWorkflowFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ans       answer
		already   bool
		temporary bool
		code      string
	}{
		{"RPR-WIS-001 is already submitted", answer{200, workflowDup, 0}, true, false, "RPR-WIS-001"},
		{"RPR-WIN-001 is permanent", answer{200, workflowBadID, 0}, false, false, "RPR-WIN-001"},
		{"null response", answer{200, `{"response":null,"errors":null}`, 0}, false, false, ""},
		{"502 is temporary", answer{502, "bad gateway", 0}, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeMOSIP(t, tt.ans)
			_, err := newClient(f, &fakeTokens{}).StartWorkflow(context.Background(), testWorkflow(t))
			if err == nil {
				t.Fatal("StartWorkflow() = nil error")
			}
			if errors.Is(err, ErrAlreadySubmitted) != tt.already {
				t.Errorf("errors.Is(%v, ErrAlreadySubmitted) = %v, want %v", err, !tt.already, tt.already)
			}
			if IsTemporary(err) != tt.temporary {
				t.Errorf("IsTemporary(%v) = %v, want %v", err, !tt.temporary, tt.temporary)
			}
			var me *mosip.Error
			if !errors.As(err, &me) || me.Code != tt.code {
				t.Errorf("error %v: mosip code = %v, want %q", err, me, tt.code)
			}
			if errors.Is(err, ErrPacketRefused) {
				t.Errorf("a workflow error must not be ErrPacketRefused")
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t, answer{200, packetOK, 0})
	c := &Client{CreatePacketURL: f.URL + "/custom/createPacket", Tokens: &fakeTokens{}}
	if _, err := c.CreatePacket(context.Background(), testPacket(t)); err != nil {
		t.Fatalf("CreatePacket() via CreatePacketURL and the default HTTP client = %v", err)
	}
	if got := f.requests(); len(got) != 1 || got[0].Path != "/custom/createPacket" {
		t.Errorf("requests = %+v", got)
	}
	if _, err := (&Client{Tokens: &fakeTokens{}}).StartWorkflow(context.Background(), testWorkflow(t)); err == nil || IsTemporary(err) {
		t.Errorf("StartWorkflow() without a URL = %v, want a permanent configuration error", err)
	}
	if _, err := (&Client{BaseURL: f.URL}).StartWorkflow(context.Background(), testWorkflow(t)); err == nil || IsTemporary(err) {
		t.Errorf("StartWorkflow() without tokens = %v, want a permanent configuration error", err)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := newFakeMOSIP(t, answer{200, packetOK, 0})
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+CreatePacketPath, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c := &Client{BaseURL: redirect.URL, HTTP: NewHTTPClient(5*time.Second, nil), Tokens: &fakeTokens{}}
	_, err := c.CreatePacket(context.Background(), testPacket(t))
	var me *mosip.Error
	if !errors.As(err, &me) || me.Status != http.StatusTemporaryRedirect || IsTemporary(err) {
		t.Errorf("CreatePacket() = %v, want a permanent HTTP 307 error", err)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect target received %d requests (with the token cookie)", n)
	}
}
