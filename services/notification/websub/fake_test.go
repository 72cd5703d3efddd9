package websub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHub behaves like MOSIP's hub on the wire: form subscribe with the
// token in Cookie: Authorization=…, 202 hub.mode=accepted, then an
// asynchronous GET to the callback with the query concatenated unencoded
// (the topic keeps its '/'): a challenge for a new subscription, or
// hub.mode=denied "Subscriber has already registered with the Hub" for an
// existing one. Knobs replace answers and GETs for failure tests.
type fakeHub struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	revoked    map[string]bool
	answers    []hubAnswer // consumed first by POSTs
	denyGET    string      // when set, the GET is hub.mode=denied with this reason
	silent     bool        // accept but never call back
	lease      string      // hub.lease_seconds sent in verification; default what was asked or 86400
	subscribed map[string]bool
	requests   []hubRequest
	gets       []hubGet
	published  []hubRequest
	wg         sync.WaitGroup
}

type hubAnswer struct {
	status int
	body   string
}

type hubRequest struct {
	Form   url.Values
	Query  url.Values
	Cookie string
	Body   string
	CT     string
}

type hubGet struct {
	Mode, Topic, Reason string
	Status              int
	Verified            bool
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	h := &fakeHub{t: t, revoked: map[string]bool{}, subscribed: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		h.srv.Close()
		h.wg.Wait()
	})
	return h
}

func (h *fakeHub) url() *url.URL { u, _ := url.Parse(h.srv.URL + "/hub"); return u }

func (h *fakeHub) setAnswers(a ...hubAnswer) { h.mu.Lock(); h.answers = a; h.mu.Unlock() }
func (h *fakeHub) setDenyGET(r string)       { h.mu.Lock(); h.denyGET = r; h.mu.Unlock() }
func (h *fakeHub) setSilent(on bool)         { h.mu.Lock(); h.silent = on; h.mu.Unlock() }
func (h *fakeHub) revokeToken(tok string)    { h.mu.Lock(); h.revoked[tok] = true; h.mu.Unlock() }

func (h *fakeHub) subscribeRequests() []hubRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hubRequest(nil), h.requests...)
}

func (h *fakeHub) callbacks() []hubGet {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hubGet(nil), h.gets...)
}

func (h *fakeHub) publishes() []hubRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hubRequest(nil), h.published...)
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := hubRequest{Query: r.URL.Query(), Cookie: r.Header.Get("Cookie"), Body: string(raw), CT: r.Header.Get("Content-Type")}
	token, _ := strings.CutPrefix(req.Cookie, "Authorization=")
	h.mu.Lock()
	var forced *hubAnswer
	if len(h.answers) > 0 {
		forced, h.answers = &h.answers[0], h.answers[1:]
	}
	valid := strings.HasPrefix(token, "tok-") && !h.revoked[token]
	if req.Query.Get("hub.mode") == "publish" {
		h.published = append(h.published, req)
		h.mu.Unlock()
		switch {
		case forced != nil:
			writeForm(w, forced.status, forced.body)
		case !valid:
			writeForm(w, 200, "hub.mode=denied&hub.reason=Unauthorized")
		default:
			writeForm(w, 200, "hub.mode=accepted")
		}
		return
	}
	req.Form, _ = url.ParseQuery(string(raw))
	h.requests = append(h.requests, req)
	silent, denyGET, lease := h.silent, h.denyGET, h.lease
	h.mu.Unlock()
	switch {
	case forced != nil:
		writeForm(w, forced.status, forced.body)
		return
	case !valid:
		writeForm(w, 500, "hub.mode=denied&hub.reason=Unauthorized")
		return
	}
	topic, callback := req.Form.Get("hub.topic"), req.Form.Get("hub.callback")
	if lease == "" {
		lease = req.Form.Get("hub.lease_seconds")
	}
	if lease == "" {
		lease = "86400"
	}
	if !silent {
		h.wg.Go(func() { h.verify(topic, callback, lease, denyGET) })
	}
	writeForm(w, http.StatusAccepted, "hub.mode=accepted")
}

// verify is the hub's asynchronous half, after a short delay like the
// real hub's validation.
func (h *fakeHub) verify(topic, callback, lease, denyGET string) {
	time.Sleep(5 * time.Millisecond)
	key := topic + " " + callback
	h.mu.Lock()
	exists := h.subscribed[key]
	h.mu.Unlock()
	var query, challenge string
	switch {
	case denyGET != "":
		query = "hub.mode=denied&hub.topic=" + topic + "&hub.reason=" + strings.ReplaceAll(denyGET, " ", "%20")
	case exists:
		query = "hub.mode=denied&hub.topic=" + topic + "&hub.reason=Subscriber%20has%20already%20registered%20with%20the%20Hub"
	default:
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		challenge = hex.EncodeToString(b)
		query = "hub.mode=subscribe&hub.topic=" + topic + "&hub.challenge=" + challenge + "&hub.lease_seconds=" + lease
	}
	status, body := h.get(callback + "?" + query)
	g := hubGet{Topic: topic, Status: status}
	q, _ := url.ParseQuery(query)
	g.Mode, g.Reason = q.Get("hub.mode"), q.Get("hub.reason")
	if challenge != "" && status/100 == 2 && body == challenge {
		g.Verified = true
		h.mu.Lock()
		h.subscribed[key] = true
		h.mu.Unlock()
	}
	h.mu.Lock()
	h.gets = append(h.gets, g)
	h.mu.Unlock()
}

func (h *fakeHub) get(target string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		h.t.Errorf("hub: bad callback URL %q: %v", target, err)
		return 0, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func writeForm(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// callbackServer routes GETs to the Manager's VerifyIntent, as the
// notification service's handler does.
type callbackServer struct {
	srv *httptest.Server
	m   atomic.Pointer[Manager]
}

func newCallbackServer(t *testing.T) *callbackServer {
	t.Helper()
	cs := &callbackServer{}
	cs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := cs.m.Load()
		if r.Method != http.MethodGet || m == nil {
			http.NotFound(w, r)
			return
		}
		status, body := m.VerifyIntent(r.URL.Path, r.URL.Query())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(cs.srv.Close)
	return cs
}

// tokens is a TokenSource that hands out tok-1, then tok-2, … after each
// invalidation.
type tokens struct {
	mu            sync.Mutex
	n             int
	invalidations int
	fail          error
}

func (ts *tokens) token(context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.fail != nil {
		return "", ts.fail
	}
	return fmt.Sprintf("tok-%d", ts.n+1), nil
}

func (ts *tokens) invalidate(context.Context) {
	ts.mu.Lock()
	ts.n++
	ts.invalidations++
	ts.mu.Unlock()
}

func (ts *tokens) count() int { ts.mu.Lock(); defer ts.mu.Unlock(); return ts.invalidations }
