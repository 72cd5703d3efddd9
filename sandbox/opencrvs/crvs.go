package opencrvs

import (
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SystemClient is an integration registered in OpenCRVS (2.1 system-client
// mode): POST /auth/token with its id and secret yields a system token
// carrying Scopes.
type SystemClient struct {
	// ID and Secret are the client_id / client_secret pair.
	ID, Secret string
	// Scopes go into the token. The plain legacy forms record.read,
	// record.search, record.notify, record.create and record.import are
	// rewritten to their type=… encoding, as the auth service does; anything
	// else is written as given.
	Scopes []string
	// SystemID is the token's sub (OpenCRVS's system id); default ID, so the
	// recorded calls name the integration.
	SystemID string
	// Disabled clients (status not "active") get 401 invalid_client.
	Disabled bool
}

// CRVSOptions configure the emulator.
type CRVSOptions struct {
	// Auth signs and verifies tokens; a fresh one is generated when nil.
	Auth *Auth
	// Prefix is where the events tRPC API is mounted, default "/events"
	// (the gateway's path), so procedures answer at
	// POST /events/event.actions.register.accept.
	Prefix string
	// AuthPrefix is where the auth service's routes are mounted through the
	// gateway, default "/auth": POST /auth/token and GET /auth/.well-known.
	AuthPrefix string
	// Clients are the registered system clients.
	Clients []SystemClient
	// Now is the clock for tokens, expiry checks and action timestamps.
	Now func() time.Time
	// Logger receives one line per call; default discards.
	Logger *slog.Logger
	// AssignedUserConflict starts the CONFLICT knob on (see
	// SetAssignedUserConflict).
	AssignedUserConflict bool
	// Production reproduces NODE_ENV=production: INTERNAL_SERVER_ERROR
	// messages are masked to "Internal server error" without path, and no
	// stack is sent. Off, errors carry their message, path and a stack, as
	// in a development deployment.
	Production bool
	// MaxBodyBytes bounds request bodies; default 1 MiB.
	MaxBodyBytes int64
}

// Call is one tRPC procedure call OpenCRVS received.
type Call struct {
	At        time.Time
	Procedure string
	// Method is GET (query) or POST (mutation); Batched is the ?batch=1 form.
	Method  string
	Batched bool
	// Input is the input after superjson decoding (null when absent).
	Input json.RawMessage
	// Subject and UserType come from the verified token ("" if it failed).
	Subject, UserType string
	// Status is the HTTP status of this call's result; Code the tRPC error
	// code ("" on success) and Message its message.
	Status        int
	Code, Message string
}

// TokenCall is one POST /auth/token request.
type TokenCall struct {
	At        time.Time
	GrantType string
	ClientID  string
	Status    int
	// Error is the OAuth error code ("" on success).
	Error string
}

// CRVS emulates OpenCRVS core as the bridge sees it: the events tRPC API,
// the auth service's token endpoint and public key, and an in-memory event
// store. Safe for concurrent use.
type CRVS struct {
	auth       *Auth
	prefix     string
	authPrefix string
	now        func() time.Time
	log        *slog.Logger
	production bool
	maxBody    int64

	mu             sync.Mutex
	clients        map[string]SystemClient
	events         map[string]*EventDocument
	assignConflict bool
	calls          []Call
	tokenCalls     []TokenCall
	failNext       int
	failStatus     int
	latency        time.Duration
}

// NewCRVS returns an emulator with no events.
func NewCRVS(o CRVSOptions) (*CRVS, error) {
	if o.Auth == nil {
		a, err := NewAuth()
		if err != nil {
			return nil, err
		}
		o.Auth = a
	}
	if o.Prefix == "" {
		o.Prefix = "/events"
	}
	if o.AuthPrefix == "" {
		o.AuthPrefix = "/auth"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	c := &CRVS{auth: o.Auth, prefix: strings.TrimSuffix(o.Prefix, "/"), authPrefix: strings.TrimSuffix(o.AuthPrefix, "/"),
		now: o.Now, log: o.Logger, production: o.Production, maxBody: o.MaxBodyBytes,
		clients: map[string]SystemClient{}, events: map[string]*EventDocument{}, assignConflict: o.AssignedUserConflict}
	for _, cl := range o.Clients {
		c.AddClient(cl)
	}
	return c, nil
}

// Auth returns the key holder that signs and verifies this OpenCRVS's tokens.
func (c *CRVS) Auth() *Auth { return c.auth }

// Register mounts the routes:
//
//	{Prefix}/…                     tRPC procedures (GET queries, POST mutations, ?batch=1)
//	POST {AuthPrefix}/token        client_credentials and token exchange
//	GET /.well-known               the PEM public key (auth service root)
//	GET {AuthPrefix}/.well-known   the same key through the gateway
func (c *CRVS) Register(mux *http.ServeMux) {
	mux.HandleFunc(c.prefix+"/", c.serveTRPC)
	mux.HandleFunc("POST "+c.authPrefix+"/token", c.serveToken)
	mux.HandleFunc(c.authPrefix+"/token", hapiNotFound)
	mux.Handle("GET /.well-known", c.auth)
	if c.authPrefix != "" {
		mux.Handle("GET "+c.authPrefix+"/.well-known", c.auth)
	}
}

// AddClient registers (or replaces) a system client.
func (c *CRVS) AddClient(cl SystemClient) {
	if cl.SystemID == "" {
		cl.SystemID = cl.ID
	}
	cl.Scopes = append([]string(nil), cl.Scopes...)
	c.mu.Lock()
	c.clients[cl.ID] = cl
	c.mu.Unlock()
}

// SetAssignedUserConflict turns on or off OpenCRVS 2.1's refusal of
// confirmations: while on, every accept and reject answers 409 CONFLICT
// "User is assigned to this event", as when a registrar keeps the record
// assigned. Assign does the same for one event.
func (c *CRVS) SetAssignedUserConflict(on bool) {
	c.mu.Lock()
	c.assignConflict = on
	c.mu.Unlock()
}

// FailNext makes the next n tRPC requests fail with status: 500 answers the
// events service's masked tRPC INTERNAL_SERVER_ERROR envelope; any other
// status answers a plain-text proxy error (502, 503, 504 from the gateway's
// ingress), which is not JSON.
func (c *CRVS) FailNext(n, status int) {
	c.mu.Lock()
	c.failNext, c.failStatus = n, status
	c.mu.Unlock()
}

// SetLatency delays every tRPC request by d (until the client gives up).
func (c *CRVS) SetLatency(d time.Duration) {
	c.mu.Lock()
	c.latency = d
	c.mu.Unlock()
}

// Calls returns the tRPC calls received so far, oldest first.
func (c *CRVS) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// CallsTo returns the calls of one procedure, e.g.
// "event.actions.register.accept": the confirmations OpenCRVS received.
func (c *CRVS) CallsTo(procedure string) []Call {
	var out []Call
	for _, cl := range c.Calls() {
		if cl.Procedure == procedure {
			out = append(out, cl)
		}
	}
	return out
}

// TokenCalls returns the POST /auth/token requests received so far.
func (c *CRVS) TokenCalls() []TokenCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TokenCall(nil), c.tokenCalls...)
}

// ResetCalls forgets recorded calls and token requests.
func (c *CRVS) ResetCalls() {
	c.mu.Lock()
	c.calls, c.tokenCalls = nil, nil
	c.mu.Unlock()
}

// OAuth grant and token types of the auth service's /token endpoint.
const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:opencrvs:oauth:grant-type:token-exchange"
	subjectTokenType       = "urn:ietf:params:oauth:token-type:access_token"
	recordTokenType        = "urn:opencrvs:oauth:token-type:single_record_token"
	oauthErrorURI          = "Refer to https://documentation.opencrvs.org/technology/interoperability/authenticate-a-client"
)

// legacyToV2 are the plain scopes the auth service rewrites on the fly when
// issuing client_credentials tokens.
var legacyToV2 = map[string]bool{"record.notify": true, "record.search": true, "record.read": true,
	"record.create": true, "record.import": true}

// serveToken emulates the auth service's POST /token (reached as
// {gateway}/auth/token): parameters from the form or JSON body, falling back
// to the query string; every answer carries Cache-Control: no-store.
func (c *CRVS) serveToken(w http.ResponseWriter, r *http.Request) {
	params := c.tokenParams(w, r)
	get := func(k string) string {
		if v := params.Get(k); v != "" {
			return v
		}
		return r.URL.Query().Get(k)
	}
	grant := get("grant_type")
	call := TokenCall{At: c.now(), GrantType: grant, ClientID: get("client_id")}
	status, body := c.issueToken(grant, get)
	call.Status = status
	if e, ok := body["error"].(string); ok {
		call.Error = e
	}
	c.mu.Lock()
	c.tokenCalls = append(c.tokenCalls, call)
	c.mu.Unlock()
	c.log.Info("opencrvs auth token", "grant_type", grant, "client_id", call.ClientID, "status", status)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, body)
}

func (c *CRVS) issueToken(grant string, get func(string) string) (int, map[string]any) {
	switch grant {
	case grantClientCredentials:
		id, secret := get("client_id"), get("client_secret")
		if id == "" || secret == "" {
			return oauthInvalidRequest()
		}
		c.mu.Lock()
		cl, ok := c.clients[id]
		c.mu.Unlock()
		if !ok || cl.Secret != secret || cl.Disabled {
			return http.StatusUnauthorized, map[string]any{"error": "invalid_client",
				"error_description": "Invalid client id or secret", "error_uri": oauthErrorURI}
		}
		scopes := make([]string, len(cl.Scopes))
		for i, s := range cl.Scopes {
			if legacyToV2[s] {
				s = EncodeScope(s)
			}
			scopes[i] = s
		}
		tok, err := c.auth.SystemToken(SystemTokenOptions{Subject: cl.SystemID, Scopes: scopes, IssuedAt: c.now()})
		if err != nil {
			return http.StatusInternalServerError, hapiInternal()
		}
		return http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer"}
	case grantTokenExchange:
		subject := get("subject_token")
		eventID, actionID := get("event_id"), get("action_id")
		if eventID == "" || actionID == "" || subject == "" ||
			get("subject_token_type") != subjectTokenType || get("requested_token_type") != recordTokenType {
			return oauthInvalidRequest()
		}
		claims, err := c.auth.Verify(subject, c.now())
		if err != nil {
			return http.StatusUnauthorized, map[string]any{"error": "unauthorized_client",
				"error_description": "Invalid subject token"}
		}
		info, _ := tokenInfoFrom(claims)
		extra := []string{}
		for _, s := range info.Scopes {
			if sc, ok := decodeScope(s); ok && sc.encoded && (sc.typ == ScopeRead || sc.typ == "record.reject") {
				extra = append(extra, s)
			}
		}
		tok, err := c.auth.RecordToken(RecordTokenOptions{EventID: eventID, ActionID: actionID,
			Generation: Generation20, Subject: info.Subject, UserType: info.UserType, ExtraScopes: extra, IssuedAt: c.now()})
		if err != nil {
			return http.StatusInternalServerError, hapiInternal()
		}
		return http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer"}
	}
	return http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type",
		"error_description": `Invalid or undefined grant type. Only "client_credentials" or "urn:opencrvs:oauth:grant-type:token-exchange" are supported.`,
		"error_uri":         oauthErrorURI}
}

// tokenParams reads the payload the way Hapi parses it: form-encoded or JSON
// (string values only). An unreadable body yields no payload parameters.
func (c *CRVS) tokenParams(w http.ResponseWriter, r *http.Request) url.Values {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.maxBody))
	if err != nil || len(body) == 0 {
		return url.Values{}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return url.Values{}
		}
		v := url.Values{}
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			}
		}
		return v
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return url.Values{}
		}
		return v
	}
	return url.Values{}
}

func oauthInvalidRequest() (int, map[string]any) {
	return http.StatusBadRequest, map[string]any{"error": "invalid_request",
		"error_description": "Invalid request. Check that all required parameters have been provided.",
		"error_uri":         oauthErrorURI}
}

func hapiInternal() map[string]any {
	return map[string]any{"statusCode": 500, "error": "Internal Server Error", "message": "An internal server error occurred"}
}

// hapiNotFound answers non-POST requests to the token route as Hapi does for
// a route without that method.
func hapiNotFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]any{"statusCode": 404, "error": "Not Found", "message": "Not Found"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
