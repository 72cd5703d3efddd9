package opencrvs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tRPC error codes: the JSON-RPC number and HTTP status tRPC v11 maps each
// TRPCError code to.
var trpcCodes = map[string]struct{ num, status int }{
	"PARSE_ERROR":            {-32700, 400},
	"BAD_REQUEST":            {-32600, 400},
	"INTERNAL_SERVER_ERROR":  {-32603, 500},
	"UNAUTHORIZED":           {-32001, 401},
	"FORBIDDEN":              {-32003, 403},
	"NOT_FOUND":              {-32004, 404},
	"METHOD_NOT_SUPPORTED":   {-32005, 405},
	"CONFLICT":               {-32009, 409},
	"PAYLOAD_TOO_LARGE":      {-32013, 413},
	"UNSUPPORTED_MEDIA_TYPE": {-32015, 415},
}

// trpcError is a TRPCError (or, with plain, a bare JS Error that tRPC turns
// into INTERNAL_SERVER_ERROR keeping its message). An empty message becomes
// the code, as in tRPC.
type trpcError struct {
	code    string
	message string
	plain   bool
}

func newError(code, message string) *trpcError { return &trpcError{code: code, message: message} }

func (e *trpcError) msg() string {
	if e.message == "" {
		return e.code
	}
	return e.message
}

// undefinedT marks a JavaScript undefined (an absent input), which zod
// reports differently from null.
type undefinedT struct{}

var undefined any = undefinedT{}

// procedure is one tRPC procedure of the events router.
type procedure struct {
	mutation bool
	run      func(tok *tokenInfo, input any) (any, *trpcError)
}

func (c *CRVS) procedures() map[string]procedure {
	return map[string]procedure{
		"event.actions.register.accept":           {true, c.acceptProc(ActionRegister)},
		"event.actions.register.reject":           {true, c.rejectProc(ActionRegister)},
		"event.actions.correction.approve.accept": {true, c.acceptProc(ActionApproveCorrection)},
		"event.actions.correction.approve.reject": {true, c.rejectProc(ActionApproveCorrection)},
		"event.get": {false, c.getProc},
	}
}

// serveTRPC is the fetch/standalone adapter of tRPC v11 with the superjson
// transformer: one call per request, or several with ?batch=1 and
// comma-separated paths.
func (c *CRVS) serveTRPC(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, c.prefix+"/")
	batched := r.URL.Query().Get("batch") == "1"
	paths := []string{path}
	if batched {
		paths = strings.Split(path, ",")
	}

	c.mu.Lock()
	latency := c.latency
	failStatus := 0
	if c.failNext > 0 {
		c.failNext--
		failStatus = c.failStatus
	}
	c.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	if failStatus != 0 && failStatus != http.StatusInternalServerError {
		for _, p := range paths {
			c.record(r, p, batched, undefined, nil, failStatus, nil)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(failStatus)
		_, _ = io.WriteString(w, http.StatusText(failStatus))
		return
	}

	inputs, rerr := c.readInputs(w, r, batched, len(paths))
	if rerr != nil {
		for _, p := range paths {
			c.record(r, p, batched, undefined, nil, trpcCodes[rerr.code].status, rerr)
		}
		writeJSON(w, trpcCodes[rerr.code].status, map[string]any{"error": map[string]any{"json": c.errorShape(rerr, "")}})
		return
	}

	tok, authErr := c.authenticate(r)
	procs := c.procedures()
	results := make([]any, len(paths))
	statuses := make([]int, len(paths))
	for i, p := range paths {
		out, err := c.call(procs, r.Method, p, tok, authErr, inputs[i], failStatus != 0)
		status := http.StatusOK
		if err != nil {
			status = trpcCodes[err.code].status
			results[i] = map[string]any{"error": map[string]any{"json": c.errorShape(err, p)}}
		} else {
			results[i] = map[string]any{"result": map[string]any{"data": map[string]any{"json": out}}}
		}
		statuses[i] = status
		c.record(r, p, batched, inputs[i], tok, status, err)
	}

	if !batched {
		writeJSON(w, statuses[0], results[0])
		return
	}
	// tRPC answers a batch with the common status, or 207 when they differ.
	status := statuses[0]
	for _, s := range statuses[1:] {
		if s != status {
			status = http.StatusMultiStatus
		}
	}
	writeJSON(w, status, results)
}

func (c *CRVS) call(procs map[string]procedure, method, path string, tok *tokenInfo, authErr *trpcError,
	input any, injected bool) (any, *trpcError) {
	pr, ok := procs[path]
	if !ok {
		return nil, newError("NOT_FOUND", fmt.Sprintf("No procedure found on path %q", path))
	}
	kind := "query"
	if pr.mutation {
		kind = "mutation"
	}
	if (method == http.MethodGet) == pr.mutation || (method != http.MethodGet && method != http.MethodPost) {
		return nil, newError("METHOD_NOT_SUPPORTED", fmt.Sprintf("Unsupported %s-request to %s procedure at path %q", method, kind, path))
	}
	if injected {
		return nil, &trpcError{code: "INTERNAL_SERVER_ERROR", message: "Internal server error"}
	}
	if authErr != nil {
		return nil, authErr
	}
	return pr.run(tok, input)
}

// readInputs decodes the inputs of a request: GET from ?input=, POST from
// the JSON body (which tRPC only accepts with an application/json content
// type), each deserialized with superjson.
func (c *CRVS) readInputs(w http.ResponseWriter, r *http.Request, batched bool, n int) ([]any, *trpcError) {
	var raw []byte
	switch r.Method {
	case http.MethodGet:
		if s, ok := r.URL.Query()["input"]; ok {
			raw = []byte(s[0])
		}
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			return nil, newError("UNSUPPORTED_MEDIA_TYPE", "Missing content-type header")
		}
		if !strings.HasPrefix(ct, "application/json") {
			return nil, newError("UNSUPPORTED_MEDIA_TYPE", fmt.Sprintf("Unsupported content-type %q", ct))
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, newError("PAYLOAD_TOO_LARGE", "Request body too large")
			}
			return nil, newError("PARSE_ERROR", err.Error())
		}
		raw = body
	}
	inputs := make([]any, n)
	for i := range inputs {
		inputs[i] = undefined
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return inputs, nil
	}
	var parsed any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&parsed); err != nil || dec.More() {
		msg := "Unexpected end of JSON input"
		if err != nil {
			msg = err.Error()
		}
		return nil, newError("PARSE_ERROR", msg)
	}
	if !batched {
		inputs[0] = superjsonDeserialize(parsed)
		return inputs, nil
	}
	m, ok := parsed.(map[string]any)
	if !ok {
		return nil, newError("BAD_REQUEST", `"input" needs to be an object when doing a batch call`)
	}
	for i := range inputs {
		if v, ok := m[strconv.Itoa(i)]; ok {
			inputs[i] = superjsonDeserialize(v)
		}
	}
	return inputs, nil
}

// superjsonDeserialize undoes superjson.serialize for the plain inputs the
// bridge sends: {"json": v} is v; a meta annotation "undefined" (what the TS
// client writes for `{"child.nid": undefined}`) removes the key.
func superjsonDeserialize(raw any) any {
	m, ok := raw.(map[string]any)
	if !ok {
		return undefined
	}
	v, ok := m["json"]
	if !ok {
		return undefined
	}
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		return v
	}
	switch values := meta["values"].(type) {
	case []any:
		if len(values) > 0 && values[0] == "undefined" {
			return undefined
		}
	case map[string]any:
		applyUndefined(v, values)
	}
	return v
}

// applyUndefined walks superjson's annotation tree (escaped dotted paths to
// [type] or [type, children]) deleting the object keys marked "undefined".
func applyUndefined(root any, tree map[string]any) {
	for p, ann := range tree {
		segs := splitSuperjsonPath(p)
		parent, ok := root, true
		for _, s := range segs[:len(segs)-1] {
			var m map[string]any
			if m, ok = parent.(map[string]any); !ok {
				break
			}
			parent = m[s]
		}
		pm, isMap := parent.(map[string]any)
		if !ok || !isMap {
			continue
		}
		last := segs[len(segs)-1]
		a, _ := ann.([]any)
		if len(a) > 0 && a[0] == "undefined" {
			delete(pm, last)
			continue
		}
		if len(a) > 1 {
			if children, ok := a[1].(map[string]any); ok {
				applyUndefined(pm[last], children)
			}
		}
	}
}

// splitSuperjsonPath splits "declaration.child\.nid" into
// ["declaration", "child.nid"] (superjson escapes "." and "\" in keys).
func splitSuperjsonPath(p string) []string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			cur.WriteByte(p[i])
		case p[i] == '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(segs, cur.String())
}

// errorShape is tRPC v11's default error shape through OpenCRVS's
// errorFormatter: {message, code, data: {code, httpStatus, stack?, path}};
// in production unhandled errors are masked and lose path and stack.
func (c *CRVS) errorShape(e *trpcError, path string) json.RawMessage {
	info := trpcCodes[e.code]
	type data struct {
		Code       string `json:"code"`
		HTTPStatus int    `json:"httpStatus"`
		Stack      string `json:"stack,omitempty"`
		Path       string `json:"path,omitempty"`
	}
	type shape struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
		Data    data   `json:"data"`
	}
	s := shape{Message: e.msg(), Code: info.num, Data: data{Code: e.code, HTTPStatus: info.status, Path: path}}
	if c.production {
		if e.code == "INTERNAL_SERVER_ERROR" {
			s.Message, s.Data.Path = "Internal server error", ""
		}
	} else {
		kind := "TRPCError"
		if e.plain {
			kind = "Error"
		}
		s.Data.Stack = fmt.Sprintf("%s: %s\n    at %s (opencrvs-sandbox/events/router)", kind, s.Message, path)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return json.RawMessage(`{"message":"Internal server error","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500}}`)
	}
	return b
}

func (c *CRVS) record(r *http.Request, path string, batched bool, input any, tok *tokenInfo, status int, err *trpcError) {
	in := json.RawMessage("null")
	if input != undefined {
		if b, e := json.Marshal(input); e == nil {
			in = b
		}
	}
	call := Call{At: c.now(), Procedure: path, Method: r.Method, Batched: batched, Input: in, Status: status}
	if tok != nil {
		call.Subject, call.UserType = tok.Subject, tok.UserType
	}
	if err != nil {
		call.Code, call.Message = err.code, err.msg()
	}
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
	c.log.Info("opencrvs trpc call", "procedure", path, "method", r.Method, "batched", batched,
		"subject", call.Subject, "status", status, "code", call.Code, "message", call.Message, "input", string(in))
}

// tokenInfo is what the events service reads from a verified token.
type tokenInfo struct {
	Subject, UserType, Role string
	Scopes                  []string
	EventID, ActionID       string
}

// authenticate mirrors the events service context: no "Bearer " header is
// "Authorization token is missing"; a token that fails verification or lacks
// sub / userType / scope is "Authentication failed".
func (c *CRVS) authenticate(r *http.Request) (*tokenInfo, *trpcError) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.HasPrefix(h, "Bearer") || !isSpace(h[6]) {
		return nil, newError("UNAUTHORIZED", "Authorization token is missing")
	}
	// OpenCRVS takes token.split(' ')[1], so only a single space works.
	parts := strings.Split(h, " ")
	if len(parts) < 2 {
		return nil, newError("UNAUTHORIZED", "Authentication failed")
	}
	claims, err := c.auth.Verify(parts[1], c.now())
	if err != nil {
		return nil, newError("UNAUTHORIZED", "Authentication failed")
	}
	info, ok := tokenInfoFrom(claims)
	if !ok {
		return nil, newError("UNAUTHORIZED", "Authentication failed")
	}
	return &info, nil
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

// tokenInfoFrom extracts the claims; ok reports whether they satisfy the
// events service's TokenClaims schema.
func tokenInfoFrom(claims jwt.MapClaims) (tokenInfo, bool) {
	str := func(k string) (string, bool) { s, ok := claims[k].(string); return s, ok }
	var t tokenInfo
	sub, okSub := str("sub")
	t.Subject = sub
	t.UserType, _ = str("userType")
	t.Role, _ = str("role")
	t.EventID, _ = str("eventId")
	t.ActionID, _ = str("actionId")
	list, okScope := claims["scope"].([]any)
	for _, s := range list {
		if str, ok := s.(string); ok {
			t.Scopes = append(t.Scopes, str)
		} else {
			okScope = false
		}
	}
	return t, okSub && okScope && (t.UserType == "user" || t.UserType == "system")
}

// scope is a decoded scope: its type, the event types it is limited to
// (none = all) and whether it used the 2.0 "type=…" encoding.
type scope struct {
	typ     string
	events  []string
	encoded bool
}

// decodeScope reads both encodings: 2.0 "type=record.read&event=birth,death"
// and 1.9 plain "record.confirm-registration". The emulator serves either
// generation, so both are honoured wherever a scope is checked.
func decodeScope(s string) (scope, bool) {
	if !strings.Contains(s, "=") {
		return scope{typ: s}, s != ""
	}
	sc := scope{encoded: true}
	for kv := range strings.SplitSeq(s, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			sc.typ = v
		case "event":
			sc.events = strings.Split(v, ",")
		}
	}
	return sc, sc.typ != ""
}

// hasScope reports whether the token carries a scope of type typ that covers
// eventType ("" skips the event check).
func (t *tokenInfo) hasScope(typ, eventType string) bool {
	for _, s := range t.Scopes {
		sc, ok := decodeScope(s)
		if !ok || sc.typ != typ {
			continue
		}
		if eventType != "" && len(sc.events) > 0 && !slices.Contains(sc.events, eventType) {
			continue
		}
		return true
	}
	return false
}

// authorizeConfirmation is requireActionConfirmationAuthorization, extended
// for OpenCRVS 2.1: a system token carrying the 2.1 scope for this
// confirmation (record.action.accept / record.action.reject per the draft
// docs, or record.register / record.correct per the 2.1 mosip-api code) is
// accepted without record claims; otherwise the token needs both
// record.confirm-registration and record.reject-registration (either
// encoding) and eventId/actionId claims equal to the input.
func authorizeConfirmation(tok *tokenInfo, accept bool, actionType, eventType, eventID, actionID string) *trpcError {
	if tok.UserType == "system" {
		want := []string{ScopeActionReject}
		if accept {
			want = []string{ScopeActionAccept}
		}
		if actionType == ActionRegister {
			want = append(want, ScopeRegister)
		} else {
			want = append(want, ScopeCorrect)
		}
		for _, s := range want {
			if !tok.hasScope(s, eventType) {
				continue
			}
			if (tok.EventID != "" && tok.EventID != eventID) || (tok.ActionID != "" && tok.ActionID != actionID) {
				return newError("FORBIDDEN", "")
			}
			return nil
		}
	}
	if !tok.hasScope(ScopeConfirmRegistration, "") || !tok.hasScope(ScopeRejectRegistration, "") {
		return newError("FORBIDDEN", "Missing required scopes for action confirmation")
	}
	if tok.EventID == "" || tok.ActionID == "" {
		return newError("FORBIDDEN", "Missing required claims for action confirmation")
	}
	if tok.EventID != eventID || tok.ActionID != actionID {
		return newError("FORBIDDEN", "")
	}
	return nil
}

// conflict is OpenCRVS 2.1's refusal of confirmations on assigned events.
// Caller holds c.mu.
func (c *CRVS) conflict(ev *EventDocument) *trpcError {
	if c.assignConflict || ev.assignee() != "" {
		return newError("CONFLICT", "User is assigned to this event")
	}
	return nil
}

// confirmInput is the validated input of an accept or reject.
type confirmInput struct {
	eventID, actionID, transactionID string
	registrationNumber, requestID    string
	declaration, annotation, content map[string]any
}

// confirmationTarget is what accept and reject check first, in OpenCRVS's
// order: the token's scopes and claims (for the event's type), then that
// the event exists, then that no user is assigned. c.mu must be held.
func (c *CRVS) confirmationTarget(tok *tokenInfo, accept bool, actionType, eventID, actionID string) (*EventDocument, *trpcError) {
	ev := c.events[eventID]
	eventType := ""
	if ev != nil {
		eventType = ev.Type
	}
	if err := authorizeConfirmation(tok, accept, actionType, eventType, eventID, actionID); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, newError("NOT_FOUND", "Event not found with ID: "+eventID)
	}
	if err := c.conflict(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// acceptProc is getDefaultActionProcedures(actionType).accept.
func (c *CRVS) acceptProc(actionType string) func(*tokenInfo, any) (any, *trpcError) {
	return func(tok *tokenInfo, raw any) (any, *trpcError) {
		in, verr := parseAcceptInput(actionType, raw)
		if verr != nil {
			return nil, verr
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		ev, err := c.confirmationTarget(tok, true, actionType, in.eventID, in.actionID)
		if err != nil {
			return nil, err
		}
		original := ev.action(in.actionID)
		if original == nil {
			return nil, newError("NOT_FOUND", "Action not found.")
		}
		if conf := ev.confirmationOf(in.actionID); conf != nil {
			if conf.Status == StatusRejected {
				return nil, newError("BAD_REQUEST", "Action has already been rejected.")
			}
			return ev.clone(), nil
		}
		if actionType == ActionApproveCorrection && original.RequestID != in.requestID {
			return nil, newError("NOT_FOUND", "Correction request not found with ID: "+in.requestID)
		}
		a := c.confirmationAction(tok, actionType, StatusAccepted, in)
		a.Declaration, a.Annotation, a.Content = in.declaration, in.annotation, in.content
		if actionType == ActionRegister {
			a.RegistrationNumber = in.registrationNumber
		} else {
			a.RequestID = in.requestID
		}
		ev.Actions = append(ev.Actions, a)
		return ev.clone(), nil
	}
}

// rejectProc is getDefaultActionProcedures(actionType).reject. Its failures
// are plain Errors in OpenCRVS, hence INTERNAL_SERVER_ERROR.
func (c *CRVS) rejectProc(actionType string) func(*tokenInfo, any) (any, *trpcError) {
	return func(tok *tokenInfo, raw any) (any, *trpcError) {
		in, verr := parseRejectInput(raw)
		if verr != nil {
			return nil, verr
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		ev, err := c.confirmationTarget(tok, false, actionType, in.eventID, in.actionID)
		if err != nil {
			return nil, err
		}
		if ev.action(in.actionID) == nil {
			return nil, &trpcError{code: "INTERNAL_SERVER_ERROR", message: "Action not found.", plain: true}
		}
		if conf := ev.confirmationOf(in.actionID); conf != nil {
			if conf.Status == StatusAccepted {
				return nil, &trpcError{code: "INTERNAL_SERVER_ERROR", message: "Action has already been accepted.", plain: true}
			}
			return ev.clone(), nil
		}
		ev.Actions = append(ev.Actions, c.confirmationAction(tok, actionType, StatusRejected, in))
		return ev.clone(), nil
	}
}

// confirmationAction builds the Accepted/Rejected action written by the
// caller. Caller holds c.mu.
func (c *CRVS) confirmationAction(tok *tokenInfo, actionType, status string, in confirmInput) Action {
	a := Action{ID: newUUID(), TransactionID: in.transactionID, CreatedByUserType: tok.UserType,
		CreatedAt: c.timestamp(), CreatedBy: tok.Subject, Status: status, OriginalActionID: in.actionID, Type: actionType}
	if tok.UserType == "user" {
		a.CreatedByRole = tok.Role
		a.CreatedAtLocation = sandboxOfficeID
	}
	return a
}

// getProc is event.get: record.read (covering the event's type, else the
// event is "not found"), the token's eventId if any must match, and every
// read is written as a READ action.
func (c *CRVS) getProc(tok *tokenInfo, raw any) (any, *trpcError) {
	v, verr := newValidator(raw)
	if verr != nil {
		return nil, verr
	}
	eventID := v.uuid("eventId", true)
	v.str("customActionType", false)
	v.boolean("waitFor")
	if err := v.err(); err != nil {
		return nil, err
	}
	if !tok.hasScope(ScopeRead, "") {
		return nil, newError("FORBIDDEN", "")
	}
	if tok.EventID != "" && tok.EventID != eventID {
		return nil, newError("FORBIDDEN", "Token does not grant access to this event")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events[eventID]
	if ev == nil || !tok.hasScope(ScopeRead, ev.Type) {
		return nil, newError("NOT_FOUND", "Event not found with ID: "+eventID)
	}
	read := c.confirmationAction(tok, ActionRead, StatusAccepted, confirmInput{transactionID: newUUID()})
	read.OriginalActionID = ""
	read.Declaration = map[string]any{}
	ev.Actions = append(ev.Actions, read)
	return ev.clone(), nil
}

// parseAcceptInput validates the accept input in zod's key order: the
// action's input schema, then AsyncActionInput's actionId.
func parseAcceptInput(actionType string, raw any) (confirmInput, *trpcError) {
	v, verr := newValidator(raw)
	if verr != nil {
		return confirmInput{}, verr
	}
	var in confirmInput
	in.eventID = v.uuid("eventId", true)
	in.transactionID = v.str("transactionId", true)
	in.declaration = v.record("declaration")
	if in.declaration == nil {
		in.declaration = map[string]any{}
	}
	in.annotation = v.record("annotation")
	v.uuid("originalActionId", false)
	v.boolean("keepAssignment")
	v.boolean("keepAssignmentIfAccepted")
	v.boolean("keepAssignmentIfRejected")
	v.boolean("waitFor")
	v.nullishUUID("createdAtLocation")
	if actionType == ActionRegister {
		v.literal("type", ActionRegister)
		in.registrationNumber = v.str("registrationNumber", true)
	} else {
		in.requestID = v.str("requestId", true)
		v.literal("type", ActionApproveCorrection)
		in.content = v.record("content")
	}
	in.actionID = v.uuid("actionId", true)
	return in, v.err()
}

// parseRejectInput validates AsyncActionInput.
func parseRejectInput(raw any) (confirmInput, *trpcError) {
	v, verr := newValidator(raw)
	if verr != nil {
		return confirmInput{}, verr
	}
	var in confirmInput
	in.eventID = v.uuid("eventId", true)
	in.transactionID = v.str("transactionId", true)
	v.boolean("keepAssignment")
	v.boolean("waitFor")
	in.actionID = v.uuid("actionId", true)
	return in, v.err()
}

// zodIssue is a zod v4 issue; tRPC's BAD_REQUEST message for invalid input
// is the issue list as JSON indented by two spaces.
type zodIssue struct {
	Expected string   `json:"expected,omitempty"`
	Origin   string   `json:"origin,omitempty"`
	Code     string   `json:"code"`
	Format   string   `json:"format,omitempty"`
	Pattern  string   `json:"pattern,omitempty"`
	Values   []string `json:"values,omitempty"`
	Path     []any    `json:"path"`
	Message  string   `json:"message"`
}

// uuidPattern is zod v4's uuid() (RFC 9562 versions 1-8, plus nil and max).
const uuidPattern = `^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$`

var uuidRe = regexp.MustCompile(uuidPattern)

// validator checks an object input key by key, collecting zod issues.
type validator struct {
	in     map[string]any
	issues []zodIssue
}

func newValidator(raw any) (*validator, *trpcError) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, badInput([]zodIssue{typeIssue("object", raw, nil)})
	}
	return &validator{in: m}, nil
}

func typeIssue(expected string, got any, path []any) zodIssue {
	if path == nil {
		path = []any{}
	}
	return zodIssue{Expected: expected, Code: "invalid_type", Path: path,
		Message: fmt.Sprintf("Invalid input: expected %s, received %s", expected, jsTypeName(got))}
}

func jsTypeName(v any) string {
	switch v.(type) {
	case undefinedT:
		return "undefined"
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "object"
}

func (v *validator) get(key string) (any, bool) {
	x, ok := v.in[key]
	if !ok {
		return undefined, false
	}
	return x, true
}

func (v *validator) str(key string, required bool) string {
	x, present := v.get(key)
	if !present && !required {
		return ""
	}
	s, ok := x.(string)
	if !ok {
		v.issues = append(v.issues, typeIssue("string", x, []any{key}))
	}
	return s
}

func (v *validator) uuid(key string, required bool) string {
	x, present := v.get(key)
	if !present && !required {
		return ""
	}
	s, ok := x.(string)
	if !ok {
		v.issues = append(v.issues, typeIssue("string", x, []any{key}))
		return ""
	}
	if !uuidRe.MatchString(s) {
		v.issues = append(v.issues, zodIssue{Origin: "string", Code: "invalid_format", Format: "uuid",
			Pattern: uuidPattern, Path: []any{key}, Message: "Invalid UUID"})
		return ""
	}
	return s
}

func (v *validator) nullishUUID(key string) {
	if x, present := v.get(key); present && x != nil {
		v.uuid(key, false)
	}
}

func (v *validator) boolean(key string) {
	if x, present := v.get(key); present {
		if _, ok := x.(bool); !ok {
			v.issues = append(v.issues, typeIssue("boolean", x, []any{key}))
		}
	}
}

func (v *validator) record(key string) map[string]any {
	x, present := v.get(key)
	if !present {
		return nil
	}
	m, ok := x.(map[string]any)
	if !ok {
		v.issues = append(v.issues, typeIssue("record", x, []any{key}))
	}
	return m
}

func (v *validator) literal(key, want string) {
	if x, present := v.get(key); present && x != want {
		v.issues = append(v.issues, zodIssue{Code: "invalid_value", Values: []string{want}, Path: []any{key},
			Message: fmt.Sprintf("Invalid input: expected %q", want)})
	}
}

func (v *validator) err() *trpcError {
	if len(v.issues) == 0 {
		return nil
	}
	return badInput(v.issues)
}

func badInput(issues []zodIssue) *trpcError {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(issues)
	return newError("BAD_REQUEST", strings.TrimSuffix(b.String(), "\n"))
}
