package mosip

// The MOSIP WebSub hub (Ballerina websubhub on Kafka), emulated on the wire:
// form-encoded subscribe/unsubscribe with the token read only from the
// Cookie header, MOSIP's role and partner-id authorization, asynchronous
// intent verification with a raw (unencoded) topic in the query, the
// "already registered" denial, and publish that answers HTTP 200 even when
// it is refused. Delivery, its failure mode and the fault knobs are in
// websub_delivery.go.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Hub paths: the bridge's configuration uses /websub/hub; MOSIP serves the
// hub at /hub.
const (
	HubPath      = "/websub/hub"
	HubMOSIPPath = "/hub"
)

// Reasons the hub gives, verbatim from MOSIP's hub where it has one.
const (
	hubReasonNoToken         = "Authorization token cannot be found"
	hubReasonBadToken        = "Unauthorized"
	hubReasonSubscriber      = "Subscriber is not authorized"
	hubReasonPublisher       = "Publisher is not authorized"
	hubReasonAlreadySub      = "Subscriber has already registered with the Hub"
	hubReasonBadMode         = "The request does not include valid `hub.mode` form param."
	hubReasonContentType     = "Endpoint only supports content type of application/x-www-form-urlencoded, application/json, application/xml, application/octet-stream and text/plain"
	hubReasonTopicExists     = "Topic has already registered with the Hub"
	hubReasonTopicMissing    = "Topic has not been registered in the Hub"
	hubReasonSecretMissing   = "hub.secret is required"
	hubReasonSecretTooLong   = "hub.secret must be less than 200 bytes"
	hubReasonInvalidCallback = "Invalid hub.callback param in the request."
)

const (
	// hubDefaultLeaseSeconds is Ballerina's DEFAULT_HUB_LEASE_SECONDS, sent
	// back in intent verification when the subscriber gave none.
	hubDefaultLeaseSeconds = "86400"
	// hubIntentAttempts is MOSIP's INTENT_VERIFICATION_COUNT.
	hubIntentAttempts = 3
	// hubMaxBody bounds hub requests; published credentials are a few
	// hundred KiB at most.
	hubMaxBody = 8 << 20
	// hubMaxSecret is WebSub's limit on hub.secret (it must be shorter).
	hubMaxSecret = 200
	// hubMaxRecords bounds every recorded list so a long `make run` does
	// not grow without limit; the oldest entries are dropped first.
	hubMaxRecords = 10000
)

// HubOptions configures NewHub. Zero values select MOSIP's behaviour with
// sandbox-friendly timings.
type HubOptions struct {
	// Auth verifies the tokens of subscribers and publishers (MOSIP's hub
	// asks the auth manager's validateToken). Required for the HTTP API.
	Auth *AuthManager
	// PublicURL is the hub's own URL, sent as rel="hub" in the Link header
	// of deliveries. Empty: derived from the subscribe request's Host.
	PublicURL string
	// Client makes intent-verification and delivery calls; default has a
	// 10 s timeout (MOSIP's per-attempt default).
	Client *http.Client
	// DeliveryAttempts is how many times a message is posted before the hub
	// gives up on the subscriber and stops delivering to it; default 3.
	DeliveryAttempts int
	// RetryBackoff is the wait before the second attempt, doubling after
	// (MOSIP: 3 s); default 1 s. Intent verification uses it too.
	RetryBackoff time.Duration
	// VerifyDelay is waited after a subscribe/unsubscribe is accepted and
	// before intent verification, like the real hub's asynchronous
	// validation; default 0.
	VerifyDelay time.Duration
	// ReorderWindow is how long a lone queued message is held back while
	// ReorderDeliveries is on, waiting for a second one to swap it with;
	// default 1 s.
	ReorderWindow time.Duration
	// DeniedStatus is the HTTP status of a subscribe/unsubscribe refused by
	// authorization. MOSIP's hub returns a plain error from onSubscription,
	// which the websubhub library maps to its internal-subscription error
	// (500); default 500. Values outside 300–599 select the default.
	DeniedStatus int
	// Logger receives the hub's log; default discards.
	Logger *slog.Logger
}

// SubscriptionState is the delivery state of a verified subscription.
type SubscriptionState string

// Subscription states.
const (
	// SubscriptionActive subscriptions receive deliveries.
	SubscriptionActive SubscriptionState = "active"
	// SubscriptionStopped subscriptions exhausted their delivery attempts:
	// the hub queues but does not deliver until the subscriber subscribes
	// again (MOSIP closes the Kafka consumer without committing).
	SubscriptionStopped SubscriptionState = "stopped"
)

// Hub emulates MOSIP's WebSub hub. It implements Publisher for the emulated
// MOSIP services and serves the WebSub HTTP API through Register. All
// methods are safe for concurrent use.
type Hub struct {
	auth          *AuthManager
	publicURL     string
	client        *http.Client
	attempts      int
	backoff       time.Duration
	verifyDelay   time.Duration
	reorderWindow time.Duration
	deniedStatus  int
	log           *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	topics        map[string]bool
	subs          map[hubSubKey]*hubSubscription
	published     []Publication
	deliveries    []Delivery
	verifications []Verification
	statusUpdates []CredentialStatusUpdate
	paused        bool
	duplicate     bool
	reorder       bool
	dropNext      int
}

// NewHub returns a running hub; Close stops its background work.
func NewHub(opts HubOptions) *Hub {
	h := &Hub{
		auth:          opts.Auth,
		publicURL:     opts.PublicURL,
		client:        opts.Client,
		attempts:      opts.DeliveryAttempts,
		backoff:       opts.RetryBackoff,
		verifyDelay:   opts.VerifyDelay,
		reorderWindow: opts.ReorderWindow,
		deniedStatus:  opts.DeniedStatus,
		log:           opts.Logger,
		topics:        map[string]bool{},
		subs:          map[hubSubKey]*hubSubscription{},
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: 10 * time.Second}
	}
	if h.attempts <= 0 {
		h.attempts = 3
	}
	if h.backoff <= 0 {
		h.backoff = time.Second
	}
	if h.reorderWindow <= 0 {
		h.reorderWindow = time.Second
	}
	if h.deniedStatus < 300 || h.deniedStatus > 599 {
		h.deniedStatus = http.StatusInternalServerError
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// Register mounts the hub on mux at POST /websub/hub and POST /hub.
func (h *Hub) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+HubPath, h.serveHub)
	mux.HandleFunc("POST "+HubMOSIPPath, h.serveHub)
}

// Close stops deliveries and verifications in flight and waits for them.
// Later publishes fail; subscribe requests are still answered but never
// verified.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// goAsync runs f in the background unless the hub is closed; Close waits
// for it. Adding to the WaitGroup under the lock keeps Add from racing
// Close's Wait.
func (h *Hub) goAsync(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// serveHub is the hub endpoint: the websubhub library's dispatch on
// hub.mode, which comes from the form body for form posts and from the query
// for content publishes.
func (h *Hub) serveHub(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, hubMaxBody)
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		hubText(w, http.StatusBadRequest, "invalid Content-Type header: "+err.Error())
		return
	}
	var params url.Values
	switch mediaType {
	case "application/x-www-form-urlencoded":
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			hubBodyError(w, err)
			return
		}
		params, err = url.ParseQuery(string(raw))
		if err != nil {
			hubText(w, http.StatusBadRequest, "invalid form body: "+err.Error())
			return
		}
	case "application/json", "application/xml", "application/octet-stream", "text/plain":
		params = r.URL.Query()
	default:
		hubText(w, http.StatusBadRequest, hubReasonContentType)
		return
	}
	switch params.Get("hub.mode") {
	case "subscribe":
		h.serveSubscribe(w, r, params)
	case "unsubscribe":
		h.serveUnsubscribe(w, r, params)
	case "publish":
		h.servePublish(w, r, params, mediaType)
	case "register":
		h.serveTopic(w, r, params, true)
	case "deregister":
		h.serveTopic(w, r, params, false)
	default:
		hubText(w, http.StatusBadRequest, hubReasonBadMode)
	}
}

// hubSubRequest is a parsed subscribe or unsubscribe request.
type hubSubRequest struct {
	topic, callback, secret, lease string
	hubURL                         string
}

// parseSubRequest reads the fields both modes share, answering 400 like
// the websubhub library when one is missing.
func (h *Hub) parseSubRequest(w http.ResponseWriter, r *http.Request, params url.Values) (hubSubRequest, bool) {
	req := hubSubRequest{
		topic:    params.Get("hub.topic"),
		callback: params.Get("hub.callback"),
		secret:   params.Get("hub.secret"),
		lease:    hubDefaultLeaseSeconds,
		hubURL:   h.hubURL(r),
	}
	for _, f := range []struct{ name, value string }{{"hub.topic", req.topic}, {"hub.callback", req.callback}} {
		if f.value == "" {
			hubText(w, http.StatusBadRequest, "Empty value found for parameter '"+f.name+"'")
			return req, false
		}
	}
	// Ballerina falls back to the default lease on an unparsable value.
	if n, err := strconv.Atoi(params.Get("hub.lease_seconds")); err == nil {
		req.lease = strconv.Itoa(n)
	}
	return req, true
}

// serveSubscribe answers 202 once the caller is authorized, then validates
// and verifies intent in the background.
func (h *Hub) serveSubscribe(w http.ResponseWriter, r *http.Request, params url.Values) {
	req, ok := h.parseSubRequest(w, r, params)
	if !ok {
		return
	}
	if reason, ok := h.authorizeSubscriber(r, req.topic); !ok {
		hubForm(w, h.deniedStatus, "hub.mode=denied&hub.reason="+reason)
		return
	}
	// MOSIP's hub casts hub.secret to string in onSubscription: without
	// one the request fails inside the hub.
	if req.secret == "" {
		hubForm(w, http.StatusInternalServerError, "hub.mode=denied&hub.reason="+hubReasonSecretMissing)
		return
	}
	if len(req.secret) >= hubMaxSecret {
		hubForm(w, http.StatusBadRequest, "hub.mode=denied&hub.reason="+hubReasonSecretTooLong)
		return
	}
	// The real hub accepts any callback and then fails to reach it
	// silently; refusing it here makes a misconfiguration visible at once.
	if !hubValidCallback(req.callback) {
		hubForm(w, http.StatusBadRequest, "hub.mode=denied&hub.reason="+hubReasonInvalidCallback)
		return
	}
	if !h.goAsync(func() { h.verifySubscribe(req) }) {
		hubText(w, http.StatusServiceUnavailable, "hub is shutting down")
		return
	}
	hubForm(w, http.StatusAccepted, "hub.mode=accepted")
}

// serveUnsubscribe answers 202 once the caller is authorized, then verifies
// intent in the background.
func (h *Hub) serveUnsubscribe(w http.ResponseWriter, r *http.Request, params url.Values) {
	req, ok := h.parseSubRequest(w, r, params)
	if !ok {
		return
	}
	if reason, ok := h.authorizeSubscriber(r, req.topic); !ok {
		hubForm(w, h.deniedStatus, "hub.mode=denied&hub.reason="+reason)
		return
	}
	if !hubValidCallback(req.callback) {
		hubForm(w, http.StatusBadRequest, "hub.mode=denied&hub.reason="+hubReasonInvalidCallback)
		return
	}
	if !h.goAsync(func() { h.verifyUnsubscribe(req) }) {
		hubText(w, http.StatusServiceUnavailable, "hub is shutting down")
		return
	}
	hubForm(w, http.StatusAccepted, "hub.mode=accepted")
}

// servePublish is POST {hub}?hub.mode=publish&hub.topic=<t>. Refusals come
// back as HTTP 200 with hub.mode=denied (the websubhub library gives its
// update-message error status 200), so a publisher must read the body.
func (h *Hub) servePublish(w http.ResponseWriter, r *http.Request, params url.Values, mediaType string) {
	topic := params.Get("hub.topic")
	if topic == "" {
		hubText(w, http.StatusBadRequest, "Empty value found for parameter 'hub.topic'")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		hubBodyError(w, err)
		return
	}
	if mediaType == "application/json" && !json.Valid(body) {
		hubText(w, http.StatusBadRequest, "Error occurred while retrieving the json payload from the request")
		return
	}
	if reason, ok := h.authorizePublisher(r, topic); !ok {
		hubForm(w, http.StatusOK, "hub.mode=denied&hub.reason="+reason)
		return
	}
	// MOSIP's hub re-reads every stored message as JSON before delivery and
	// skips what is not: other content is accepted and never delivered.
	if err := h.publish(topic, body, mediaType != "application/json"); err != nil {
		hubForm(w, http.StatusOK, "hub.mode=denied&hub.reason="+err.Error())
		return
	}
	hubForm(w, http.StatusOK, "hub.mode=accepted")
}

// serveTopic is topic registration and deregistration, which MOSIP
// services do at start-up; both are authorized like a publish.
func (h *Hub) serveTopic(w http.ResponseWriter, r *http.Request, params url.Values, register bool) {
	topic := params.Get("hub.topic")
	if topic == "" {
		hubText(w, http.StatusBadRequest, "Empty value found for parameter 'hub.topic'")
		return
	}
	if reason, ok := h.authorizePublisher(r, topic); !ok {
		hubForm(w, http.StatusOK, "hub.mode=denied&hub.reason="+reason)
		return
	}
	h.mu.Lock()
	known := h.topics[topic]
	switch {
	case register && known:
		h.mu.Unlock()
		hubForm(w, http.StatusOK, "hub.mode=denied&hub.reason="+hubReasonTopicExists)
		return
	case !register && !known:
		h.mu.Unlock()
		hubForm(w, http.StatusOK, "hub.mode=denied&hub.reason="+hubReasonTopicMissing)
		return
	case register:
		h.topics[topic] = true
	default:
		delete(h.topics, topic)
	}
	h.mu.Unlock()
	hubForm(w, http.StatusOK, "hub.mode=accepted")
}

// hubToken extracts the token the way MOSIP's hub does: the Cookie header
// split on "; ", the first part starting with "Authorization=", its value
// up to the next '='. No Bearer header, no other cookie syntax.
func hubToken(r *http.Request) (string, bool) {
	header := r.Header.Get("Cookie")
	if header == "" {
		return "", false
	}
	for _, part := range strings.Split(header, "; ") {
		if strings.HasPrefix(part, "Authorization=") {
			value := strings.Split(part, "=")[1]
			return value, value != ""
		}
	}
	return "", false
}

// hubCaller validates the request's token; on failure it returns the
// reason the hub would give.
func (h *Hub) hubCaller(r *http.Request) (Caller, string, bool) {
	token, ok := hubToken(r)
	if !ok {
		return Caller{}, hubReasonNoToken, false
	}
	if h.auth == nil {
		return Caller{}, hubReasonBadToken, false
	}
	caller, ok := h.auth.Verify(token)
	if !ok {
		return Caller{}, hubReasonBadToken, false
	}
	return caller, "", true
}

// hubTopicParts splits "<partnerId>/<EVENT>" at the first '/'; general
// topics have no partner.
func hubTopicParts(topic string) (partner, event string, individual bool) {
	if i := strings.IndexByte(topic, '/'); i >= 0 {
		return topic[:i], topic[i+1:], true
	}
	return "", topic, false
}

// authorizeSubscriber is MOSIP's rule: a partner topic needs
// SUBSCRIBE_<EVENT>_INDIVIDUAL and the caller's user id (the client id once
// "service-account-" is stripped) equal to the partner id; a general topic
// needs SUBSCRIBE_<TOPIC>_GENERAL.
func (h *Hub) authorizeSubscriber(r *http.Request, topic string) (string, bool) {
	caller, reason, ok := h.hubCaller(r)
	if !ok {
		return reason, false
	}
	partner, event, individual := hubTopicParts(topic)
	if individual {
		userID := strings.TrimPrefix(caller.ClientID, "service-account-")
		if caller.HasRole("SUBSCRIBE_"+event+"_INDIVIDUAL") && userID == partner {
			return "", true
		}
		return hubReasonSubscriber, false
	}
	if caller.HasRole("SUBSCRIBE_" + event + "_GENERAL") {
		return "", true
	}
	return hubReasonSubscriber, false
}

// authorizePublisher is MOSIP's rule: a partner topic needs
// PUBLISH_<EVENT>_ALL_INDIVIDUAL (for any partner), a general topic
// PUBLISH_<TOPIC>_GENERAL.
func (h *Hub) authorizePublisher(r *http.Request, topic string) (string, bool) {
	caller, reason, ok := h.hubCaller(r)
	if !ok {
		return reason, false
	}
	_, event, individual := hubTopicParts(topic)
	role := "PUBLISH_" + event + "_GENERAL"
	if individual {
		role = "PUBLISH_" + event + "_ALL_INDIVIDUAL"
	}
	if caller.HasRole(role) {
		return "", true
	}
	return hubReasonPublisher, false
}

// hubURL is the rel="hub" link: the configured public URL, else the URL
// the subscriber used to reach the hub.
func (h *Hub) hubURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

func hubValidCallback(callback string) bool {
	u, err := url.Parse(callback)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// verifySubscribe is the hub's asynchronous half of a subscribe: an
// existing subscription is denied as "already registered" (and, if its
// delivery had stopped, revived), otherwise the callback must echo a
// challenge before the subscription exists.
func (h *Hub) verifySubscribe(req hubSubRequest) {
	if !hubSleep(h.ctx, h.verifyDelay) {
		return
	}
	key := hubSubKey{topic: req.topic, callback: req.callback}
	h.mu.Lock()
	h.topics[req.topic] = true
	_, exists := h.subs[key]
	h.mu.Unlock()
	if exists {
		h.notifyDenied(req.topic, req.callback, hubReasonAlreadySub)
		h.revive(key)
		return
	}
	challenge := hubChallenge()
	query := "hub.mode=subscribe&hub.topic=" + req.topic + "&hub.challenge=" + challenge +
		"&hub.lease_seconds=" + req.lease
	if !h.verifyIntent("subscribe", req.topic, req.callback, query, challenge) {
		return
	}
	h.activate(key, req)
}

// verifyUnsubscribe is the asynchronous half of an unsubscribe. Like the
// websubhub library, a validation failure sends the denied notification
// and then still goes on to verify intent.
func (h *Hub) verifyUnsubscribe(req hubSubRequest) {
	if !hubSleep(h.ctx, h.verifyDelay) {
		return
	}
	key := hubSubKey{topic: req.topic, callback: req.callback}
	h.mu.Lock()
	topicKnown := h.topics[req.topic]
	_, exists := h.subs[key]
	h.mu.Unlock()
	switch {
	case !topicKnown:
		h.notifyDenied(req.topic, req.callback, "Topic ["+req.topic+"] is not registered with the Hub")
	case !exists:
		h.notifyDenied(req.topic, req.callback,
			"Could not find a valid subscriber for Topic ["+req.topic+"] and Callback ["+req.callback+"]")
	}
	challenge := hubChallenge()
	query := "hub.mode=unsubscribe&hub.topic=" + req.topic + "&hub.challenge=" + challenge
	if !h.verifyIntent("unsubscribe", req.topic, req.callback, query, challenge) {
		return
	}
	h.remove(key, "unsubscribed")
}

// notifyDenied sends GET <callback>?hub.mode=denied&hub.topic=…&hub.reason=….
func (h *Hub) notifyDenied(topic, callback, reason string) {
	query := "hub.mode=denied&hub.topic=" + topic + "&hub.reason=" + reason
	status, _, err := h.getCallback(callback, query)
	v := Verification{Mode: "denied", Topic: topic, Callback: callback, Status: status, Reason: reason, Time: time.Now()}
	if err != nil {
		v.Error = err.Error()
	}
	h.recordVerification(v)
}

// verifyIntent sends the challenge and reports whether the callback
// answered 2xx with exactly the challenge as body.
func (h *Hub) verifyIntent(mode, topic, callback, query, challenge string) bool {
	status, body, err := h.getCallback(callback, query)
	v := Verification{Mode: mode, Topic: topic, Callback: callback, Status: status, Time: time.Now()}
	if err != nil {
		v.Error = err.Error()
	}
	v.Verified = err == nil && status/100 == 2 && body == challenge
	h.recordVerification(v)
	if !v.Verified {
		h.log.Info("websub intent verification failed", "mode", mode, "topic", topic, "callback", callback,
			"status", status, "err", v.Error)
	}
	return v.Verified
}

// getCallback GETs callback with query appended by plain concatenation (as
// the websubhub library builds it, values unencoded: the topic keeps its raw
// '/'), retrying transport errors and non-2xx answers with backoff. It
// returns the last status and body (bounded).
func (h *Hub) getCallback(callback, query string) (int, string, error) {
	sep := "?"
	if strings.Contains(callback, "?") {
		sep = "&"
	}
	target := callback + sep + hubQueryEscape(query)
	var (
		status int
		body   string
		err    error
	)
	wait := h.backoff
	for attempt := 1; attempt <= hubIntentAttempts; attempt++ {
		if attempt > 1 {
			if !hubSleep(h.ctx, wait) {
				return status, body, h.ctx.Err()
			}
			wait *= 2
		}
		status, body, err = h.getOnce(target)
		if err == nil && status/100 == 2 {
			return status, body, nil
		}
	}
	return status, body, err
}

func (h *Hub) getOnce(target string) (int, string, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, string(b), nil
}

// hubQueryEscape percent-encodes only the bytes an HTTP request line cannot
// carry (spaces in hub.reason, controls, non-ASCII), so the query otherwise
// stays the hub's raw concatenation.
func hubQueryEscape(q string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#<>\\^`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hubChallenge is a random UUID v4, like Ballerina's uuid:createType4AsString.
func hubChallenge() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// hubSleep waits d unless ctx ends first; it reports whether the wait
// completed.
func hubSleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hubForm answers with a form-encoded body built by concatenation (the
// websubhub library does not encode hub.reason either).
func hubForm(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// hubText answers a malformed request the way the websubhub library does:
// a plain-text message.
func hubText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func hubBodyError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		hubText(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	hubText(w, http.StatusBadRequest, "could not read the request body: "+err.Error())
}
