package mosip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRequestTime(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("EAT", 3*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 10, 6, 11, 44, 123456789, time.UTC), "2025-01-10T06:11:44.123Z"},
		{time.Date(2025, 1, 10, 9, 11, 44, 0, loc), "2025-01-10T06:11:44.000Z"},
		{time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC), "2025-12-31T23:59:59.999Z"},
	}
	for _, tt := range tests {
		if got := RequestTime(tt.in); got != tt.want {
			t.Errorf("RequestTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRequestMarshal(t *testing.T) {
	t.Parallel()
	type body struct {
		ClientID string `json:"clientId"`
	}
	now := time.Date(2025, 1, 10, 6, 11, 44, 123e6, time.UTC)
	tests := []struct {
		name string
		req  Request[body]
		want string
	}{
		{
			name: "NewRequest",
			req:  NewRequest("mosip.io.clientId.pwd", "1.0", now, body{ClientID: "c"}),
			want: `{"id":"mosip.io.clientId.pwd","version":"1.0","requesttime":"2025-01-10T06:11:44.123Z","metadata":{},"request":{"clientId":"c"}}`,
		},
		{
			name: "nil metadata is an empty object",
			req:  Request[body]{ID: "x", Version: "1.0", RequestTime: RequestTime(now)},
			want: `{"id":"x","version":"1.0","requesttime":"2025-01-10T06:11:44.123Z","metadata":{},"request":{"clientId":""}}`,
		},
		{
			name: "metadata kept",
			req:  Request[body]{ID: "x", Version: "1.0", RequestTime: RequestTime(now), Metadata: Metadata{"k": "v"}},
			want: `{"id":"x","version":"1.0","requesttime":"2025-01-10T06:11:44.123Z","metadata":{"k":"v"},"request":{"clientId":""}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal = %s\nwant      %s", got, tt.want)
			}
		})
	}
}

func TestResponseUnmarshal(t *testing.T) {
	t.Parallel()
	type status struct {
		Status string `json:"status"`
	}
	body := `{"id":"a","version":"1.0","responsetime":"2025-01-10T06:11:44.123Z","metadata":null,
		"response":{"status":"Success"},"errors":[{"errorCode":"X-1","message":"m"},{"errorCode":500,"errorMessage":"ida style"}]}`
	var r Response[status]
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Response == nil || r.Response.Status != "Success" {
		t.Errorf("Response = %+v, want status Success", r.Response)
	}
	want := []ServiceError{{Code: "X-1", Message: "m"}, {Code: "500", Message: "ida style"}}
	if fmt.Sprint(r.Errors) != fmt.Sprint(want) {
		t.Errorf("Errors = %+v, want %+v", r.Errors, want)
	}
	var null Response[status]
	if err := json.Unmarshal([]byte(`{"response":null}`), &null); err != nil {
		t.Fatal(err)
	}
	if null.Response != nil {
		t.Errorf("null response decoded as %+v, want nil", null.Response)
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		body         string
		wantResp     string
		wantKind     Kind
		wantCode     string
		wantMsg      string
		temporary    bool
		unauthorized bool
		wantIs       error
	}{
		{name: "success", status: 200, body: `{"response":{"status":"Success"},"errors":[]}`, wantResp: `{"status":"Success"}`},
		{name: "success errors null", status: 200, body: `{"response":{"a":1},"errors":null}`, wantResp: `{"a":1}`},
		{name: "success errors absent", status: 201, body: `{"response":"ok"}`, wantResp: `"ok"`},
		{name: "empty object response is a response", status: 200, body: `{"response":{}}`, wantResp: `{}`},
		{
			name: "errors inside HTTP 200", status: 200,
			body:     `{"response":null,"errors":[{"errorCode":"KER-ATH-026","message":"Realm not found:: x"}]}`,
			wantKind: KindRejected, wantCode: "KER-ATH-026", wantMsg: "Realm not found:: x",
		},
		{
			name: "errors win over a response", status: 200,
			body:     `{"response":{"status":"Success"},"errors":[{"errorCode":"KER-PUT-006","message":"bad source"}]}`,
			wantKind: KindRejected, wantCode: "KER-PUT-006", wantMsg: "bad source",
		},
		{
			name: "auth code inside 200 is unauthorized", status: 200,
			body:     `{"errors":[{"errorCode":"KER-ATH-402","message":"Token expired"}]}`,
			wantKind: KindRejected, wantCode: "KER-ATH-402", wantMsg: "Token expired", unauthorized: true,
		},
		{
			name: "null entry still a failure", status: 200, body: `{"response":{},"errors":[null]}`,
			wantKind: KindRejected,
		},
		{name: "response null", status: 200, body: `{"response":null,"errors":[]}`, wantKind: KindMalformed, wantIs: ErrNoResponse},
		{name: "response absent", status: 200, body: `{"id":"x"}`, wantKind: KindMalformed, wantIs: ErrNoResponse},
		{name: "not JSON", status: 200, body: `<html>login</html>`, wantKind: KindMalformed, wantIs: ErrMalformed, wantMsg: "not JSON (offset 1)"},
		{name: "empty body", status: 200, body: ``, wantKind: KindMalformed, wantIs: ErrMalformed, wantMsg: "not JSON (offset 0)"},
		{name: "JSON array", status: 200, body: `[1,2]`, wantKind: KindMalformed, wantIs: ErrMalformed, wantMsg: "body is a JSON array, not an envelope"},
		{name: "errors not an array", status: 200, body: `{"response":{},"errors":{"a":1}}`, wantKind: KindMalformed, wantIs: ErrMalformed, wantMsg: "errors is not an array of errors"},
		{
			name: "401 from auth filter", status: 401,
			body:     `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`,
			wantKind: KindHTTP, wantCode: "KER-ATH-401", wantMsg: "Authentication Failed", unauthorized: true,
		},
		{name: "403 without body", status: 403, body: ``, wantKind: KindHTTP, unauthorized: true},
		{
			name: "500 from auth manager default handler", status: 500,
			body:     `{"errors":[{"errorCode":"500","message":"401 Unauthorized: [no body]"}]}`,
			wantKind: KindHTTP, wantCode: "500", wantMsg: "401 Unauthorized: [no body]", temporary: true,
		},
		{name: "502 html", status: 502, body: `<html>bad gateway</html>`, wantKind: KindHTTP, temporary: true},
		{name: "503", status: 503, body: ``, wantKind: KindHTTP, temporary: true},
		{name: "429", status: 429, body: ``, wantKind: KindHTTP, temporary: true},
		{name: "404 is permanent", status: 404, body: `{"error":"not found"}`, wantKind: KindHTTP},
		{name: "3xx is not success", status: 302, body: ``, wantKind: KindHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := CheckResponse(tt.status, []byte(tt.body))
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("CheckResponse(%d, %s) error = %v, want nil", tt.status, tt.body, err)
				}
				if string(resp) != tt.wantResp {
					t.Errorf("CheckResponse(%d, %s) = %s, want %s", tt.status, tt.body, resp, tt.wantResp)
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("CheckResponse(%d, %s) error = %v (%T), want *Error", tt.status, tt.body, err, err)
			}
			if resp != nil {
				t.Errorf("response = %s alongside error, want nil", resp)
			}
			if me.Kind != tt.wantKind || me.Code != tt.wantCode || me.Message != tt.wantMsg || me.Status != tt.status {
				t.Errorf("error = {kind %v status %d code %q msg %q}, want {kind %v status %d code %q msg %q}",
					me.Kind, me.Status, me.Code, me.Message, tt.wantKind, tt.status, tt.wantCode, tt.wantMsg)
			}
			if got := IsTemporary(err); got != tt.temporary {
				t.Errorf("IsTemporary = %v, want %v", got, tt.temporary)
			}
			if got := IsUnauthorized(err); got != tt.unauthorized {
				t.Errorf("IsUnauthorized = %v, want %v", got, tt.unauthorized)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), "<html>") {
				t.Errorf("error %q quotes the body", err)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: KindTransport, Err: context.DeadlineExceeded}, "mosip: request failed: context deadline exceeded"},
		{&Error{Kind: KindHTTP, Status: 503}, "mosip: HTTP 503 Service Unavailable"},
		{&Error{Kind: KindHTTP, Status: 401, Code: "KER-ATH-401", Message: "Authentication Failed"}, "mosip: HTTP 401: KER-ATH-401 Authentication Failed"},
		{&Error{Kind: KindRejected, Status: 200, Code: "KER-ATH-026", Message: "Realm not found"}, "mosip: KER-ATH-026 Realm not found"},
		{&Error{Kind: KindRejected, Status: 200}, "mosip: (no code)"},
		{&Error{Kind: KindMalformed, Status: 200, Err: ErrNoResponse}, "mosip: HTTP 200: response is null"},
		{&Error{Kind: KindMalformed, Status: 200, Err: ErrMalformed, Message: "not JSON (offset 1)"}, "mosip: HTTP 200: malformed response: not JSON (offset 1)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(NewTransportError(context.DeadlineExceeded), context.DeadlineExceeded) {
		t.Error("transport error does not unwrap to its cause")
	}
	if !NewTransportError(errors.New("dial")).Temporary() {
		t.Error("transport error is not temporary")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	e := &Error{
		Kind: KindRejected, Code: "C", Message: "bad secret " + secret,
		Details: []ServiceError{{Code: "C", Message: "echo " + secret}},
		Err:     fmt.Errorf("wrapped %s: %w", secret, context.Canceled),
	}
	r := e.Redact(secret, "")
	if s := fmt.Sprintf("%v %+v %v", r, r.Details, r.Err); strings.Contains(s, secret) {
		t.Errorf("redacted error still contains the secret: %s", s)
	}
	if !errors.Is(r, context.Canceled) {
		t.Error("redaction broke errors.Is")
	}
	if !strings.Contains(e.Message, secret) {
		t.Error("Redact modified the original")
	}
}

func TestCleanBoundsMessages(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	_, err := CheckResponse(200, []byte(`{"errors":[{"errorCode":"X","message":"`+long+`\u0000\n"}]}`))
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("error = %v", err)
	}
	if len(me.Message) > maxMessageLen+len("…") || !strings.HasSuffix(me.Message, "…") {
		t.Errorf("message not bounded: %d bytes", len(me.Message))
	}
	many := `{"errors":[` + strings.Repeat(`{"errorCode":"X","message":"m"},`, 50) + `{}]}`
	_, err = CheckResponse(200, []byte(many))
	if !errors.As(err, &me) || len(me.Details) != maxDetails {
		t.Errorf("details = %d, want %d", len(me.Details), maxDetails)
	}
}

func FuzzCheckResponse(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"response":{"status":"Success"},"errors":[]}`},
		{200, `{"response":null,"errors":[{"errorCode":"KER-ATH-401","message":"x"}]}`},
		{200, `{"errors":[null,1,"s",{"errorCode":7}]}`},
		{401, `{"errors":[{"errorCode":"KER-ATH-401","message":"Authentication Failed"}]}`},
		{500, `<html/>`},
		{200, ``},
		{200, `null`},
		{200, `{"response":`},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp, err := CheckResponse(status, body)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			if len(resp) == 0 || string(resp) == "null" || !json.Valid(resp) {
				t.Fatalf("accepted response %q", resp)
			}
			return
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Fatalf("error %T is not *Error", err)
		}
		_ = me.Error()
		_ = me.Temporary()
		_ = me.Unauthorized()
		if len(me.Details) > maxDetails {
			t.Fatalf("%d details", len(me.Details))
		}
	})
}
