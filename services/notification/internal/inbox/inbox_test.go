package inbox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const credentialBody = `{"publisher":"CREDENTIAL_SERVICE","topic":"opencrvs-partner/CREDENTIAL_ISSUED","publishedOn":"2025-01-10T06:20:01.123Z",
"event":{"id":"3f1c","transactionId":"req-1","type":{"namespace":"mosip","name":"mosip"},"timestamp":"2025-01-10T06:20:01.123Z","dataShareUri":null,
"data":{"registrationId":"10001100040000120250110062001","templateTypeCode":"RPR_UIN_CARD_TEMPLATE","credential":"ZW5j","proof":{"signature":"a..b"},"credentialType":"vercred","protectionKey":"275700"}}}`

func TestVerifySignature(t *testing.T) {
	body := []byte(credentialBody)
	current, previous := []byte("new-secret"), []byte("old-secret")
	secrets := [][]byte{current, previous}

	if i, err := VerifySignature(Sign(current, body), body, secrets); err != nil || i != 0 {
		t.Fatalf("current secret: %d, %v", i, err)
	}
	if i, err := VerifySignature(Sign(previous, body), body, secrets); err != nil || i != 1 {
		t.Fatalf("previous secret during rotation: %d, %v", i, err)
	}
	// The hub writes lower-case hex; upper-case is the same bytes.
	if _, err := VerifySignature(strings.ToUpper(Sign(current, body)), body, secrets); err != nil {
		t.Fatalf("upper-case: %v", err)
	}
	tampered := []byte(strings.Replace(credentialBody, "vercred", "euin", 1))
	for name, header := range map[string]string{
		"missing":      "",
		"wrong secret": Sign([]byte("guess"), body),
		"tampered":     Sign(current, tampered),
		"sha1":         "sha1=" + strings.Repeat("ab", 20),
		"not hex":      "sha256=zz",
		"short":        "sha256=abcd",
		"no algorithm": strings.TrimPrefix(Sign(current, body), "sha256="),
	} {
		if _, err := VerifySignature(header, body, secrets); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
	if _, err := VerifySignature(Sign(nil, body), body, [][]byte{nil}); !errors.Is(err, ErrSignature) {
		t.Error("an empty secret verified")
	}
}

func TestParseCredential(t *testing.T) {
	ev, err := Parse([]byte(credentialBody))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Kind: KindCredential, ID: "3f1c", Topic: "opencrvs-partner/CREDENTIAL_ISSUED", Publisher: "CREDENTIAL_SERVICE",
		RequestID: "req-1", RegistrationID: "10001100040000120250110062001", Credential: "ZW5j", ProofSignature: "a..b", CredentialType: "vercred"}
	if ev != want {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", ev, want)
	}
	// Data share: no inline credential, a URI instead.
	ds := strings.Replace(strings.Replace(credentialBody, `"credential":"ZW5j",`, "", 1), `"dataShareUri":null`, `"dataShareUri":"https://datashare/x"`, 1)
	if ev, err := Parse([]byte(ds)); err != nil || ev.DataShareURI != "https://datashare/x" || ev.Credential != "" {
		t.Fatalf("data share: %+v, %v", ev, err)
	}
}

func TestParseStatus(t *testing.T) {
	body := []byte(`{"instanceId":"10001100040000120250110062001","resultCode":"FAILED","workflowType":"CRVS_NEW","errorCode":"PACKET_FAILED"}`)
	ev, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindStatus || ev.RegistrationID != "10001100040000120250110062001" || ev.ResultCode != "FAILED" ||
		ev.WorkflowType != "CRVS_NEW" || ev.ErrorCode != "PACKET_FAILED" || ev.Topic != StatusTopic {
		t.Fatalf("Parse = %+v", ev)
	}
	again, _ := Parse(body)
	other, _ := Parse([]byte(`{"instanceId":"10001100040000120250110062001","resultCode":"PROCESSED","workflowType":"CRVS_NEW","errorCode":null}`))
	if again.ID != ev.ID || other.ID == ev.ID || !strings.HasPrefix(ev.ID, "status-") {
		t.Fatalf("status ids: %q %q %q", ev.ID, again.ID, other.ID)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"not JSON":          `{"event":`,
		"array":             `[]`,
		"unknown shape":     `{"hello":"world"}`,
		"null event":        `{"topic":"t","event":null}`,
		"no event id":       `{"topic":"t","event":{"data":{"credential":"x"}}}`,
		"no topic":          `{"event":{"id":"1","data":{"credential":"x"}}}`,
		"no data":           `{"topic":"t","event":{"id":"1"}}`,
		"no credential":     `{"topic":"t","event":{"id":"1","data":{"registrationId":"r"}}}`,
		"id wrong type":     `{"topic":"t","event":{"id":5,"data":{"credential":"x"}}}`,
		"data wrong type":   `{"topic":"t","event":{"id":"1","data":"x"}}`,
		"null data":         `{"topic":"t","event":{"id":"1","data":null}}`,
		"no instanceId":     `{"instanceId":"","resultCode":"PROCESSED"}`,
		"no resultCode":     `{"instanceId":"r"}`,
		"invalid UTF-8":     "{\"instanceId\":\"\xff\",\"resultCode\":\"PROCESSED\"}",
		"huge registration": `{"topic":"t","event":{"id":"1","data":{"credential":"x","registrationId":"` + strings.Repeat("9", 5000) + `"}}}`,
	}
	for name, body := range cases {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Errors name the field, never the value.
	_, err := Parse([]byte(`{"topic":"t","event":{"id":{"secret":"JaneDoe"},"data":{"credential":"x"}}}`))
	if err == nil || strings.Contains(err.Error(), "JaneDoe") || !strings.Contains(err.Error(), "event.id") {
		t.Errorf("error = %v", err)
	}
	_, err = Parse([]byte(`{"topic":"t","event":{"id":"1","data":{"credential":"x","registrationId":["JaneDoe"]}}}`))
	if err == nil || strings.Contains(err.Error(), "JaneDoe") || !strings.Contains(err.Error(), "event.data.registrationId") {
		t.Errorf("error = %v", err)
	}
}

func TestAck(t *testing.T) {
	ev, _ := Parse([]byte(credentialBody))
	var ack struct {
		Publisher, Topic, PublishedOn string
		Event                         struct{ ID, RequestID, Timestamp, Status, URL string }
	}
	if err := json.Unmarshal(Ack(ev, "RECEIVED", time.Date(2025, 1, 10, 6, 20, 2, 0, time.UTC)), &ack); err != nil {
		t.Fatal(err)
	}
	if ack.Topic != ev.Topic || ack.Event.ID != "3f1c" || ack.Event.RequestID != "req-1" || ack.Event.Status != "RECEIVED" ||
		ack.PublishedOn != "2025-01-10T06:20:02.000Z" {
		t.Fatalf("ack = %+v", ack)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(credentialBody))
	f.Add([]byte(`{"instanceId":"r","resultCode":"PROCESSED"}`))
	f.Add([]byte(`{"event":{"data":null}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err == nil && (ev.ID == "" || ev.Kind == "") {
			t.Fatalf("accepted an event without id or kind: %+v", ev)
		}
		_, _ = VerifySignature(string(body), body, [][]byte{[]byte("s")})
	})
}
