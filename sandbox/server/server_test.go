package server_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/mosipcrypto"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

func newSandbox(t *testing.T) (*server.Sandbox, string) {
	t.Helper()
	var cfg server.Config
	err := config.Load(&cfg, config.MapLookuper(map[string]string{
		"SANDBOX_PROCESSING_DELAY": "20ms", "SANDBOX_HUB_RETRY_BACKOFF": "10ms",
	}))
	if err != nil {
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
	return sb, srv.URL
}

// mosipToken authenticates like the bridge's auth-token service does.
func mosipToken(t *testing.T, base, clientID, secret string) string {
	t.Helper()
	body := fmt.Sprintf(`{"id":"mosip.io.clientId.pwd","version":"1.0","requesttime":%q,"metadata":{},"request":{"clientId":%q,"secretKey":%q,"appId":"admin"}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), clientID, secret)
	resp, err := http.Post(base+mosip.AuthPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "Authorization" {
			return c.Value
		}
	}
	b, _ := io.ReadAll(resp.Body)
	t.Fatalf("no token for %s: %d %s", clientID, resp.StatusCode, b)
	return ""
}

func call(t *testing.T, method, u, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Cookie", "Authorization="+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// subscriber is the bridge's WebSub callback, as the notification service will be.
type subscriber struct {
	secret string
	mu     sync.Mutex
	got    []delivery
}

type delivery struct {
	path, signature, topicLink string
	body                       []byte
}

func (s *subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, r.URL.Query().Get("hub.challenge"))
		return
	}
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, delivery{path: r.URL.Path, signature: r.Header.Get("X-Hub-Signature"), topicLink: r.Header.Get("Link"), body: b})
	s.mu.Unlock()
}

func (s *subscriber) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([]delivery(nil), s.got...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d deliveries, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func simple(v string) string {
	b, _ := json.Marshal([]map[string]string{{"language": "eng", "value": v}})
	return string(b)
}

func packet(rid, process string, fields map[string]string) []byte {
	now := time.Now().UTC().Add(-time.Second).Format("2006-01-02T15:04:05.000Z")
	b, _ := json.Marshal(map[string]any{
		"id": "mosip.registration.packet.writer", "version": "v1", "requesttime": now,
		"request": map[string]any{
			"id": rid, "refId": "10001_10004", "offlineMode": false, "process": process, "source": "CRVS1",
			"schemaVersion": "0.100", "schemaJson": string(mosip.DefaultIDSchema()), "fields": fields,
			"metaInfo": map[string]string{"metaData": `[{"label":"registrationType","value":"NEW"}]`},
			"audits":   []map[string]string{{"eventId": "CRVS_CREATE_PACKET", "id": rid, "idType": "REGISTRATION_ID", "createdAt": now}},
		},
	})
	return b
}

func workflow(rid, process string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": "mosip.registration.processor.workflow.instance", "version": "v1",
		"requesttime": time.Now().UTC().Add(-time.Second).Format("2006-01-02T15:04:05.000Z"),
		"request": map[string]any{"registrationId": rid, "process": process, "source": "CRVS1", "additionalInfoReqId": "",
			"notificationInfo": map[string]string{"name": "crvs", "phone": "+1000000000", "email": "crvs@example.org"}},
	})
	return b
}

// decryptCredential follows MOSIP's VER_R2 byte layout with plain stdlib
// calls, independently of the sandbox's own code.
func decryptCredential(t *testing.T, key *rsa.PrivateKey, certDER []byte, enc string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil {
		t.Fatalf("credential is not base64url: %v", err)
	}
	i := bytes.Index(raw, []byte("#KEY_SPLITTER#"))
	if i < 0 || !bytes.HasPrefix(raw, []byte("VER_R2")) {
		t.Fatalf("credential lacks VER_R2 or #KEY_SPLITTER#")
	}
	keyPart, data := raw[6:i], raw[i+len("#KEY_SPLITTER#"):]
	if want := sha256.Sum256(certDER); !bytes.Equal(keyPart[:32], want[:]) {
		t.Errorf("thumbprint is not SHA-256 of the partner certificate")
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, key, keyPart[32:], nil)
	if err != nil {
		t.Fatalf("RSA-OAEP: %v", err)
	}
	block, _ := aes.NewCipher(aesKey)
	gcm, _ := cipher.NewGCM(block)
	aad := data[:32]
	plain, err := gcm.Open(nil, aad[:12], data[32:], aad)
	if err != nil {
		t.Fatalf("AES-GCM: %v", err)
	}
	return plain
}

// A birth and a death travel through the assembled sandbox exactly as the
// bridge will drive them: auth, packet, workflow, WebSub deliveries signed
// with the subscription secret, and the credential decryptable with the
// partner key the sandbox hands the bridge.
func TestBirthAndDeathThroughTheSandbox(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t)
	cfg := sb.Config
	packetTok := mosipToken(t, base, cfg.PacketClientID, cfg.PacketClientSecret.Value())
	websubTok := mosipToken(t, base, cfg.PartnerID, cfg.WebSubClientSecret.Value())

	sub := &subscriber{secret: "callback-secret"}
	cb := httptest.NewServer(sub)
	defer cb.Close()
	for _, topic := range []string{mosip.CredentialTopic(cfg.PartnerID), mosip.TopicWorkflowCompleted} {
		form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {topic}, "hub.callback": {cb.URL + "/websub/callback"}, "hub.secret": {sub.secret}}
		if st, b := call(t, http.MethodPost, base+"/websub/hub", websubTok, "application/x-www-form-urlencoded", []byte(form.Encode())); st != http.StatusAccepted {
			t.Fatalf("subscribe %s = %d %s", topic, st, b)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for active := 0; active < 2; {
		active = 0
		for _, s := range sb.Hub.Subscriptions() {
			if s.State == mosip.SubscriptionActive {
				active++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions not verified: %+v", sb.Hub.Subscriptions())
		}
		time.Sleep(10 * time.Millisecond)
	}

	rid := "10001100040000120261124061144"
	st, b := call(t, http.MethodPut, base+"/commons/v1/packetmanager/createPacket", packetTok, "application/json",
		packet(rid, "CRVS_NEW", map[string]string{"fullName": simple("Baby Doe"), "dateOfBirth": "2026/11/20",
			"gender": simple("Female"), "addressLine1": simple("Plot 12"), "birthCertificateNumber": "EE008OLG4317", "notInSchema": "dropped"}))
	if st != http.StatusOK || !strings.Contains(string(b), rid+"_id") {
		t.Fatalf("createPacket = %d %s", st, b)
	}
	if st, b := call(t, http.MethodPost, base+"/registrationprocessor/v1/workflowmanager/workflowinstance", packetTok, "application/json", workflow(rid, "CRVS_NEW")); st != http.StatusOK || !strings.Contains(string(b), "workflowInstanceId") {
		t.Fatalf("workflowinstance = %d %s", st, b)
	}

	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range sb.RegProc.Instances() {
				t.Logf("workflow instance %s %s: %s %s %s", in.RegistrationID, in.Process, in.Status, in.ErrorCode, in.Reason)
			}
			for _, d := range sb.Hub.Deliveries() {
				t.Logf("delivery %+v", d)
			}
		}
	})
	got := sub.wait(t, 2)
	var credential, completed *delivery
	for i := range got {
		d := &got[i]
		mac := hmac.New(sha256.New, []byte(sub.secret))
		mac.Write(d.body)
		if d.signature != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("delivery signature %q does not verify", d.signature)
		}
		if d.path != "/websub/callback/" {
			t.Errorf("delivered to %q, want the callback with a trailing slash", d.path)
		}
		if strings.Contains(d.topicLink, "CREDENTIAL_ISSUED") {
			credential = d
		} else {
			completed = d
		}
	}
	if credential == nil || completed == nil {
		t.Fatalf("want one credential and one workflow-completed delivery, got %d", len(got))
	}
	var wc mosip.WorkflowCompleted
	if err := json.Unmarshal(completed.body, &wc); err != nil || wc.InstanceID != rid || wc.ResultCode != "PROCESSED" || wc.WorkflowType != "CRVS_NEW" {
		t.Errorf("workflow completed = %s", completed.body)
	}
	var ev struct {
		Event struct {
			Data struct {
				RegistrationID string `json:"registrationId"`
				Credential     string `json:"credential"`
			} `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(credential.body, &ev); err != nil || ev.Event.Data.RegistrationID != rid {
		t.Fatalf("credential event = %s", credential.body)
	}
	vc := decryptCredential(t, sb.Keys.Partner.Key, sb.Keys.Partner.DER, ev.Event.Data.Credential)
	var doc struct {
		CredentialSubject map[string]any `json:"credentialSubject"`
	}
	if err := json.Unmarshal(vc, &doc); err != nil {
		t.Fatalf("decrypted credential: %v", err)
	}
	if id, _ := doc.CredentialSubject["id"].(string); !strings.HasSuffix(id, "/"+rid) {
		t.Errorf("credentialSubject.id = %q, want it to end with the RID", id)
	}
	if psut, _ := doc.CredentialSubject["PSUT"].(string); psut == "" {
		t.Errorf("credentialSubject has no PSUT under the default policy: %v", doc.CredentialSubject)
	}

	// The death of the new person: processed, and no credential.
	var uin string
	for _, in := range sb.RegProc.Instances() {
		if in.RegistrationID == rid {
			uin = in.UIN
		}
	}
	if uin == "" {
		t.Fatal("the birth created no UIN")
	}
	deathRID := "10001100040000220261124061145"
	st, b = call(t, http.MethodPut, base+"/commons/v1/packetmanager/createPacket", packetTok, "application/json",
		packet(deathRID, "CRVS_DEATH", map[string]string{"UIN": uin, "deathDeclared": "yes", "dateOfDeath": "2026/11/23"}))
	if st != http.StatusOK || strings.Contains(string(b), `"response":null`) {
		t.Fatalf("death createPacket = %d %s", st, b)
	}
	call(t, http.MethodPost, base+"/registrationprocessor/v1/workflowmanager/workflowinstance", packetTok, "application/json", workflow(deathRID, "CRVS_DEATH"))
	got = sub.wait(t, 3)
	time.Sleep(100 * time.Millisecond) // a credential, if wrongly issued, would be on its way
	got = sub.wait(t, 3)
	if len(got) != 3 || !strings.Contains(string(got[2].body), deathRID) || !strings.Contains(string(got[2].body), "PROCESSED") {
		t.Errorf("after the death: %d deliveries, last %s; want only the workflow-completed event", len(got), got[len(got)-1].body)
	}
	if id, err := sb.Registry.Lookup(uin); err != nil || !id.Deceased {
		t.Errorf("identity after death = %+v, %v; want deceased", id, err)
	}
}

func TestFaultsAndAdmin(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t)
	tok := mosipToken(t, base, sb.Config.PacketClientID, sb.Config.PacketClientSecret.Value())

	if st, b := call(t, http.MethodPut, base+"/sandbox/admin/faults/mosip.packetmanager", "", "application/json", []byte(`{"errorRate":1,"status":503,"remaining":1}`)); st != http.StatusNoContent {
		t.Fatalf("set fault = %d %s", st, b)
	}
	st, _ := call(t, http.MethodPut, base+"/commons/v1/packetmanager/createPacket", tok, "application/json", packet("1", "CRVS_NEW", nil))
	if st != http.StatusServiceUnavailable {
		t.Errorf("createPacket under fault = %d, want 503", st)
	}
	if st, b := call(t, http.MethodPut, base+"/sandbox/admin/faults/mosip.nope", "", "application/json", []byte(`{"errorRate":1}`)); st != http.StatusNotFound {
		t.Errorf("unknown endpoint = %d %s, want 404", st, b)
	}
	if st, b := call(t, http.MethodPut, base+"/sandbox/admin/hub", "", "application/json", []byte(`{"paused":true,"dropNext":-1}`)); st != http.StatusBadRequest {
		t.Errorf("bad hub knobs = %d %s", st, b)
	}
	if st, b := call(t, http.MethodPut, base+"/sandbox/admin/hub", "", "application/json", []byte(`{"paused":true}`)); st != http.StatusNoContent {
		t.Errorf("hub knobs = %d %s", st, b)
	}

	// An OpenCRVS record waiting for validation, and the bridge's accept with its token.
	st, b := call(t, http.MethodPost, base+"/sandbox/admin/opencrvs/records", "", "application/json", []byte(`{"event":"birth"}`))
	if st != http.StatusCreated {
		t.Fatalf("create record = %d %s", st, b)
	}
	var rec struct{ EventID, ActionID, Token string }
	_ = json.Unmarshal(b, &rec)
	accept := fmt.Sprintf(`{"json":{"eventId":%q,"actionId":%q,"transactionId":"t-1","registrationNumber":"EE008OLG4317","declaration":{"child.nid":"x"}}}`, rec.EventID, rec.ActionID)
	req, _ := http.NewRequest(http.MethodPost, base+"/events/event.actions.register.accept", strings.NewReader(accept))
	req.Header.Set("Authorization", "Bearer "+rec.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("register.accept with the record token = %d %s", resp.StatusCode, body)
	}
	st, b = call(t, http.MethodGet, base+"/sandbox/admin/opencrvs/records/"+rec.EventID, "", "", nil)
	var ev opencrvs.EventDocument
	if err := json.Unmarshal(b, &ev); st != http.StatusOK || err != nil {
		t.Fatalf("read record = %d %s", st, b)
	}
	if c, ok := ev.Confirmation(rec.ActionID); !ok || c.Status != opencrvs.StatusAccepted || c.Declaration["child.nid"] != "x" || c.RegistrationNumber != "EE008OLG4317" {
		t.Errorf("confirmation in the record = %+v, %v", c, ok)
	}
	if st, b := call(t, http.MethodGet, base+"/sandbox/admin/opencrvs/records/nope", "", "", nil); st != http.StatusNotFound {
		t.Errorf("unknown record = %d %s, want 404", st, b)
	}
	if st, b := call(t, http.MethodGet, base+"/sandbox/admin/opencrvs/calls", "", "", nil); st != http.StatusOK || !strings.Contains(string(b), "event.actions.register.accept") {
		t.Errorf("recorded calls = %d %s", st, b)
	}
	if st, b := call(t, http.MethodGet, base+"/sandbox/admin", "", "", nil); st != http.StatusOK || !strings.Contains(string(b), `"faultsInjected":1`) {
		t.Errorf("admin state = %d %s", st, b)
	}
}

func TestWriteKeys(t *testing.T) {
	t.Parallel()
	sb, _ := newSandbox(t)
	files, err := sb.WriteKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{files.PartnerKey, files.PartnerCert, files.IDACert, files.ESignetClientKey, files.ESignetClientJWK, files.PartnerP12} {
		if p == "" {
			t.Fatalf("missing path in %+v", files)
		}
	}
	ks, err := mosipcrypto.LoadKeystoreFile(files.PartnerP12, files.PartnerP12Password)
	if err != nil || !ks.Cert.Equal(sb.Keys.Partner.Cert) {
		t.Errorf("partner keystore = %v, %v; want the partner's key and certificate", ks, err)
	}
}

func TestFaultsFromConfig(t *testing.T) {
	t.Parallel()
	var cfg server.Config
	err := config.Load(&cfg, config.MapLookuper(map[string]string{"SANDBOX_FAULTS": `{"mosip.authmanager":{"errorRate":2}}`}))
	if err == nil || !strings.Contains(err.Error(), "SANDBOX_FAULTS mosip.authmanager: errorRate must be between 0 and 1") {
		t.Errorf("bad rule: %v", err)
	}
	err = config.Load(&cfg, config.MapLookuper(map[string]string{"SANDBOX_FAULTS": `{"mosip.nope":{}}`}))
	if err == nil || !strings.Contains(err.Error(), `unknown endpoint "mosip.nope"`) {
		t.Errorf("unknown endpoint: %v", err)
	}
	if err := config.Load(&cfg, config.MapLookuper(map[string]string{"SANDBOX_FAULTS": `{"mosip.authmanager":{"unauthorized":true}}`})); err != nil {
		t.Fatal(err)
	}
	sb, err := server.New(cfg, "http://127.0.0.1", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	if st, _ := call(t, http.MethodPost, srv.URL+mosip.AuthPath, "", "application/json", []byte(`{}`)); st != http.StatusUnauthorized {
		t.Errorf("auth manager under a configured 401 storm = %d", st)
	}
}
