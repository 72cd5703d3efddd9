package opencrvs

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// RSA key generation dominates test time, so most tests share two keys; the
// tests that rotate keys make their own.
var (
	crvsSharedAuth  = sync.OnceValue(func() *Auth { return crvsMustAuth() })
	crvsForeignAuth = sync.OnceValue(func() *Auth { return crvsMustAuth() })
)

func crvsMustAuth() *Auth {
	a, err := NewAuth()
	if err != nil {
		panic(err)
	}
	return a
}

// crvsEnv is an emulator behind a real HTTP server.
type crvsEnv struct {
	t    *testing.T
	url  string
	crvs *CRVS
	auth *Auth
}

func newCRVSEnv(t *testing.T, o CRVSOptions) *crvsEnv {
	t.Helper()
	if o.Auth == nil {
		o.Auth = crvsSharedAuth()
	}
	c, err := NewCRVS(o)
	if err != nil {
		t.Fatalf("NewCRVS: %v", err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &crvsEnv{t: t, url: srv.URL, crvs: c, auth: o.Auth}
}

// do sends one request and returns status, headers and body.
func (e *crvsEnv) do(method, path string, header map[string]string, body string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func crvsAuthHeader(token string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return h
}

// mutate calls a mutation in the non-batched form the OpenCRVS docs show.
func (e *crvsEnv) mutate(proc, token string, input any) (int, map[string]any) {
	e.t.Helper()
	status, _, body := e.do("POST", "/events/"+proc, crvsAuthHeader(token), crvsJSON(e.t, map[string]any{"json": input}))
	return status, crvsObject(e.t, body)
}

// mutateBatch calls a mutation the way the TS client (httpBatchLink) does.
func (e *crvsEnv) mutateBatch(proc, token string, input any) (int, map[string]any) {
	e.t.Helper()
	status, _, body := e.do("POST", "/events/"+proc+"?batch=1", crvsAuthHeader(token),
		crvsJSON(e.t, map[string]any{"0": map[string]any{"json": input}}))
	var arr []map[string]any
	if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 1 {
		e.t.Fatalf("batched response is not a one-element array: %s", body)
	}
	return status, arr[0]
}

// query calls a query with ?input=.
func (e *crvsEnv) query(proc, token string, input any) (int, map[string]any) {
	e.t.Helper()
	q := url.Values{"input": {crvsJSON(e.t, map[string]any{"json": input})}}
	status, _, body := e.do("GET", "/events/"+proc+"?"+q.Encode(), crvsAuthHeader(token), "")
	return status, crvsObject(e.t, body)
}

// pendingRegistration creates a birth (or death) event with a Requested
// REGISTER, as core does when the country config answers 202.
func (e *crvsEnv) pendingRegistration(eventType string) (eventID, actionID string) {
	e.t.Helper()
	eventID = e.crvs.CreateEvent(eventType, map[string]any{"child.name": map[string]any{"firstname": "Infant", "surname": "Doe"}})
	actionID, requestID, err := e.crvs.RequestAction(eventID, ActionRegister)
	if err != nil || requestID != "" {
		e.t.Fatalf("RequestAction: %q %v", requestID, err)
	}
	return eventID, actionID
}

func (e *crvsEnv) recordToken(eventID, actionID, generation string) string {
	e.t.Helper()
	tok, err := e.auth.RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID, Generation: generation})
	if err != nil {
		e.t.Fatalf("RecordToken: %v", err)
	}
	return tok
}

func crvsAcceptInput(eventID, actionID string) map[string]any {
	return map[string]any{"transactionId": "mosip-interop-3b0f6c2e-6a35-4d0a-9a3a-6c7c1c3e1d55",
		"eventId": eventID, "actionId": actionID, "registrationNumber": "EE008OLG4317",
		"declaration": map[string]any{"child.nid": "8031687218"}}
}

func crvsJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func crvsObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, body)
	}
	return m
}

// crvsResultEvent digs the EventDocument out of {"result":{"data":{"json":…}}}.
func crvsResultEvent(t *testing.T, resp map[string]any) EventDocument {
	t.Helper()
	result, ok := resp["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result in %v", resp)
	}
	data, _ := result["data"].(map[string]any)
	raw, err := json.Marshal(data["json"])
	if err != nil {
		t.Fatal(err)
	}
	var ev EventDocument
	if err := json.Unmarshal(raw, &ev); err != nil || ev.ID == "" {
		t.Fatalf("result.data.json is not an EventDocument: %s", raw)
	}
	return ev
}

// crvsTRPCError is the decoded tRPC v11 + superjson error envelope.
type crvsTRPCError struct {
	Message    string
	Code       int
	DataCode   string
	HTTPStatus int
	Path       string
	HasStack   bool
}

func crvsErrorOf(t *testing.T, resp map[string]any) crvsTRPCError {
	t.Helper()
	errObj, ok := resp["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error in %v", resp)
	}
	j, ok := errObj["json"].(map[string]any)
	if !ok {
		t.Fatalf("error is not superjson-wrapped: %v", errObj)
	}
	data, _ := j["data"].(map[string]any)
	code, _ := j["code"].(float64)
	status, _ := data["httpStatus"].(float64)
	msg, _ := j["message"].(string)
	dc, _ := data["code"].(string)
	path, _ := data["path"].(string)
	_, stack := data["stack"]
	return crvsTRPCError{Message: msg, Code: int(code), DataCode: dc, HTTPStatus: int(status), Path: path, HasStack: stack}
}

// crvsVerifyRS256 checks a JWT against a PEM public key with plain stdlib
// calls and returns its decoded header and payload bytes.
func crvsVerifyRS256(t *testing.T, pemBytes []byte, token string) (header, payload []byte, ok bool) {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("not a PEM public key: %q", pemBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKIXPublicKey: %v", err)
	}
	rsaPub, isRSA := pub.(*rsa.PublicKey)
	if !isRSA {
		t.Fatalf("public key is %T, want RSA", pub)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	dec := base64.RawURLEncoding
	header, err1 := dec.DecodeString(parts[0])
	payload, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("token is not base64url: %v %v %v", err1, err2, err3)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return header, payload, rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, digest[:], sig) == nil
}

// crvsPEM fetches the public key the way mosip-api does (response.text()).
func (e *crvsEnv) crvsPEM(path string) []byte {
	e.t.Helper()
	status, _, body := e.do("GET", path, nil, "")
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d", path, status)
	}
	return body
}

// crvsClaimsOf decodes a token's payload without verifying it.
func crvsClaimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return crvsObject(t, b)
}

func crvsStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
