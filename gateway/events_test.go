package gateway

import (
	"strings"
	"testing"
	"time"
)

// recordToken is an OpenCRVS action-confirmation token for event e1 / action a1.
func recordToken(t *testing.T) string {
	c := claimsFor(time.Now().Add(time.Hour))
	c["eventId"] = "e1"
	c["actionId"] = "a1"
	return signRS256(t, testKey(t, "opencrvs"), c)
}

const birthPayload = `{"trackingId":"BXZK9QF","requestFields":{"birthCertificateNumber":"EE008OLG4317","fullName":"Infant Middle Doe","dateOfBirth":"2025-09-01","gender":"male"},"notification":{"recipientEmail":"@TODO","recipientFullName":"@TODO","recipientPhone":"@TODO"},"metaInfo":{"informantPsut":"Wk3nX"},"audit":{}}`

func TestRegistrationRoute(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	tok := recordToken(t)
	for _, path := range []string{"/events/registration", "/events/registration/", "/events/update-biographics"} {
		r := env.do(t, "POST", path, strings.NewReader(birthPayload), append(bearer(tok), "Content-Type", "application/json")...)
		if r.status != 202 || r.body != "{}" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("POST %s = %d %q (%s), want 202 {}", path, r.status, r.body, r.header.Get("Content-Type"))
		}
	}
	got := env.backend.packet.lastSubmission()
	if got.GetCrvsToken() != tok || got.GetEventId() != "e1" || got.GetActionId() != "a1" || got.GetTrackingId() != "BXZK9QF" ||
		got.GetRequestFields().GetFields()["birthCertificateNumber"].GetStringValue() != "EE008OLG4317" ||
		got.GetNotification().GetRecipientEmail() != "@TODO" || got.GetMetaInfo().GetFields()["informantPsut"].GetStringValue() != "Wk3nX" {
		t.Errorf("submission = %v", got)
	}
	if strings.Contains(env.logs.String(), tok) || strings.Contains(env.logs.String(), "Infant") {
		t.Error("the token or personal data reached the logs")
	}
	if r := env.do(t, "POST", "/events/registration", strings.NewReader(birthPayload)); r.status != 401 || r.body != unauthorizedBody {
		t.Errorf("without token = %d %s", r.status, r.body)
	}
}

func TestRegistrationBadInput(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(c *Config) { c.MaxBodyBytes = 2048 })
	tok := recordToken(t)
	tests := []struct {
		name, body string
		status     int
		want       []string
	}{
		{"malformed JSON", `{"trackingId":`, 400, []string{"body", "must be a JSON object"}},
		{"array", `[]`, 400, []string{"must be a JSON object"}},
		{"trailing data", `{} {}`, 400, []string{"must be a JSON object"}},
		{"every problem at once", `{"requestFields":"x","metaInfo":[],"audit":3,"schemaJson":"{","notification":5}`, 400,
			[]string{"trackingId", "requestFields", "metaInfo", "audit", "schemaJson", "notification"}},
		{"missing requestFields", `{"trackingId":"T"}`, 400, []string{"requestFields", "is required"}},
		{"too large", `{"trackingId":"` + strings.Repeat("x", 4096) + `"}`, 413, []string{"too large"}},
		{"MOSIP refusal", strings.Replace(birthPayload, "BXZK9QF", "refuse", 1), 409, []string{"KER-PUT-006"}},
	}
	for _, tt := range tests {
		r := env.do(t, "POST", "/events/registration", strings.NewReader(tt.body), bearer(tok)...)
		if r.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: body %s lacks %q", tt.name, r.body, w)
			}
		}
		if strings.Contains(r.body, "Infant") {
			t.Errorf("%s: the error echoes personal data: %s", tt.name, r.body)
		}
	}
}

func FuzzInteropPayload(f *testing.F) {
	f.Add([]byte(birthPayload))
	f.Add([]byte(`{"requestFields":null}`))
	f.Add([]byte(`{"trackingId":1,"schemaJson":"{}","notification":{"recipientEmail":3}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, v := parseInteropPayload(body)
		if len(v) == 0 && (req == nil || req.GetRequestFields() == nil || req.GetTrackingId() == "") {
			t.Fatalf("accepted without trackingId/requestFields: %s", body)
		}
	})
}
