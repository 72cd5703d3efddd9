package mosip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Shared helpers of the packet manager, registration processor and ID
// schema tests (prefix pmt).

// pmtHub is a fake Publisher that records what is published.
type pmtHub struct {
	mu     sync.Mutex
	events []pmtEvent
}

type pmtEvent struct {
	Topic string
	Body  []byte
}

func (h *pmtHub) Publish(topic string, body []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, pmtEvent{topic, append([]byte(nil), body...)})
	return nil
}

func (h *pmtHub) on(topic string) []pmtEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []pmtEvent
	for _, e := range h.events {
		if e.Topic == topic {
			out = append(out, e)
		}
	}
	return out
}

func (h *pmtHub) all() []pmtEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]pmtEvent(nil), h.events...)
}

// pmtIssuer is a fake CredentialIssuer that records its calls.
type pmtIssuer struct {
	mu    sync.Mutex
	calls []pmtIssue
	err   error
}

type pmtIssue struct {
	Identity Identity
	RID      string
}

func (i *pmtIssuer) IssueCredential(id Identity, rid string) ([]byte, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls = append(i.calls, pmtIssue{id, rid})
	if i.err != nil {
		return nil, i.err
	}
	return json.Marshal(map[string]string{"fake": "credential", "uin": id.UIN, "rid": rid})
}

func (i *pmtIssuer) issued() []pmtIssue {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]pmtIssue(nil), i.calls...)
}

// pmtEnv is an auth manager, packet manager and registration processor on
// one httptest server.
type pmtEnv struct {
	auth   *AuthManager
	pm     *PacketManager
	rp     *RegistrationProcessor
	reg    *Registry
	hub    *pmtHub
	issuer *pmtIssuer
	srv    *httptest.Server
	token  string // a CRVS client: DefaultRoles
}

type pmtConfig struct {
	pm func(*PacketManagerOptions)
	rp func(*RegistrationProcessorOptions)
}

// pmtClients are the Keycloak clients every environment knows.
var pmtClients = []Client{
	{ClientID: "mosip-crvs1-client", Secret: "s1", AppID: "regproc"},
	{ClientID: "resident-only", Secret: "s2", AppID: "regproc", Roles: []string{"RESIDENT"}},
	{ClientID: "orc-only", Secret: "s3", AppID: "regproc", Roles: []string{"ONLINE_REGISTRATION_CLIENT"}},
	{ClientID: "regproc-only", Secret: "s4", AppID: "regproc", Roles: []string{"REGISTRATION_PROCESSOR"}},
	{ClientID: "global-admin", Secret: "s5", AppID: "regproc", Roles: []string{"GLOBAL_ADMIN"}},
	{ClientID: "reg-admin", Secret: "s6", AppID: "regproc", Roles: []string{"REGISTRATION_ADMIN"}},
}

func pmtNewEnv(t testing.TB, cfg pmtConfig) *pmtEnv {
	t.Helper()
	auth, err := NewAuthManager(pmtClients...)
	if err != nil {
		t.Fatal(err)
	}
	e := &pmtEnv{auth: auth, reg: NewRegistry(DefaultIdentities()), hub: &pmtHub{}, issuer: &pmtIssuer{}}
	po := PacketManagerOptions{Auth: auth}
	if cfg.pm != nil {
		cfg.pm(&po)
	}
	if e.pm, err = NewPacketManager(po); err != nil {
		t.Fatal(err)
	}
	ro := RegistrationProcessorOptions{Auth: auth, Packets: e.pm, Registry: e.reg, Hub: e.hub, Issuer: e.issuer,
		CredentialPartners: []string{"opencrvs-partner", "digitalcard-partner"}, ProcessingDelay: 5 * time.Millisecond}
	if cfg.rp != nil {
		cfg.rp(&ro)
	}
	if e.rp, err = NewRegistrationProcessor(ro); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(AuthPath, auth)
	e.pm.Register(mux)
	e.rp.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Close()
		_ = e.rp.Close()
	})
	e.token = pmtToken(t, e, "mosip-crvs1-client")
	return e
}

// pmtToken authenticates over HTTP like a MOSIP client and returns the
// Authorization cookie value.
func pmtToken(t testing.TB, e *pmtEnv, clientID string) string {
	t.Helper()
	var secret string
	for _, c := range pmtClients {
		if c.ClientID == clientID {
			secret = c.Secret
		}
	}
	body := fmt.Sprintf(`{"id":"string","version":"string","requesttime":%q,"metadata":{},"request":{"clientId":%q,"secretKey":%q,"appId":"regproc"}}`,
		pmtNow(), clientID, secret)
	resp, err := http.Post(e.srv.URL+AuthPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "Authorization" {
			return c.Value
		}
	}
	t.Fatalf("auth manager set no Authorization cookie for %s (status %d)", clientID, resp.StatusCode)
	return ""
}

// pmtExpiredToken signs, with the auth manager's own key, a token that
// expired a minute ago.
func pmtExpiredToken(t *testing.T, e *pmtEnv) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": e.auth.Issuer, "azp": "mosip-crvs1-client", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix(),
		"realm_access": map[string]any{"roles": DefaultRoles},
	}).SignedString(e.auth.key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pmtNow() string { return time.Now().UTC().Add(-time.Second).Format("2006-01-02T15:04:05.000Z") }

// pmtRID makes a 29-digit MOSIP RID: centre 10001, machine 10004, a
// sequence and yyyyMMddHHmmss.
func pmtRID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100000))
	return fmt.Sprintf("1000110004%05d%s", n.Int64(), time.Now().UTC().Format("20060102150405"))
}

func pmtSimple(v string) string {
	b, _ := json.Marshal([]map[string]string{{"language": "eng", "value": v}})
	return string(b)
}

// pmtBirthFields are the fields of a valid CRVS_NEW packet (§2.1a).
func pmtBirthFields(name string) map[string]any {
	return map[string]any{
		"fullName":               pmtSimple(name),
		"dateOfBirth":            "2025/01/31",
		"gender":                 pmtSimple("Female"),
		"addressLine1":           pmtSimple("Plot 12"),
		"birthCertificateNumber": "2025ABCD1234",
		"selectedHandles":        `["birthCertificateNumber"]`,
		"introducerInfoToken":    pmtSimple("informant-psut"),
	}
}

// pmtPacket is a createPacket body; mutate its request map for variants.
func pmtPacket(rid, source, process string, fields map[string]any) map[string]any {
	return map[string]any{
		"id": "string", "version": "string", "requesttime": pmtNow(),
		"request": map[string]any{
			"id": rid, "refId": "10001_10004", "offlineMode": false, "additionalInfoReqId": nil,
			"process": process, "source": source, "schemaVersion": "0.100",
			"schemaJson": string(DefaultIDSchema()),
			"fields":     fields,
			"metaInfo": map[string]any{
				"metaData":                  `[{"label":"registrationType","value":"NEW"},{"label":"centerId","value":"10001"},{"label":"machineId","value":"10004"}]`,
				"operationsData":            "[]",
				"capturedRegisteredDevices": "[]",
			},
			"audits": []map[string]any{{"uuid": "0b1f7f0c-7c9e-4c7e-9a43-3a1c2a1a0a01", "createdAt": pmtNow(),
				"eventId": "CRVS_CREATE_PACKET", "eventName": "packet created", "eventType": "CRVS",
				"applicationId": "CRVS", "applicationName": "OpenCRVS", "id": rid, "idType": "REGISTRATION_ID"}},
		},
	}
}

func pmtReq(body map[string]any) map[string]any { return body["request"].(map[string]any) }

// pmtResult is a decoded answer.
type pmtResult struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// pmtDo sends body (a JSON-encodable value, or []byte sent as is) with the
// token in the Authorization cookie when token is not empty.
func pmtDo(t *testing.T, e *pmtEnv, method, path string, body any, token string, hdr ...string) pmtResult {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	case nil:
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "Authorization", Value: token})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := pmtResult{Status: resp.StatusCode, Header: resp.Header}
	if out.Raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(out.Raw)) > 0 {
		if err := json.Unmarshal(out.Raw, &out.Body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, out.Raw)
		}
	}
	return out
}

func (e *pmtEnv) create(t *testing.T, body map[string]any) pmtResult {
	t.Helper()
	return pmtDo(t, e, http.MethodPut, CreatePacketPath, body, e.token)
}

// pmtWorkflow is a workflowinstance body.
func pmtWorkflow(rid, source, process string) map[string]any {
	return map[string]any{
		"id": WorkflowInstanceAPIID, "version": "v1", "requesttime": pmtNow(),
		"request": map[string]any{"registrationId": rid, "process": process, "source": source, "additionalInfoReqId": "",
			"notificationInfo": map[string]any{"name": "crvs_user", "phone": "+1234567890", "email": "crvs_user@example.com"}},
	}
}

func (e *pmtEnv) workflow(t *testing.T, body map[string]any) pmtResult {
	t.Helper()
	return pmtDo(t, e, http.MethodPost, WorkflowInstancePath, body, e.token)
}

// submit creates the packet (which must succeed) and starts its workflow.
func (e *pmtEnv) submit(t *testing.T, rid, source, process string, fields map[string]any) {
	t.Helper()
	res := e.create(t, pmtPacket(rid, source, process, fields))
	if res.Status != 200 || res.Body["response"] == nil {
		t.Fatalf("createPacket %s %s: status %d body %s (calls %+v)", source, process, res.Status, res.Raw, e.pm.Calls())
	}
	wf := e.workflow(t, pmtWorkflow(rid, source, process))
	if wf.Body["response"] == nil {
		t.Fatalf("workflowinstance: %s", wf.Raw)
	}
}

func (e *pmtEnv) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.rp.WaitIdle(ctx); err != nil {
		t.Fatalf("registration processor not idle: %v (instances %+v)", err, e.rp.Instances())
	}
}

// pmtErrorCodes lists errors[].errorCode of an envelope (nil when errors
// is null or absent).
func pmtErrorCodes(body map[string]any) []string {
	list, _ := body["errors"].([]any)
	var out []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		s, _ := m["errorCode"].(string)
		out = append(out, s)
	}
	return out
}

func pmtErrorMessage(body map[string]any) string {
	list, _ := body["errors"].([]any)
	if len(list) == 0 {
		return ""
	}
	m, _ := list[0].(map[string]any)
	s, _ := m["message"].(string)
	return s
}

// pmtCompleted decodes the WORKFLOW_COMPLETED events published for rid.
func (e *pmtEnv) completed(t *testing.T, rid string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range e.hub.on(TopicWorkflowCompleted) {
		var m map[string]any
		if err := json.Unmarshal(ev.Body, &m); err != nil {
			t.Fatalf("workflow completed event is not JSON: %s", ev.Body)
		}
		if m["instanceId"] == rid {
			out = append(out, m)
		}
	}
	return out
}

var errPmtIssuer = errors.New("credential service unavailable")
