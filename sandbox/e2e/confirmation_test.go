package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
)

// waitSubscribed waits until the hub holds both of the bridge's
// subscriptions as active: MOSIP's hub delivers nothing published before.
func (b *bridge) waitSubscribed(t *testing.T) {
	t.Helper()
	waitUntil(t, "both WebSub subscriptions active", func() bool {
		active := 0
		for _, s := range b.sb.Hub.Subscriptions() {
			if s.State == mosip.SubscriptionActive {
				active++
			}
		}
		return active >= 2
	})
}

// confirmation waits for the OpenCRVS event's confirmation of its
// requested action and returns it.
func (b *bridge) confirmation(t *testing.T, eventID string) opencrvs.Action {
	t.Helper()
	var got opencrvs.Action
	waitUntil(t, "the OpenCRVS record confirmed", func() bool {
		ev, ok := b.sb.CRVS.Event(eventID)
		if !ok {
			return false
		}
		for _, a := range ev.Actions {
			if a.Status == opencrvs.StatusRequested {
				if c, ok := ev.Confirmation(a.ID); ok {
					got = c
					return true
				}
			}
		}
		return false
	})
	return got
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordEvent is record() that also returns the OpenCRVS event id.
func (b *bridge) recordEvent(t *testing.T, event string) (eventID, token string) {
	t.Helper()
	eventID = b.sb.CRVS.CreateEvent(event, map[string]any{})
	actionID, _, err := b.sb.CRVS.RequestAction(eventID, "REGISTER")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.sb.CRVS.Auth().RecordToken(opencrvsRecordOptions(eventID, actionID))
	if err != nil {
		t.Fatal(err)
	}
	return eventID, tok
}

// The whole loop: a birth registered through the gateway becomes a MOSIP
// identity, its credential comes back over WebSub (signed, encrypted,
// verified) and OpenCRVS's record is accepted with the national ID the
// sharing policy allows (the PSUT by default, never the UIN); the death of
// that person is accepted without one when MOSIP's workflow completes; a
// packet MOSIP rejects rejects the record.
func TestRegistrationsConfirmedInOpenCRVS(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	b.waitSubscribed(t)

	birthEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE008OLG4317", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"})); st != http.StatusAccepted {
		t.Fatalf("birth = %d %s", st, body)
	}
	accepted := b.confirmation(t, birthEvent)
	birth := b.waitProcessed(t, 1)[0]
	if accepted.Status != opencrvs.StatusAccepted || accepted.Type != opencrvs.ActionRegister {
		t.Fatalf("birth confirmation = %+v", accepted)
	}
	nid, _ := accepted.Declaration["child.nid"].(string)
	if nid == "" || nid != b.sb.Credentials.PartnerToken(birth.UIN) || nid == birth.UIN {
		t.Fatalf("child.nid = %q, want the PSUT of the new identity (not its UIN)", nid)
	}
	if accepted.RegistrationNumber != "EE008OLG4317" {
		t.Errorf("registrationNumber = %q", accepted.RegistrationNumber)
	}
	if ups := b.sb.Hub.StatusUpdates(); len(ups) == 0 || ups[len(ups)-1].Status != "served" {
		waitUntil(t, "CREDENTIAL_STATUS_UPDATE served", func() bool {
			ups := b.sb.Hub.StatusUpdates()
			return len(ups) > 0 && ups[len(ups)-1].Status == "served"
		})
	}

	deathEvent, tok := b.recordEvent(t, "death")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"deathCertificateNumber": "DD0001", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01",
		"gender": "male", "nationalIdNumber": birth.UIN})); st != http.StatusAccepted {
		t.Fatalf("death = %d %s", st, body)
	}
	death := b.confirmation(t, deathEvent)
	if death.Status != opencrvs.StatusAccepted || death.Declaration["child.nid"] != nil {
		t.Fatalf("death confirmation = %+v, want accepted without a national id", death)
	}

	rejectEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0REJ", "fullName": "Baby REJECT Doe", "dateOfBirth": "2025-09-02", "gender": "female"})); st != http.StatusAccepted {
		t.Fatalf("birth to reject = %d %s", st, body)
	}
	rejected := b.confirmation(t, rejectEvent)
	if rejected.Status != opencrvs.StatusRejected {
		t.Fatalf("rejected packet's record = %+v, want rejected", rejected)
	}

	// Each record got exactly one confirmation call that succeeded.
	ok := 0
	for _, c := range b.sb.CRVS.Calls() {
		if (c.Procedure == "event.actions.register.accept" || c.Procedure == "event.actions.register.reject") && c.Status == http.StatusOK {
			ok++
			var in map[string]any
			_ = json.Unmarshal(c.Input, &in)
			if tid, _ := in["transactionId"].(string); len(tid) < 10 {
				t.Errorf("transactionId %q is not the deterministic mosip-… id", tid)
			}
		}
	}
	if ok != 3 {
		t.Errorf("%d successful confirmation calls, want 3", ok)
	}
}
