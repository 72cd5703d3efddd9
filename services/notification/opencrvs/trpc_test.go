package opencrvs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		status     int
		wantOut    string
		wantCode   string
		retryable  bool
	}{
		{name: "result", status: 200, body: `{"result":{"data":{"json":{"id":"e"}}}}`, wantOut: `{"id":"e"}`},
		{name: "batched result", status: 200, body: `[{"result":{"data":{"json":{"id":"e"}}}}]`, wantOut: `{"id":"e"}`},
		{name: "result with meta", status: 200, body: `{"result":{"data":{"json":1,"meta":{"values":{}}}}}`, wantOut: `1`},
		{name: "error in 200 batch", status: 200, body: `[{"error":{"json":{"message":"m","data":{"code":"CONFLICT","httpStatus":409}}}}]`, wantCode: "CONFLICT", retryable: true},
		{name: "no data", status: 200, body: `{"result":{}}`, wantCode: CodeMalformed, retryable: true},
		{name: "trpc error", status: 403, body: `{"error":{"json":{"message":"","code":-32003,"data":{"code":"FORBIDDEN","httpStatus":403}}}}`, wantCode: "FORBIDDEN"},
		{name: "hapi 401", status: 401, body: `{"statusCode":401,"error":"Unauthorized","message":"Missing authentication"}`, wantCode: "UNAUTHORIZED"},
		{name: "plain 504", status: 504, body: `upstream request timeout`, wantCode: "GATEWAY_TIMEOUT", retryable: true},
		{name: "odd status", status: 418, body: ``, wantCode: "HTTP_418"},
	} {
		out, err := parseAnswer("p", tc.status, []byte(tc.body), nil)
		if tc.wantCode != "" {
			if err == nil || err.Code != tc.wantCode || err.Retryable != tc.retryable {
				t.Errorf("%s: parseAnswer error = %v, want %s retryable %v", tc.name, err, tc.wantCode, tc.retryable)
			}
			continue
		}
		if err != nil || string(out) != tc.wantOut {
			t.Errorf("%s: parseAnswer = %s, %v; want %s", tc.name, out, err, tc.wantOut)
		}
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	got := sanitize("line1\n  line2\t\x00 secret-token-123 tail", "secret-token-123", "ab")
	if want := "line1 line2 [redacted] tail"; got != want {
		t.Errorf("sanitize = %q, want %q", got, want)
	}
	if long := sanitize(strings.Repeat("x", 1000)); len(long) > maxReason+len("…") {
		t.Errorf("sanitize kept %d bytes", len(long))
	}
}

// FuzzParseAnswer feeds arbitrary answers (outside input) to the parser: it
// must never panic and must return exactly one of output or *Error.
func FuzzParseAnswer(f *testing.F) {
	f.Add(200, []byte(`{"result":{"data":{"json":{"id":"e","actions":[]}}}}`))
	f.Add(409, []byte(`{"error":{"json":{"message":"User is assigned to this event","code":-32009,"data":{"code":"CONFLICT","httpStatus":409}}}}`))
	f.Add(200, []byte(`[{"error":{"json":null}}]`))
	f.Add(502, []byte(`<html>`))
	f.Add(200, []byte(`{"error":{}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		out, err := parseAnswer("event.get", status, body, []string{"secret"})
		if (out == nil) == (err == nil) {
			t.Fatalf("parseAnswer(%d, %q) = %s, %v; want exactly one", status, body, out, err)
		}
		if err != nil && strings.Contains(err.Reason, "secret") {
			t.Fatalf("reason leaks: %q", err.Reason)
		}
		if out != nil {
			var ev eventDoc
			_ = json.Unmarshal(out, &ev)
			_, _ = ev.pending()
		}
	})
}
