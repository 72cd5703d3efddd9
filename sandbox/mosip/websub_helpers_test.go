package mosip

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// websubPartner is the partner id (and WebSub client id) the hub tests use.
const websubPartner = "opencrvs-partner"

// websubTestEnv is a hub served over real HTTP with its auth manager.
type websubTestEnv struct {
	am     *AuthManager
	hub    *Hub
	srv    *httptest.Server
	hubURL string
}

func newWebSubTestEnv(t *testing.T, mutate func(*HubOptions)) *websubTestEnv {
	t.Helper()
	am, err := NewAuthManager()
	if err != nil {
		t.Fatalf("NewAuthManager: %v", err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	opts := HubOptions{
		Auth:             am,
		PublicURL:        srv.URL + HubPath,
		Client:           &http.Client{Timeout: 2 * time.Second},
		DeliveryAttempts: 3,
		RetryBackoff:     5 * time.Millisecond,
		ReorderWindow:    50 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&opts)
	}
	hub := NewHub(opts)
	t.Cleanup(hub.Close)
	hub.Register(mux)
	return &websubTestEnv{am: am, hub: hub, srv: srv, hubURL: srv.URL + HubPath}
}

// token issues a token for clientID with exactly roles.
func (e *websubTestEnv) token(t *testing.T, clientID string, roles ...string) string {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"NO_WEBSUB_ROLE"}
	}
	tok, err := e.am.issue(Client{ClientID: clientID, Roles: roles})
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok
}

// partnerToken is what a CRVS deployment gives its WebSub client.
func (e *websubTestEnv) partnerToken(t *testing.T) string {
	return e.token(t, websubPartner, "SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL",
		"SUBSCRIBE_REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT_GENERAL", "PUBLISH_CREDENTIAL_STATUS_UPDATE_GENERAL")
}

type websubTestResponse struct {
	status      int
	contentType string
	body        string
}

// post sends a request to the hub at path with the given cookie header.
func (e *websubTestEnv) post(t *testing.T, path, contentType, cookie, body string) websubTestResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", contentType)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return websubTestResponse{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(b)}
}

// subscribe sends hub.mode=mode for topic and callback with a form body.
func (e *websubTestEnv) subscribe(t *testing.T, mode, token, topic, callback, secret string) websubTestResponse {
	t.Helper()
	form := url.Values{"hub.mode": {mode}, "hub.topic": {topic}, "hub.callback": {callback}}
	if secret != "" {
		form.Set("hub.secret", secret)
	}
	if mode == "subscribe" {
		form.Set("hub.lease_seconds", "3600")
	}
	resp := e.post(t, HubPath, "application/x-www-form-urlencoded", "Authorization="+token, form.Encode())
	if resp.status != http.StatusAccepted || resp.body != "hub.mode=accepted" {
		t.Fatalf("%s %s: got %d %q, want 202 hub.mode=accepted", mode, topic, resp.status, resp.body)
	}
	return resp
}

// subscribeVerified subscribes and waits until the subscription is active.
func (e *websubTestEnv) subscribeVerified(t *testing.T, topic string, cb *websubTestCallback, secret string) {
	t.Helper()
	e.subscribe(t, "subscribe", e.partnerToken(t), topic, cb.url, secret)
	websubWaitFor(t, "subscription active", func() bool {
		s, ok := e.hub.Subscription(topic, cb.url)
		return ok && s.State == SubscriptionActive
	})
}

// publish sends a content publish over HTTP.
func (e *websubTestEnv) publish(t *testing.T, token, topic, body string) websubTestResponse {
	t.Helper()
	cookie := ""
	if token != "" {
		cookie = "Authorization=" + token
	}
	return e.post(t, HubPath+"?hub.mode=publish&hub.topic="+topic, "application/json", cookie, body)
}

// websubTestGet is a GET the hub made to the callback.
type websubTestGet struct {
	path     string
	rawQuery string
	query    url.Values
}

// websubTestPost is a content delivery the callback received.
type websubTestPost struct {
	path   string
	header http.Header
	body   []byte
}

// websubTestCallback is a subscriber's callback server that records what
// the hub sends and answers as configured.
type websubTestCallback struct {
	srv *httptest.Server
	url string

	mu         sync.Mutex
	challenge  string // "echo", "wrong" or "fail"
	postStatus int
	gets       []websubTestGet
	posts      []websubTestPost
}

func newWebSubTestCallback(t *testing.T) *websubTestCallback {
	t.Helper()
	cb := &websubTestCallback{challenge: "echo", postStatus: http.StatusOK}
	cb.srv = httptest.NewServer(http.HandlerFunc(cb.serve))
	t.Cleanup(cb.srv.Close)
	cb.url = cb.srv.URL + "/websub/callback"
	return cb
}

func (cb *websubTestCallback) serve(w http.ResponseWriter, r *http.Request) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		cb.gets = append(cb.gets, websubTestGet{path: r.URL.Path, rawQuery: r.URL.RawQuery, query: q})
		if q.Get("hub.mode") == "denied" {
			w.WriteHeader(http.StatusOK)
			return
		}
		switch cb.challenge {
		case "echo":
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
		case "wrong":
			_, _ = io.WriteString(w, "not-the-challenge")
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, q.Get("hub.challenge"))
		}
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		cb.posts = append(cb.posts, websubTestPost{path: r.URL.Path, header: r.Header.Clone(), body: body})
		w.WriteHeader(cb.postStatus)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (cb *websubTestCallback) setChallenge(mode string) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.challenge = mode
}

func (cb *websubTestCallback) setPostStatus(status int) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.postStatus = status
}

func (cb *websubTestCallback) getRequests() []websubTestGet {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]websubTestGet(nil), cb.gets...)
}

func (cb *websubTestCallback) postRequests() []websubTestPost {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]websubTestPost(nil), cb.posts...)
}

// postBodies returns the bodies of the deliveries answered 2xx.
func (cb *websubTestCallback) postBodies() []string {
	var out []string
	for _, p := range cb.postRequests() {
		out = append(out, string(p.body))
	}
	return out
}

// waitGets waits for at least n GETs and returns them.
func (cb *websubTestCallback) waitGets(t *testing.T, n int) []websubTestGet {
	t.Helper()
	websubWaitFor(t, "callback GETs", func() bool { return len(cb.getRequests()) >= n })
	return cb.getRequests()
}

// waitPosts waits for at least n deliveries and returns them.
func (cb *websubTestCallback) waitPosts(t *testing.T, n int) []websubTestPost {
	t.Helper()
	websubWaitFor(t, "callback POSTs", func() bool { return len(cb.postRequests()) >= n })
	return cb.postRequests()
}

// websubWaitFor polls cond for up to 5 s.
func websubWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// websubQuiet waits briefly so that work which should not happen would
// have had time to show.
func websubQuiet() { time.Sleep(60 * time.Millisecond) }
