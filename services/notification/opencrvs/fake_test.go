package opencrvs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCRVS behaves like OpenCRVS's gateway for the procedures the client
// calls: tRPC v11 envelopes, core's accept/reject semantics, 2.1's CONFLICT
// for assigned records, and the auth service's client_credentials grant.
// The sandbox's emulator is the faithful one (sandbox/e2e runs the client
// against it); this one adds the failure knobs unit tests need.
type fakeCRVS struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	events   map[string]*fakeEvent
	tokens   map[string]bool // valid bearer tokens
	calls    []fakeCall
	inject   map[string][]fakeAnswer // per procedure, consumed first
	latency  time.Duration
	assigned bool
	// system client
	clientID, clientSecret string
	tokenTTL               time.Duration
	tokenIssued            int
	tokenFail              []fakeAnswer
}

type fakeEvent struct {
	ID      string           `json:"id"`
	Type    string           `json:"type"`
	Actions []map[string]any `json:"actions"`
}

type fakeCall struct {
	Procedure, Method, Auth string
	Input                   map[string]any
}

type fakeAnswer struct {
	status int
	body   string
}

func newFakeCRVS(t *testing.T) *fakeCRVS {
	t.Helper()
	f := &fakeCRVS{t: t, events: map[string]*fakeEvent{}, tokens: map[string]bool{}, inject: map[string][]fakeAnswer{},
		clientID: "mosip-integration", clientSecret: "s3cret-system", tokenTTL: 600 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/events/", f.serveTRPC)
	mux.HandleFunc("POST /auth/token", f.serveToken)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCRVS) gatewayURL() *url.URL { u, _ := url.Parse(f.srv.URL); return u }
func (f *fakeCRVS) authURL() *url.URL    { u, _ := url.Parse(f.srv.URL + "/auth"); return u }

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// record creates an event of eventType with a Requested action of
// actionType and returns the event id, the action id, the request id (for
// corrections) and a record token valid for it.
func (f *fakeCRVS) record(eventType, actionType string) (eventID, actionID, requestID, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := &fakeEvent{ID: uuid(), Type: eventType}
	ev.Actions = append(ev.Actions,
		map[string]any{"id": uuid(), "type": "CREATE", "status": "Accepted", "transactionId": uuid()},
		map[string]any{"id": uuid(), "type": "DECLARE", "status": "Accepted", "transactionId": uuid(),
			"declaration": map[string]any{"child.name": map[string]any{"firstname": "Aisha", "surname": "Bello"}}})
	a := map[string]any{"id": uuid(), "type": actionType, "status": "Requested", "transactionId": uuid()}
	if actionType == actionApproveCorrection {
		req := map[string]any{"id": uuid(), "type": "REQUEST_CORRECTION", "status": "Accepted", "transactionId": uuid()}
		ev.Actions = append(ev.Actions, req)
		a["requestId"] = req["id"]
		requestID = req["id"].(string)
	}
	ev.Actions = append(ev.Actions, a)
	f.events[ev.ID] = ev
	token = "record-" + uuid()
	f.tokens[token] = true
	return ev.ID, a["id"].(string), requestID, token
}

// confirmDirectly confirms the action as a registrar would, outside the client.
func (f *fakeCRVS) confirmDirectly(eventID, actionID, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := f.events[eventID]
	ev.Actions = append(ev.Actions, map[string]any{"id": uuid(), "type": "REGISTER", "status": status,
		"transactionId": "registrar-" + uuid(), "originalActionId": actionID})
}

func (f *fakeCRVS) failNext(proc string, answers ...fakeAnswer) {
	f.mu.Lock()
	f.inject[proc] = append(f.inject[proc], answers...)
	f.mu.Unlock()
}

func (f *fakeCRVS) setLatency(d time.Duration) { f.mu.Lock(); f.latency = d; f.mu.Unlock() }
func (f *fakeCRVS) setAssigned(on bool)        { f.mu.Lock(); f.assigned = on; f.mu.Unlock() }
func (f *fakeCRVS) revoke(token string)        { f.mu.Lock(); delete(f.tokens, token); f.mu.Unlock() }
func (f *fakeCRVS) revokeAll()                 { f.mu.Lock(); f.tokens = map[string]bool{}; f.mu.Unlock() }

func (f *fakeCRVS) callsTo(proc string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Procedure == proc {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeCRVS) confirmation(eventID, actionID string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.events[eventID].Actions {
		if a["originalActionId"] == actionID {
			return a, true
		}
	}
	return nil, false
}

func (f *fakeCRVS) tokensIssued() int { f.mu.Lock(); defer f.mu.Unlock(); return f.tokenIssued }

func trpcErr(status int, code, msg string) fakeAnswer {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"json": map[string]any{
		"message": msg, "code": -32000, "data": map[string]any{"code": code, "httpStatus": status, "path": "x"}}}})
	return fakeAnswer{status, string(b)}
}

func (f *fakeCRVS) serveTRPC(w http.ResponseWriter, r *http.Request) {
	proc := strings.TrimPrefix(r.URL.Path, "/events/")
	var raw []byte
	if r.Method == http.MethodGet {
		raw = []byte(r.URL.Query().Get("input"))
	} else {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			f.write(w, trpcErr(415, "UNSUPPORTED_MEDIA_TYPE", "bad content type"))
			return
		}
		raw, _ = io.ReadAll(r.Body)
	}
	var in struct {
		JSON map[string]any `json:"json"`
	}
	_ = json.Unmarshal(raw, &in)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Procedure: proc, Method: r.Method, Auth: r.Header.Get("Authorization"), Input: in.JSON})
	latency := f.latency
	var injected *fakeAnswer
	if q := f.inject[proc]; len(q) > 0 {
		injected, f.inject[proc] = &q[0], q[1:]
	}
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if injected != nil {
		f.write(w, *injected)
		return
	}
	f.write(w, f.handle(proc, r, in.JSON))
}

func (f *fakeCRVS) write(w http.ResponseWriter, a fakeAnswer) {
	if strings.HasPrefix(a.body, "{") || strings.HasPrefix(a.body, "[") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (f *fakeCRVS) handle(proc string, r *http.Request, in map[string]any) fakeAnswer {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok || !f.tokens[tok] {
		return trpcErr(401, "UNAUTHORIZED", "Authentication failed")
	}
	mutation := proc != procGet
	if mutation != (r.Method == http.MethodPost) {
		return trpcErr(405, "METHOD_NOT_SUPPORTED", "wrong method")
	}
	eventID, _ := in["eventId"].(string)
	ev := f.events[eventID]
	if ev == nil {
		return trpcErr(404, "NOT_FOUND", "Event not found with ID: "+eventID)
	}
	if proc == procGet {
		return f.result(ev)
	}
	actionID, _ := in["actionId"].(string)
	txn, _ := in["transactionId"].(string)
	if txn == "" || actionID == "" {
		return trpcErr(400, "BAD_REQUEST", `[{"code":"invalid_type","path":["transactionId"]}]`)
	}
	if f.assigned {
		return trpcErr(409, "CONFLICT", "User is assigned to this event")
	}
	var original, conf map[string]any
	for _, a := range ev.Actions {
		if a["id"] == actionID {
			original = a
		}
		if a["originalActionId"] == actionID {
			conf = a
		}
	}
	accept := strings.HasSuffix(proc, ".accept")
	if original == nil {
		if accept {
			return trpcErr(404, "NOT_FOUND", "Action not found.")
		}
		return trpcErr(500, "INTERNAL_SERVER_ERROR", "Action not found.")
	}
	if conf != nil {
		switch {
		case accept && conf["status"] == statusRejected:
			return trpcErr(400, "BAD_REQUEST", "Action has already been rejected.")
		case !accept && conf["status"] == statusAccepted:
			return trpcErr(500, "INTERNAL_SERVER_ERROR", "Action has already been accepted.")
		}
		return f.result(ev)
	}
	status := statusAccepted
	if !accept {
		status = statusRejected
	}
	a := map[string]any{"id": uuid(), "type": original["type"], "status": status, "transactionId": txn, "originalActionId": actionID}
	if accept {
		if strings.Contains(proc, "correction") {
			if in["requestId"] != original["requestId"] {
				return trpcErr(404, "NOT_FOUND", fmt.Sprintf("Correction request not found with ID: %v", in["requestId"]))
			}
			a["requestId"] = in["requestId"]
		} else {
			a["registrationNumber"] = in["registrationNumber"]
		}
		if d, ok := in["declaration"]; ok {
			a["declaration"] = d
		}
	}
	ev.Actions = append(ev.Actions, a)
	return f.result(ev)
}

func (f *fakeCRVS) result(ev *fakeEvent) fakeAnswer {
	b, err := json.Marshal(map[string]any{"result": map[string]any{"data": map[string]any{"json": ev}}})
	if err != nil {
		f.t.Errorf("marshal event: %v", err)
	}
	return fakeAnswer{200, string(b)}
}

// serveToken is the auth service's client_credentials grant; tokens are
// unsigned JWT-shaped strings with an exp.
func (f *fakeCRVS) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if len(f.tokenFail) > 0 {
		a := f.tokenFail[0]
		f.tokenFail = f.tokenFail[1:]
		f.write(w, a)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		f.write(w, fakeAnswer{400, `{"error":"unsupported_grant_type"}`})
		return
	}
	if r.PostForm.Get("client_id") != f.clientID || r.PostForm.Get("client_secret") != f.clientSecret {
		f.write(w, fakeAnswer{401, `{"error":"invalid_client","error_description":"Invalid client id or secret"}`})
		return
	}
	f.tokenIssued++
	payload, _ := json.Marshal(map[string]any{"sub": f.clientID, "exp": time.Now().Add(f.tokenTTL).Unix(), "n": f.tokenIssued})
	tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
	f.tokens[tok] = true
	b, _ := json.Marshal(map[string]any{"access_token": tok, "token_type": "Bearer"})
	f.write(w, fakeAnswer{200, string(b)})
}
