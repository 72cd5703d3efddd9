package e2e

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/fault"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/server"
)

// bridge is the whole system (gateway and services in one process) in
// front of a fresh sandbox, on loopback ports.
type bridge struct {
	sb  *server.Sandbox
	sys *allinone.System
}

func startBridge(t *testing.T, extra map[string]string) *bridge {
	t.Helper()
	sb, _ := startSandbox(t, nil, nil)
	env := bridgeEnv(t, sb)
	maps.Copy(env, extra)
	return &bridge{sb: sb, sys: startSystem(t, env)}
}

// record creates an OpenCRVS record waiting for validation and returns the
// record token OpenCRVS hands the country configuration.
func (b *bridge) record(t *testing.T, event string) string {
	t.Helper()
	eventID := b.sb.CRVS.CreateEvent(event, map[string]any{})
	actionID, _, err := b.sb.CRVS.RequestAction(eventID, "REGISTER")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.sb.CRVS.Auth().RecordToken(opencrvsRecordOptions(eventID, actionID))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// post calls the gateway like @opencrvs/mosip's createMosipInteropClient:
// Bearer token, JSON, 15 s timeout, a JSON object expected back.
func (b *bridge) post(t *testing.T, path, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.sys.GatewayURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// waitProcessed waits until the sandbox processed n workflow instances.
func (b *bridge) waitProcessed(t *testing.T, n int) []mosip.WorkflowInstance {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var done []mosip.WorkflowInstance
		for _, in := range b.sb.RegProc.Instances() {
			if in.Status != "PROCESSING" {
				done = append(done, in)
			}
		}
		if len(done) >= n {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workflow instances processed, want %d: %+v", len(done), n, b.sb.RegProc.Instances())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func payload(requestFields map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"trackingId":    "BXZK9QF",
		"notification":  map[string]string{"recipientEmail": "@TODO", "recipientFullName": "@TODO", "recipientPhone": "@TODO"},
		"requestFields": requestFields,
		"metaInfo":      map[string]string{"informantPsut": "Wk3nX-psut"},
		"audit":         map[string]any{},
	})
	return string(b)
}

// A birth, the death of that person and a correction, as today's
// country configurations send them, end as processed packets in MOSIP.
func TestRegistrationsThroughTheGateway(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)

	st, body := b.post(t, "/events/registration", b.record(t, "birth"), payload(map[string]any{
		"birthCertificateNumber": "EE008OLG4317", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"}))
	if st != http.StatusAccepted || body != "{}" {
		t.Fatalf("birth = %d %s, want 202 {}", st, body)
	}
	birth := b.waitProcessed(t, 1)[0]
	if birth.Process != "CRVS_NEW" || birth.Status != "PROCESSED" || birth.UIN == "" {
		t.Fatalf("birth instance = %+v", birth)
	}
	person, _ := b.sb.Registry.Lookup(birth.UIN)

	st, body = b.post(t, "/events/registration", b.record(t, "death"), payload(map[string]any{
		"deathCertificateNumber": "DD0001", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01",
		"gender": "male", "nationalIdNumber": birth.UIN}))
	if st != http.StatusAccepted || body != "{}" {
		t.Fatalf("death = %d %s", st, body)
	}
	if got := b.waitProcessed(t, 2); got[1].Process != "CRVS_DEATH" || got[1].Status != "PROCESSED" {
		t.Fatalf("death instance = %+v", got[1])
	}
	if id, _ := b.sb.Registry.Lookup(birth.UIN); !id.Deceased {
		t.Error("the person is not deceased in MOSIP")
	}

	st, body = b.post(t, "/events/update-biographics", b.record(t, "birth"), payload(map[string]any{
		"VID": person.VID, "fullName": "Infant Updated Doe"}))
	if st != http.StatusAccepted || body != "{}" {
		t.Fatalf("update-biographics = %d %s", st, body)
	}
	if got := b.waitProcessed(t, 3); got[2].Process != "CRVS_UPDATE" || got[2].Status != "PROCESSED" {
		t.Fatalf("update instance = %+v", got[2])
	}
	if calls := b.sb.Auth.Calls(); calls > 2 {
		t.Errorf("auth manager calls = %d for 3 registrations, want at most one per client", calls)
	}
}

// The same record submitted twice, even concurrently, makes one packet.
func TestSameRecordTwiceMakesOnePacket(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	tok := b.record(t, "birth")
	body := payload(map[string]any{"birthCertificateNumber": "EE008OLG4319", "fullName": "Twice Doe", "dateOfBirth": "2025-09-01", "gender": "female"})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, out := b.post(t, "/events/registration", tok, body); st != http.StatusAccepted {
				t.Errorf("submission = %d %s", st, out)
			}
		}()
	}
	wg.Wait()
	b.waitProcessed(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := len(b.sb.Packets.Packets()); n != 1 {
		t.Errorf("packets in MOSIP = %d, want 1", n)
	}
	if n := len(b.sb.RegProc.Instances()); n != 1 {
		t.Errorf("workflow instances = %d, want 1", n)
	}
}

// Bad input is refused with every problem named and nothing reaches MOSIP.
func TestBadRegistrationsRefused(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	tok := b.record(t, "birth")
	for _, tc := range []struct{ name, body, want string }{
		{"malformed", `{"trackingId":`, "must be a JSON object"},
		{"neither certificate number", payload(map[string]any{"fullName": "X"}), "birthCertificateNumber"},
		{"bad date", payload(map[string]any{"birthCertificateNumber": "B1", "fullName": "X Y", "dateOfBirth": "31/01/2025", "gender": "male"}), "dateOfBirth"},
	} {
		st, out := b.post(t, "/events/registration", tok, tc.body)
		if st != http.StatusBadRequest || !strings.Contains(out, tc.want) {
			t.Errorf("%s = %d %s, want 400 naming %s", tc.name, st, out, tc.want)
		}
	}
	if n := len(b.sb.Packets.Calls()); n != 0 {
		t.Errorf("createPacket calls = %d, want 0", n)
	}
}

// MOSIP down, then back: the registration is accepted (202), and the packet
// arrives later exactly once.
func TestMOSIPDownThenBack(t *testing.T) {
	t.Parallel()
	b := startBridge(t, map[string]string{"PACKET_SYNC_DEADLINE": "300ms"})
	if err := b.sb.Faults.Set("mosip.packetmanager", fault.Rule{ErrorRate: 1, Status: 503, Remaining: 2}); err != nil {
		t.Fatal(err)
	}
	st, out := b.post(t, "/events/registration", b.record(t, "birth"), payload(map[string]any{
		"birthCertificateNumber": "EE008OLG4320", "fullName": "Patient Doe", "dateOfBirth": "2025-09-01", "gender": "female"}))
	if st != http.StatusAccepted || out != "{}" {
		t.Fatalf("during the outage = %d %s, want 202 {}", st, out)
	}
	got := b.waitProcessed(t, 1)
	if got[0].Status != "PROCESSED" {
		t.Errorf("instance = %+v", got[0])
	}
	if n := len(b.sb.Packets.Packets()); n != 1 {
		t.Errorf("packets = %d, want exactly 1", n)
	}
}
