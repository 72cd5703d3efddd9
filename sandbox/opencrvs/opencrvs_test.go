package opencrvs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestOpenCRVSAuthPEMRotateAndToken(t *testing.T) {
	t.Parallel()
	auth := crvsMustAuth()
	e := newCRVSEnv(t, CRVSOptions{Auth: auth})

	pem1 := e.crvsPEM("/.well-known")
	if !bytes.Equal(pem1, e.crvsPEM("/auth/.well-known")) {
		t.Fatal("/.well-known and /auth/.well-known serve different keys")
	}
	tok, err := auth.Token("operator", []string{"record.search"}, map[string]any{"eventId": "e1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, ok := crvsVerifyRS256(t, pem1, tok)
	if !ok {
		t.Fatal("Token does not verify against the served PEM")
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["iss"] != Issuer || claims["sub"] != "operator" || claims["eventId"] != "e1" || claims["userType"] != "user" {
		t.Fatalf("unexpected claims %v", claims)
	}

	if err := auth.Rotate(); err != nil {
		t.Fatal(err)
	}
	pem2 := e.crvsPEM("/.well-known")
	if bytes.Equal(pem1, pem2) {
		t.Fatal("Rotate did not change the served key")
	}
	if _, _, ok := crvsVerifyRS256(t, pem2, tok); ok {
		t.Fatal("a token signed before Rotate verifies against the new key")
	}
}

func TestOpenCRVSRecordTokenShape(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	pemBytes := e.crvsPEM("/.well-known")
	const eventID, actionID = "1c4c2208-79ff-47c7-ae4d-e55cfcf4e6e4", "6a1d2c4b-93f1-4c3c-8f7e-0b2f1f6b9d20"
	cases := []struct {
		gen      string
		scopes   []string
		aud      int
		firstAud string
		events   bool
	}{
		{Generation19, []string{"record.confirm-registration", "record.reject-registration", "record.read"}, 13, "opencrvs:gateway-user", false},
		{Generation20, []string{"type=record.confirm-registration", "type=record.reject-registration", "type=record.read&event=birth,death"}, 6, "opencrvs:gateway-user", true},
	}
	for _, tc := range cases {
		t.Run(tc.gen, func(t *testing.T) {
			t.Parallel()
			tok, err := e.auth.RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID, Generation: tc.gen,
				Subject: "68f0c2b9a1e4d7c3b2a19f01"})
			if err != nil {
				t.Fatal(err)
			}
			header, payload, ok := crvsVerifyRS256(t, pemBytes, tok)
			if !ok {
				t.Fatal("record token does not verify against the served PEM")
			}
			if string(header) != `{"alg":"RS256","typ":"JWT"}` {
				t.Fatalf("header %s", header)
			}
			if !strings.HasPrefix(string(payload), `{"scope":[`) || !strings.Contains(string(payload), `"eventId":"`+eventID+`","actionId":"`+actionID+`","userType":"user","iat":`) ||
				!strings.HasSuffix(string(payload), `"iss":"opencrvs:auth-service","sub":"68f0c2b9a1e4d7c3b2a19f01"}`) {
				t.Fatalf("payload not laid out like jsonwebtoken's: %s", payload)
			}
			c := crvsObject(t, payload)
			if got := crvsStrings(c["scope"]); !slices.Equal(got, tc.scopes) {
				t.Fatalf("scope = %q, want %q", got, tc.scopes)
			}
			aud := crvsStrings(c["aud"])
			if len(aud) != tc.aud || aud[0] != tc.firstAud || slices.Contains(aud, "opencrvs:events-user") != tc.events {
				t.Fatalf("aud = %q", aud)
			}
			if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 604800 {
				t.Fatalf("exp-iat = %v, want 7 days", exp-iat)
			}
		})
	}
	if _, err := e.auth.RecordToken(RecordTokenOptions{EventID: eventID}); err == nil {
		t.Fatal("RecordToken without ActionID succeeded")
	}
	if _, err := e.auth.RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID, Generation: "3.0"}); err == nil {
		t.Fatal("RecordToken with an unknown generation succeeded")
	}
}

func TestOpenCRVSUserAndSystemTokens(t *testing.T) {
	t.Parallel()
	auth := crvsSharedAuth()
	user, err := auth.UserToken(UserTokenOptions{Subject: "u1", Role: "LOCAL_REGISTRAR", Scopes: []string{EncodeScope("record.register", "birth")}})
	if err != nil {
		t.Fatal(err)
	}
	system, err := auth.SystemToken(SystemTokenOptions{Subject: "s1", Scopes: []string{"type=record.read"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, userType, role string
		ttl                         float64
		scope                       string
	}{
		{"user", user, "user", "LOCAL_REGISTRAR", 604800, "type=record.register&event=birth"},
		{"system", system, "system", "", 600, "type=record.read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := crvsClaimsOf(t, tc.token)
			role, _ := c["role"].(string)
			if c["userType"] != tc.userType || role != tc.role || c["exp"].(float64)-c["iat"].(float64) != tc.ttl ||
				!slices.Equal(crvsStrings(c["scope"]), []string{tc.scope}) || len(crvsStrings(c["aud"])) != 6 {
				t.Fatalf("claims %v", c)
			}
		})
	}
}

func TestOpenCRVSAcceptRegistration(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	cases := []struct {
		name    string
		gen     string
		batched bool
	}{
		{"2.0 non-batched", Generation20, false},
		{"2.0 batched", Generation20, true},
		{"1.9 non-batched", Generation19, false},
		{"1.9 batched", Generation19, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eventID, actionID := e.pendingRegistration("birth")
			tok := e.recordToken(eventID, actionID, tc.gen)
			call := e.mutate
			if tc.batched {
				call = e.mutateBatch
			}
			status, resp := call("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID))
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, resp)
			}
			ev := crvsResultEvent(t, resp)
			conf, ok := ev.Confirmation(actionID)
			if !ok || conf.Status != StatusAccepted || conf.Type != ActionRegister || conf.RegistrationNumber != "EE008OLG4317" ||
				conf.Declaration["child.nid"] != "8031687218" || conf.OriginalActionID != actionID ||
				conf.TransactionID != "mosip-interop-3b0f6c2e-6a35-4d0a-9a3a-6c7c1c3e1d55" {
				t.Fatalf("confirmation action %+v", conf)
			}
			if _, pending := ev.PendingAction(); pending {
				t.Fatal("event still has a pending action after accept")
			}
			stored, _ := e.crvs.Event(eventID)
			if _, ok := stored.Confirmation(actionID); !ok {
				t.Fatal("accept not stored")
			}
		})
	}
}

func TestOpenCRVSConfirmationStateRules(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	type step struct {
		proc      string
		status    int
		code      string
		message   string
		jsonRPC   int
		plainJSON bool
	}
	accept := "event.actions.register.accept"
	reject := "event.actions.register.reject"
	cases := []struct {
		name      string
		steps     []step
		wantConfs int
		final     string
	}{
		{"re-accept is idempotent", []step{{proc: accept, status: 200}, {proc: accept, status: 200}}, 1, StatusAccepted},
		{"accept after reject", []step{{proc: reject, status: 200},
			{proc: accept, status: 400, code: "BAD_REQUEST", message: "Action has already been rejected.", jsonRPC: -32600}}, 1, StatusRejected},
		{"reject after accept", []step{{proc: accept, status: 200},
			{proc: reject, status: 500, code: "INTERNAL_SERVER_ERROR", message: "Action has already been accepted.", jsonRPC: -32603}}, 1, StatusAccepted},
		{"re-reject is idempotent", []step{{proc: reject, status: 200}, {proc: reject, status: 200}}, 1, StatusRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eventID, actionID := e.pendingRegistration("birth")
			tok := e.recordToken(eventID, actionID, Generation20)
			for i, s := range tc.steps {
				in := crvsAcceptInput(eventID, actionID)
				if s.proc == reject {
					in = map[string]any{"eventId": eventID, "actionId": actionID, "transactionId": "manual-reject-1"}
				}
				status, resp := e.mutate(s.proc, tok, in)
				if status != s.status {
					t.Fatalf("step %d %s: status %d, want %d: %v", i, s.proc, status, s.status, resp)
				}
				if s.code == "" {
					crvsResultEvent(t, resp)
					continue
				}
				got := crvsErrorOf(t, resp)
				want := crvsTRPCError{Message: s.message, Code: s.jsonRPC, DataCode: s.code, HTTPStatus: s.status, Path: s.proc, HasStack: true}
				if got != want {
					t.Fatalf("step %d error %+v, want %+v", i, got, want)
				}
			}
			ev, _ := e.crvs.Event(eventID)
			n := 0
			for _, a := range ev.Actions {
				if a.OriginalActionID == actionID {
					n++
				}
			}
			conf, _ := ev.Confirmation(actionID)
			if n != tc.wantConfs || conf.Status != tc.final {
				t.Fatalf("%d confirmations, final %q; want %d, %q", n, conf.Status, tc.wantConfs, tc.final)
			}
			if conf.Status == StatusRejected {
				raw, _ := json.Marshal(conf)
				if strings.Contains(string(raw), `"declaration"`) {
					t.Fatalf("a Rejected confirmation carries a declaration: %s", raw)
				}
			}
		})
	}
}

func TestOpenCRVSProductionMasksInternalErrors(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{Production: true})
	eventID, actionID := e.pendingRegistration("death")
	tok := e.recordToken(eventID, actionID, Generation20)
	if status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID)); status != 200 {
		t.Fatalf("accept: %d %v", status, resp)
	}
	status, resp := e.mutate("event.actions.register.reject", tok,
		map[string]any{"eventId": eventID, "actionId": actionID, "transactionId": "x"})
	got := crvsErrorOf(t, resp)
	want := crvsTRPCError{Message: "Internal server error", Code: -32603, DataCode: "INTERNAL_SERVER_ERROR", HTTPStatus: 500}
	if status != 500 || got != want {
		t.Fatalf("status %d error %+v, want %+v", status, got, want)
	}
	// Handled errors keep their message in production.
	status, resp = e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, newUUID()))
	if got := crvsErrorOf(t, resp); status != 403 || got.DataCode != "FORBIDDEN" || got.HasStack || got.Path == "" {
		t.Fatalf("status %d error %+v", status, got)
	}
}

func TestOpenCRVSConfirmationErrors(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, actionID := e.pendingRegistration("birth")
	otherEvent, otherAction := e.pendingRegistration("birth")
	ghostEvent := newUUID()
	mint := func(o RecordTokenOptions) string {
		tok, err := e.auth.RecordToken(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	noClaims, _ := e.auth.Token("u", []string{"type=record.confirm-registration", "type=record.reject-registration"}, nil, time.Hour)
	onlyConfirm, _ := e.auth.Token("u", []string{"record.confirm-registration"},
		map[string]any{"eventId": eventID, "actionId": actionID}, time.Hour)
	foreign, _ := crvsForeignAuth().RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID})
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "userType": "user",
		"scope": []string{"record.confirm-registration", "record.reject-registration"}, "eventId": eventID, "actionId": actionID,
		"iss": Issuer, "aud": []string{"opencrvs:gateway-user"}, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("secret"))
	user, _ := e.auth.UserToken(UserTokenOptions{Scopes: []string{EncodeScope("record.register"), EncodeScope(ScopeRead)}})
	wrongIssuer := func() string {
		tok, _ := e.auth.sign(crvsClaims{Scope: []string{"record.confirm-registration", "record.reject-registration"},
			EventID: eventID, ActionID: actionID, UserType: "user", IssuedAt: time.Now().Unix(),
			ExpiresAt: time.Now().Add(time.Hour).Unix(), Audience: []string{"opencrvs:gateway-user"}, Iss: "someone-else", Sub: "u"})
		return tok
	}()

	in := func(mod func(map[string]any)) map[string]any {
		m := crvsAcceptInput(eventID, actionID)
		if mod != nil {
			mod(m)
		}
		return m
	}
	cases := []struct {
		name    string
		token   string
		input   map[string]any
		status  int
		code    string
		message string
	}{
		{"wrong eventId claim", mint(RecordTokenOptions{EventID: otherEvent, ActionID: actionID}), in(nil), 403, "FORBIDDEN", "FORBIDDEN"},
		{"wrong actionId claim", mint(RecordTokenOptions{EventID: eventID, ActionID: otherAction}), in(nil), 403, "FORBIDDEN", "FORBIDDEN"},
		{"token of another record", mint(RecordTokenOptions{EventID: otherEvent, ActionID: otherAction}), in(nil), 403, "FORBIDDEN", "FORBIDDEN"},
		{"user token without confirmation scopes", user, in(nil), 403, "FORBIDDEN", "Missing required scopes for action confirmation"},
		{"confirm scope without reject scope", onlyConfirm, in(nil), 403, "FORBIDDEN", "Missing required scopes for action confirmation"},
		{"scopes without record claims", noClaims, in(nil), 403, "FORBIDDEN", "Missing required claims for action confirmation"},
		{"expired", mint(RecordTokenOptions{EventID: eventID, ActionID: actionID, IssuedAt: time.Now().Add(-8 * 24 * time.Hour)}),
			in(nil), 401, "UNAUTHORIZED", "Authentication failed"},
		{"signed by another key", foreign, in(nil), 401, "UNAUTHORIZED", "Authentication failed"},
		{"HS256", hs256, in(nil), 401, "UNAUTHORIZED", "Authentication failed"},
		{"wrong issuer", wrongIssuer, in(nil), 401, "UNAUTHORIZED", "Authentication failed"},
		{"no token", "", in(nil), 401, "UNAUTHORIZED", "Authorization token is missing"},
		{"unknown action", mint(RecordTokenOptions{EventID: eventID, ActionID: "0b6b8f52-6f8e-4a4c-9a53-0a4f7f1b6a11"}),
			in(func(m map[string]any) { m["actionId"] = "0b6b8f52-6f8e-4a4c-9a53-0a4f7f1b6a11" }), 404, "NOT_FOUND", "Action not found."},
		{"unknown event", mint(RecordTokenOptions{EventID: ghostEvent, ActionID: actionID}),
			in(func(m map[string]any) { m["eventId"] = ghostEvent }), 404, "NOT_FOUND", "Event not found with ID: " + ghostEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, resp := e.mutate("event.actions.register.accept", tc.token, tc.input)
			got := crvsErrorOf(t, resp)
			want := crvsTRPCError{Message: tc.message, Code: trpcCodes[tc.code].num, DataCode: tc.code, HTTPStatus: tc.status,
				Path: "event.actions.register.accept", HasStack: true}
			if status != tc.status || got != want {
				t.Fatalf("status %d error %+v\nwant %d %+v", status, got, tc.status, want)
			}
		})
	}
	if ev, _ := e.crvs.Event(eventID); len(ev.Actions) != 3 {
		t.Fatalf("refused calls changed the event: %+v", ev.Actions)
	}
}

func TestOpenCRVSInputValidation(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, actionID := e.pendingRegistration("birth")
	tok := e.recordToken(eventID, actionID, Generation20)
	cases := []struct {
		name  string
		proc  string
		input any
		want  []string
	}{
		{"missing registrationNumber", "event.actions.register.accept",
			map[string]any{"eventId": eventID, "actionId": actionID, "transactionId": "t"},
			[]string{`"expected": "string"`, `"path": [` + "\n" + `      "registrationNumber"`, "Invalid input: expected string, received undefined"}},
		{"eventId not a UUID", "event.actions.register.accept",
			map[string]any{"eventId": "nope", "actionId": actionID, "transactionId": "t", "registrationNumber": "R"},
			[]string{`"format": "uuid"`, `"message": "Invalid UUID"`}},
		{"declaration not a record", "event.actions.register.accept",
			map[string]any{"eventId": eventID, "actionId": actionID, "transactionId": "t", "registrationNumber": "R", "declaration": "x"},
			[]string{`"expected": "record"`, "received string"}},
		{"no input at all", "event.actions.register.reject", nil,
			[]string{"Invalid input: expected object, received null"}},
		{"reject without transactionId", "event.actions.register.reject",
			map[string]any{"eventId": eventID, "actionId": actionID},
			[]string{`"transactionId"`, "received undefined"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, resp := e.mutate(tc.proc, tok, tc.input)
			got := crvsErrorOf(t, resp)
			if status != 400 || got.DataCode != "BAD_REQUEST" || got.Code != -32600 || !strings.HasPrefix(got.Message, "[\n  {") {
				t.Fatalf("status %d error %+v", status, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Message, w) {
					t.Fatalf("message lacks %q:\n%s", w, got.Message)
				}
			}
		})
	}
}

func TestOpenCRVSRejectUnknownActionIsInternal(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, _ := e.pendingRegistration("birth")
	ghost := newUUID()
	tok := e.recordToken(eventID, ghost, Generation19)
	status, resp := e.mutate("event.actions.register.reject", tok, map[string]any{"eventId": eventID, "actionId": ghost, "transactionId": "t"})
	got := crvsErrorOf(t, resp)
	if status != 500 || got.Message != "Action not found." || got.DataCode != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("status %d error %+v", status, got)
	}
}

func TestOpenCRVSEventGet(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	cases := []struct {
		name    string
		token   func(eventID, actionID string) string
		batched bool
		status  int
		code    string
		message string
	}{
		{"2.0 record token", func(ev, ac string) string { return e.recordToken(ev, ac, Generation20) }, false, 200, "", ""},
		{"2.0 record token batched", func(ev, ac string) string { return e.recordToken(ev, ac, Generation20) }, true, 200, "", ""},
		{"1.9 plain record.read", func(ev, ac string) string { return e.recordToken(ev, ac, Generation19) }, false, 200, "", ""},
		{"without record.read", func(ev, ac string) string {
			tok, _ := e.auth.RecordToken(RecordTokenOptions{EventID: ev, ActionID: ac, ExtraScopes: []string{}})
			return tok
		}, false, 403, "FORBIDDEN", "FORBIDDEN"},
		{"token for another event", func(_, ac string) string { return e.recordToken(newUUID(), ac, Generation20) },
			false, 403, "FORBIDDEN", "Token does not grant access to this event"},
		{"record.read limited to death", func(ev, ac string) string {
			tok, _ := e.auth.RecordToken(RecordTokenOptions{EventID: ev, ActionID: ac, ExtraScopes: []string{EncodeScope(ScopeRead, "death")}})
			return tok
		}, false, 404, "NOT_FOUND", "Event not found with ID: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eventID, actionID := e.pendingRegistration("birth")
			tok := tc.token(eventID, actionID)
			var status int
			var resp map[string]any
			if tc.batched {
				q := url.Values{"batch": {"1"}, "input": {crvsJSON(t, map[string]any{"0": map[string]any{"json": map[string]any{"eventId": eventID}}})}}
				var body []byte
				status, _, body = e.do("GET", "/events/event.get?"+q.Encode(), crvsAuthHeader(tok), "")
				var arr []map[string]any
				if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 1 {
					t.Fatalf("batched event.get: %s", body)
				}
				resp = arr[0]
			} else {
				status, resp = e.query("event.get", tok, map[string]any{"eventId": eventID})
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, resp)
			}
			if tc.code != "" {
				got := crvsErrorOf(t, resp)
				if got.DataCode != tc.code || !strings.HasPrefix(got.Message, tc.message) || got.Path != "event.get" {
					t.Fatalf("error %+v, want %s %q", got, tc.code, tc.message)
				}
				return
			}
			ev := crvsResultEvent(t, resp)
			pending, ok := ev.PendingAction()
			if !ok || pending.ID != actionID || pending.Type != ActionRegister {
				t.Fatalf("pending action %+v %v", pending, ok)
			}
			last := ev.Actions[len(ev.Actions)-1]
			if last.Type != ActionRead || last.Status != StatusAccepted {
				t.Fatalf("event.get did not write a READ action: %+v", last)
			}
		})
	}
	status, resp := e.query("event.get", e.recordToken(newUUID(), newUUID(), Generation20), map[string]any{"eventId": "not-a-uuid"})
	if got := crvsErrorOf(t, resp); status != 400 || got.DataCode != "BAD_REQUEST" {
		t.Fatalf("bad eventId: %d %+v", status, got)
	}
}

func TestOpenCRVSCorrectionAccept(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	cases := []struct {
		name    string
		request func(requestID string) any
		status  int
		message string
	}{
		{"matching requestId", func(r string) any { return r }, 200, ""},
		{"wrong requestId", func(string) any { return "7d8e1c6a-1111-4a4c-9a53-0a4f7f1b6a11" }, 404,
			"Correction request not found with ID: 7d8e1c6a-1111-4a4c-9a53-0a4f7f1b6a11"},
		{"missing requestId", func(string) any { return nil }, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eventID, registerID := e.pendingRegistration("birth")
			if status, resp := e.mutate("event.actions.register.accept", e.recordToken(eventID, registerID, Generation20),
				crvsAcceptInput(eventID, registerID)); status != 200 {
				t.Fatalf("register accept: %d %v", status, resp)
			}
			actionID, requestID, err := e.crvs.RequestAction(eventID, ActionApproveCorrection)
			if err != nil || requestID == "" {
				t.Fatalf("RequestAction: %q %v", requestID, err)
			}
			tok := e.recordToken(eventID, actionID, Generation20)
			// The bridge first reads the pending action to learn its type and requestId.
			_, resp := e.query("event.get", tok, map[string]any{"eventId": eventID})
			pending, ok := crvsResultEvent(t, resp).PendingAction()
			if !ok || pending.Type != ActionApproveCorrection || pending.RequestID != requestID {
				t.Fatalf("pending %+v", pending)
			}
			in := map[string]any{"transactionId": "mosip-interop-c1", "eventId": eventID, "actionId": actionID,
				"declaration": map[string]any{"child.nid": "2873497431"}}
			if r := tc.request(requestID); r != nil {
				in["requestId"] = r
			}
			status, resp := e.mutate("event.actions.correction.approve.accept", tok, in)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, resp)
			}
			if tc.status != 200 {
				got := crvsErrorOf(t, resp)
				if tc.message != "" && got.Message != tc.message {
					t.Fatalf("message %q, want %q", got.Message, tc.message)
				}
				return
			}
			conf, ok := crvsResultEvent(t, resp).Confirmation(actionID)
			if !ok || conf.Type != ActionApproveCorrection || conf.Status != StatusAccepted || conf.RequestID != requestID ||
				conf.Declaration["child.nid"] != "2873497431" {
				t.Fatalf("confirmation %+v", conf)
			}
		})
	}
}

func TestOpenCRVSAssignedUserConflict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		setup  func(e *crvsEnv, eventID string)
		lift   func(e *crvsEnv, eventID string)
		global bool
	}{
		{"option", nil, func(e *crvsEnv, _ string) { e.crvs.SetAssignedUserConflict(false) }, true},
		{"knob", func(e *crvsEnv, _ string) { e.crvs.SetAssignedUserConflict(true) },
			func(e *crvsEnv, _ string) { e.crvs.SetAssignedUserConflict(false) }, false},
		{"assigned event", func(e *crvsEnv, id string) {
			if err := e.crvs.Assign(id, "registrar-1"); err != nil {
				t.Error(err)
			}
		}, func(e *crvsEnv, id string) {
			if err := e.crvs.Unassign(id); err != nil {
				t.Error(err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCRVSEnv(t, CRVSOptions{AssignedUserConflict: tc.global})
			eventID, actionID := e.pendingRegistration("birth")
			if tc.setup != nil {
				tc.setup(e, eventID)
			}
			tok := e.recordToken(eventID, actionID, Generation20)
			for _, proc := range []string{"event.actions.register.accept", "event.actions.register.reject"} {
				status, resp := e.mutate(proc, tok, crvsAcceptInput(eventID, actionID))
				got := crvsErrorOf(t, resp)
				if status != 409 || got.Code != -32009 || got.DataCode != "CONFLICT" || got.Message != "User is assigned to this event" {
					t.Fatalf("%s: status %d error %+v", proc, status, got)
				}
			}
			tc.lift(e, eventID)
			if status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID)); status != 200 {
				t.Fatalf("after lifting: %d %v", status, resp)
			}
		})
	}
}

func TestOpenCRVSAuthTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{Clients: []SystemClient{
		{ID: "mosip-integration", Secret: "s3cret", Scopes: []string{"record.read", "type=record.action.accept", "type=record.action.reject"}},
		{ID: "retired", Secret: "old", Disabled: true},
	}})
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct {
		name    string
		path    string
		header  map[string]string
		body    string
		status  int
		errCode string
	}{
		{"form body", "/auth/token", form, "grant_type=client_credentials&client_id=mosip-integration&client_secret=s3cret", 200, ""},
		{"query string", "/auth/token?grant_type=client_credentials&client_id=mosip-integration&client_secret=s3cret", nil, "", 200, ""},
		{"json body", "/auth/token", map[string]string{"Content-Type": "application/json"},
			`{"grant_type":"client_credentials","client_id":"mosip-integration","client_secret":"s3cret"}`, 200, ""},
		{"missing secret", "/auth/token", form, "grant_type=client_credentials&client_id=mosip-integration", 400, "invalid_request"},
		{"wrong secret", "/auth/token", form, "grant_type=client_credentials&client_id=mosip-integration&client_secret=nope", 401, "invalid_client"},
		{"unknown client", "/auth/token", form, "grant_type=client_credentials&client_id=who&client_secret=s3cret", 401, "invalid_client"},
		{"disabled client", "/auth/token", form, "grant_type=client_credentials&client_id=retired&client_secret=old", 401, "invalid_client"},
		{"unsupported grant", "/auth/token", form, "grant_type=password&client_id=mosip-integration&client_secret=s3cret", 400, "unsupported_grant_type"},
		{"no grant", "/auth/token", form, "", 400, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := e.do("POST", tc.path, tc.header, tc.body)
			if status != tc.status || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d cache-control %q: %s", status, h.Get("Cache-Control"), body)
			}
			resp := crvsObject(t, body)
			if tc.errCode != "" {
				if resp["error"] != tc.errCode || resp["error_description"] == nil {
					t.Fatalf("body %s", body)
				}
				return
			}
			tok, _ := resp["access_token"].(string)
			if resp["token_type"] != "Bearer" || tok == "" {
				t.Fatalf("body %s", body)
			}
			_, payload, ok := crvsVerifyRS256(t, e.crvsPEM("/.well-known"), tok)
			if !ok {
				t.Fatal("system token does not verify")
			}
			c := crvsObject(t, payload)
			if c["userType"] != "system" || c["sub"] != "mosip-integration" || c["exp"].(float64)-c["iat"].(float64) != 600 ||
				!slices.Equal(crvsStrings(c["scope"]), []string{"type=record.read", "type=record.action.accept", "type=record.action.reject"}) {
				t.Fatalf("claims %v", c)
			}
		})
	}
	if status, _, body := e.do("GET", "/auth/token", nil, ""); status != 404 || !strings.Contains(string(body), `"statusCode":404`) {
		t.Fatalf("GET /auth/token: %d %s", status, body)
	}
}

func TestOpenCRVSTokenExchange(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, actionID := e.pendingRegistration("birth")
	subject, _ := e.auth.UserToken(UserTokenOptions{Subject: "registrar-7",
		Scopes: []string{EncodeScope(ScopeRead, "birth"), EncodeScope("record.register"), EncodeScope("record.reject")}})
	params := func(mod func(url.Values)) string {
		v := url.Values{"grant_type": {grantTokenExchange}, "subject_token": {subject}, "subject_token_type": {subjectTokenType},
			"requested_token_type": {recordTokenType}, "event_id": {eventID}, "action_id": {actionID}}
		if mod != nil {
			mod(v)
		}
		return v.Encode()
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct {
		name    string
		body    string
		status  int
		errCode string
	}{
		{"exchange", params(nil), 200, ""},
		{"missing action_id", params(func(v url.Values) { v.Del("action_id") }), 400, "invalid_request"},
		{"wrong requested type", params(func(v url.Values) { v.Set("requested_token_type", "x") }), 400, "invalid_request"},
		{"bad subject token", params(func(v url.Values) { v.Set("subject_token", "a.b.c") }), 401, "unauthorized_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := e.do("POST", "/auth/token", form, tc.body)
			resp := crvsObject(t, body)
			if status != tc.status || (tc.errCode != "" && resp["error"] != tc.errCode) {
				t.Fatalf("status %d: %s", status, body)
			}
			if tc.errCode != "" {
				return
			}
			tok := resp["access_token"].(string)
			c := crvsClaimsOf(t, tok)
			want := []string{"type=record.confirm-registration", "type=record.reject-registration", "type=record.read&event=birth", "type=record.reject"}
			if !slices.Equal(crvsStrings(c["scope"]), want) || c["sub"] != "registrar-7" || c["eventId"] != eventID {
				t.Fatalf("claims %v", c)
			}
			if status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID)); status != 200 {
				t.Fatalf("exchanged token cannot accept: %d %v", status, resp)
			}
		})
	}
}

func TestOpenCRVSSystemClientConfirms(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{Clients: []SystemClient{
		{ID: "docs-scopes", Secret: "a", Scopes: []string{"record.read", "record.action.accept", "record.action.reject"}},
		{ID: "code-scopes", Secret: "b", Scopes: []string{"type=record.read", "type=record.register&event=birth,death", "type=record.correct"}},
		{ID: "read-only", Secret: "c", Scopes: []string{"record.read"}},
	}})
	systemToken := func(id, secret string) string {
		status, _, body := e.do("POST", "/auth/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode())
		if status != 200 {
			t.Fatalf("token for %s: %d %s", id, status, body)
		}
		return crvsObject(t, body)["access_token"].(string)
	}
	cases := []struct {
		id, secret string
		canConfirm bool
	}{
		{"docs-scopes", "a", true},
		{"code-scopes", "b", true},
		{"read-only", "c", false},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			tok := systemToken(tc.id, tc.secret)
			accepted, acceptID := e.pendingRegistration("birth")
			rejected, rejectID := e.pendingRegistration("death")
			if status, resp := e.query("event.get", tok, map[string]any{"eventId": accepted}); status != 200 {
				t.Fatalf("event.get: %d %v", status, resp)
			}
			status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(accepted, acceptID))
			status2, resp2 := e.mutate("event.actions.register.reject", tok,
				map[string]any{"eventId": rejected, "actionId": rejectID, "transactionId": "t"})
			if !tc.canConfirm {
				if got := crvsErrorOf(t, resp); status != 403 || got.Message != "Missing required scopes for action confirmation" {
					t.Fatalf("read-only accept: %d %+v", status, got)
				}
				if status2 != 403 {
					t.Fatalf("read-only reject: %d", status2)
				}
				return
			}
			if status != 200 || status2 != 200 {
				t.Fatalf("accept %d %v / reject %d %v", status, resp, status2, resp2)
			}
			conf, _ := crvsResultEvent(t, resp).Confirmation(acceptID)
			if conf.CreatedBy != tc.id || conf.CreatedByUserType != "system" || conf.CreatedAtLocation != "" {
				t.Fatalf("confirmation not attributed to the integration: %+v", conf)
			}
		})
	}
}

func TestOpenCRVSCallsRecorded(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, actionID := e.pendingRegistration("birth")
	tok, _ := e.auth.RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID, Subject: "registrar-9"})
	e.query("event.get", tok, map[string]any{"eventId": eventID})
	e.mutateBatch("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID))
	e.mutate("event.actions.register.reject", "", map[string]any{"eventId": eventID})

	calls := e.crvs.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls recorded: %+v", len(calls), calls)
	}
	want := []struct {
		proc, method, subject string
		batched               bool
		status                int
		code                  string
	}{
		{"event.get", "GET", "registrar-9", false, 200, ""},
		{"event.actions.register.accept", "POST", "registrar-9", true, 200, ""},
		{"event.actions.register.reject", "POST", "", false, 401, "UNAUTHORIZED"},
	}
	for i, w := range want {
		c := calls[i]
		if c.Procedure != w.proc || c.Method != w.method || c.Subject != w.subject || c.Batched != w.batched || c.Status != w.status || c.Code != w.code {
			t.Fatalf("call %d = %+v, want %+v", i, c, w)
		}
	}
	var in map[string]any
	if err := json.Unmarshal(calls[1].Input, &in); err != nil || in["registrationNumber"] != "EE008OLG4317" {
		t.Fatalf("accept input recorded as %s", calls[1].Input)
	}
	if got := e.crvs.CallsTo("event.actions.register.accept"); len(got) != 1 {
		t.Fatalf("CallsTo: %+v", got)
	}
	e.crvs.ResetCalls()
	if len(e.crvs.Calls()) != 0 {
		t.Fatal("ResetCalls kept calls")
	}
}

func TestOpenCRVSTransportQuirks(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID, actionID := e.pendingRegistration("birth")
	tok := e.recordToken(eventID, actionID, Generation20)
	bearer := crvsAuthHeader(tok)
	noCT := map[string]string{"Authorization": "Bearer " + tok}
	cases := []struct {
		name    string
		method  string
		path    string
		header  map[string]string
		body    string
		status  int
		code    string
		message string
	}{
		{"unknown procedure", "POST", "/events/event.nope", bearer, `{"json":{}}`, 404, "NOT_FOUND", `No procedure found on path "event.nope"`},
		{"GET to a mutation", "GET", "/events/event.actions.register.accept", bearer, "", 405, "METHOD_NOT_SUPPORTED",
			`Unsupported GET-request to mutation procedure at path "event.actions.register.accept"`},
		{"POST to a query", "POST", "/events/event.get", bearer, `{"json":{}}`, 405, "METHOD_NOT_SUPPORTED",
			`Unsupported POST-request to query procedure at path "event.get"`},
		{"malformed JSON", "POST", "/events/event.actions.register.accept", bearer, `{"json":`, 400, "PARSE_ERROR", ""},
		{"no content type", "POST", "/events/event.actions.register.accept", noCT, `{"json":{}}`, 415, "UNSUPPORTED_MEDIA_TYPE", "Missing content-type header"},
		{"batch input not an object", "POST", "/events/event.actions.register.accept?batch=1", bearer, `[1]`, 400, "BAD_REQUEST",
			`"input" needs to be an object when doing a batch call`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := e.do(tc.method, tc.path, tc.header, tc.body)
			resp := crvsObject(t, body)
			got := crvsErrorOf(t, resp)
			if status != tc.status || got.DataCode != tc.code || got.HTTPStatus != tc.status || !strings.HasPrefix(h.Get("Content-Type"), "application/json") ||
				(tc.message != "" && got.Message != tc.message) {
				t.Fatalf("status %d error %+v: %s", status, got, body)
			}
		})
	}

	t.Run("mixed batch is 207", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"batch": {"1"}, "input": {crvsJSON(t, map[string]any{
			"0": map[string]any{"json": map[string]any{"eventId": eventID}},
			"1": map[string]any{"json": map[string]any{"eventId": newUUID()}}})}}
		status, _, body := e.do("GET", "/events/event.get,event.get?"+q.Encode(), bearer, "")
		var arr []map[string]any
		if err := json.Unmarshal(body, &arr); err != nil || status != http.StatusMultiStatus || len(arr) != 2 {
			t.Fatalf("status %d: %s", status, body)
		}
		crvsResultEvent(t, arr[0])
		if got := crvsErrorOf(t, arr[1]); got.DataCode != "FORBIDDEN" {
			t.Fatalf("second call %+v", got)
		}
	})

	t.Run("superjson undefined drops the key", func(t *testing.T) {
		t.Parallel()
		ev2, ac2 := e.pendingRegistration("death")
		in := crvsAcceptInput(ev2, ac2)
		in["declaration"] = map[string]any{"child.nid": nil, "deceased.nid": "123"}
		body := crvsJSON(t, map[string]any{"json": in, "meta": map[string]any{"values": map[string]any{`declaration.child\.nid`: []any{"undefined"}}}})
		status, _, raw := e.do("POST", "/events/event.actions.register.accept", crvsAuthHeader(e.recordToken(ev2, ac2, Generation20)), body)
		if status != 200 {
			t.Fatalf("status %d: %s", status, raw)
		}
		conf, _ := crvsResultEvent(t, crvsObject(t, raw)).Confirmation(ac2)
		if _, present := conf.Declaration["child.nid"]; present || conf.Declaration["deceased.nid"] != "123" {
			t.Fatalf("declaration %v", conf.Declaration)
		}
	})
}

func TestOpenCRVSFaultKnobs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		status      int
		contentType string
	}{
		{"events service error", 500, "application/json"},
		{"gateway unavailable", 503, "text/plain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCRVSEnv(t, CRVSOptions{})
			eventID, actionID := e.pendingRegistration("birth")
			tok := e.recordToken(eventID, actionID, Generation20)
			e.crvs.FailNext(1, tc.status)
			status, h, body := e.do("POST", "/events/event.actions.register.accept", crvsAuthHeader(tok), crvsJSON(t, map[string]any{"json": crvsAcceptInput(eventID, actionID)}))
			if status != tc.status || !strings.HasPrefix(h.Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d %q: %s", status, h.Get("Content-Type"), body)
			}
			if ev, _ := e.crvs.Event(eventID); len(ev.Actions) != 3 {
				t.Fatal("a failed call changed the event")
			}
			if status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID)); status != 200 {
				t.Fatalf("retry: %d %v", status, resp)
			}
			if calls := e.crvs.Calls(); len(calls) != 2 || calls[0].Status != tc.status {
				t.Fatalf("calls %+v", calls)
			}
		})
	}
	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		e := newCRVSEnv(t, CRVSOptions{})
		e.crvs.SetLatency(150 * time.Millisecond)
		start := time.Now()
		e.query("event.get", "", map[string]any{"eventId": newUUID()})
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("answered after %v", d)
		}
	})
}

func TestOpenCRVSClockDrivesExpiry(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	e := newCRVSEnv(t, CRVSOptions{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	eventID, actionID := e.pendingRegistration("birth")
	tok := e.recordToken(eventID, actionID, Generation20)
	offset.Store(int64(ActionConfirmationTTL + time.Minute))
	status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID))
	if got := crvsErrorOf(t, resp); status != 401 || got.DataCode != "UNAUTHORIZED" {
		t.Fatalf("a token older than 7 days: %d %+v", status, got)
	}
	offset.Store(0)
	if status, resp := e.mutate("event.actions.register.accept", tok, crvsAcceptInput(eventID, actionID)); status != 200 {
		t.Fatalf("within 7 days: %d %v", status, resp)
	}
}

func TestOpenCRVSRequestActionErrors(t *testing.T) {
	t.Parallel()
	e := newCRVSEnv(t, CRVSOptions{})
	eventID := e.crvs.CreateEvent("birth", nil)
	cases := []struct{ name, event, action string }{
		{"unknown event", newUUID(), ActionRegister},
		{"unsupported action", eventID, "PRINT_CERTIFICATE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := e.crvs.RequestAction(tc.event, tc.action); err == nil {
				t.Fatal("RequestAction succeeded")
			}
		})
	}
	if err := e.crvs.Assign(newUUID(), "u"); err == nil {
		t.Fatal("Assign on an unknown event succeeded")
	}
	if _, ok := e.crvs.Event(newUUID()); ok {
		t.Fatal("Event found an unknown id")
	}
}
