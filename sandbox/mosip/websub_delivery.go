package mosip

// Content delivery of the emulated WebSub hub: one ordered queue and one
// worker per subscription, standing in for MOSIP's Kafka consumer group per
// subscriber. A message leaves the queue only when the subscriber answered
// 2xx (the Kafka commit); after the last failed attempt the worker stops,
// keeping the message, until the subscriber subscribes again.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ErrHubClosed is returned by Publish after Close.
var ErrHubClosed = errors.New("websub hub closed")

// Publication is a message published to the hub.
type Publication struct {
	Topic string
	Body  []byte
	Time  time.Time
	// Dropped messages were accepted but will never be delivered: lost by
	// DropNext, or not JSON (the real hub cannot deserialize them).
	Dropped bool
}

// Delivery is one POST of a message to a subscriber.
type Delivery struct {
	Topic    string
	Callback string
	// URL is where it was posted (the callback with '/' appended).
	URL string
	// Status is the subscriber's HTTP status; 0 when no response came.
	Status int
	// Error describes a transport failure or timeout.
	Error string
	// Attempt counts from 1 within one delivery of one message.
	Attempt int
	Time    time.Time
}

// Verification is one GET the hub made to a callback: an intent
// verification (Mode subscribe/unsubscribe) or a denial (Mode denied).
type Verification struct {
	Mode     string
	Topic    string
	Callback string
	// Status is the callback's final HTTP status; 0 when no response came.
	Status int
	Error  string
	// Verified reports whether the callback echoed the challenge.
	Verified bool
	// Reason is the hub.reason of a denial.
	Reason string
	Time   time.Time
}

// SubscriptionInfo describes a verified subscription.
type SubscriptionInfo struct {
	Topic    string
	Callback string
	State    SubscriptionState
	// Pending counts the messages not yet acknowledged with a 2xx,
	// including one being delivered.
	Pending int
	// LeaseSeconds is what the subscriber asked for; never enforced, as in
	// MOSIP.
	LeaseSeconds string
	Since        time.Time
}

// CredentialStatusUpdate is a CREDENTIAL_STATUS_UPDATE event a partner
// published to acknowledge a credential (what MOSIP's credential request
// generator consumes).
type CredentialStatusUpdate struct {
	// EventID is event.id.
	EventID string
	// RequestID is event.requestId: the credential's event.transactionId.
	RequestID string
	// Status is event.status, e.g. "served".
	Status    string
	Publisher string
	// Raw is the published body.
	Raw  []byte
	Time time.Time
}

type hubSubKey struct{ topic, callback string }

// hubSubscription is a verified subscription and its delivery queue.
type hubSubscription struct {
	key    hubSubKey
	secret string
	lease  string
	hubURL string
	since  time.Time
	state  SubscriptionState
	queue  []*hubMessage
	// wake nudges the worker after anything it waits on changed.
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	removed bool
}

// hubMessage is a queued message for one subscriber.
type hubMessage struct {
	body []byte
	// sent counts successful posts (DuplicateDeliveries needs two).
	sent int
	// ordered marks a message already considered for reordering, so each
	// message is swapped at most once.
	ordered bool
}

func (s *hubSubscription) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Publish queues body (JSON) for every subscriber of topic; it implements
// Publisher for the emulated MOSIP services (no authorization, as they are
// inside MOSIP). The topic is registered if new.
func (h *Hub) Publish(topic string, body []byte) error {
	if topic == "" {
		return errors.New("websub publish: empty topic")
	}
	if !json.Valid(body) {
		return errors.New("websub publish: body is not JSON")
	}
	return h.publish(topic, body, false)
}

func (h *Hub) publish(topic string, body []byte, undeliverable bool) error {
	body = bytes.Clone(body)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHubClosed
	}
	h.topics[topic] = true
	dropped := undeliverable
	if !dropped && h.dropNext > 0 {
		h.dropNext--
		dropped = true
	}
	h.published = hubAppend(h.published, Publication{Topic: topic, Body: body, Time: now, Dropped: dropped})
	if dropped {
		return nil
	}
	if topic == TopicCredentialStatusUpdate {
		h.statusUpdates = hubAppend(h.statusUpdates, parseStatusUpdate(body, now))
	}
	for _, s := range h.subs {
		if s.key.topic == topic {
			s.queue = append(s.queue, &hubMessage{body: body})
			s.nudge()
		}
	}
	return nil
}

func parseStatusUpdate(body []byte, now time.Time) CredentialStatusUpdate {
	var ev struct {
		Publisher string `json:"publisher"`
		Event     struct {
			ID        string `json:"id"`
			RequestID string `json:"requestId"`
			Status    string `json:"status"`
		} `json:"event"`
	}
	_ = json.Unmarshal(body, &ev)
	return CredentialStatusUpdate{EventID: ev.Event.ID, RequestID: ev.Event.RequestID, Status: ev.Event.Status,
		Publisher: ev.Publisher, Raw: body, Time: now}
}

// activate creates a verified subscription, starting at the end of the
// topic (Kafka "latest": earlier messages are not delivered).
func (h *Hub) activate(key hubSubKey, req hubSubRequest) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if _, exists := h.subs[key]; exists {
		return // a concurrent subscribe won the race
	}
	s := &hubSubscription{key: key, secret: req.secret, lease: req.lease, hubURL: req.hubURL,
		since: time.Now(), state: SubscriptionActive, wake: make(chan struct{}, 1)}
	s.ctx, s.cancel = context.WithCancel(h.ctx)
	h.subs[key] = s
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.work(s)
	}()
	h.log.Info("websub subscription verified", "topic", key.topic, "callback", key.callback)
}

// revive restarts delivery to a stopped subscription: what a re-subscribe
// does on MOSIP's hub by restarting the subscriber's consumer, which
// resumes at the last commit (the failed message is delivered again).
func (h *Hub) revive(key hubSubKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.subs[key]; ok && s.state == SubscriptionStopped {
		s.state = SubscriptionActive
		s.nudge()
		h.log.Info("websub subscription revived", "topic", key.topic, "callback", key.callback, "pending", len(s.queue))
	}
}

// remove deletes a subscription and its queue.
func (h *Hub) remove(key hubSubKey, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(key, why)
}

func (h *Hub) removeLocked(key hubSubKey, why string) {
	s, ok := h.subs[key]
	if !ok {
		return
	}
	delete(h.subs, key)
	s.removed = true
	s.cancel()
	h.log.Info("websub subscription removed", "topic", key.topic, "callback", key.callback, "why", why)
}

// work delivers s's queue in order until the subscription is removed or
// the hub closes.
func (h *Hub) work(s *hubSubscription) {
	for {
		m, ok := h.next(s)
		if !ok {
			return
		}
		h.settle(s, m, h.deliver(s, m))
	}
}

// next blocks until s has a message to deliver now and returns it (left at
// the head of the queue until settled).
func (h *Hub) next(s *hubSubscription) (*hubMessage, bool) {
	var holdUntil time.Time
	for {
		var wait time.Duration
		h.mu.Lock()
		if s.removed || s.ctx.Err() != nil {
			h.mu.Unlock()
			return nil, false
		}
		if !h.paused && s.state == SubscriptionActive && len(s.queue) > 0 {
			q := s.queue
			switch {
			case !h.reorder || q[0].ordered || q[0].sent > 0:
			case len(q) >= 2 && !q[1].ordered:
				q[0], q[1] = q[1], q[0]
				q[0].ordered, q[1].ordered = true, true
			case len(q) >= 2:
				q[0].ordered = true
			default:
				// A lone message waits a little for a partner to swap with.
				now := time.Now()
				if holdUntil.IsZero() {
					holdUntil = now.Add(h.reorderWindow)
				}
				if now.Before(holdUntil) {
					wait = holdUntil.Sub(now)
				} else {
					q[0].ordered = true
				}
			}
			if wait == 0 {
				m := q[0]
				h.mu.Unlock()
				return m, true
			}
		}
		h.mu.Unlock()
		if !hubWait(s, wait) {
			return nil, false
		}
	}
}

// hubWait blocks until s is nudged or, when wait > 0, wait has passed; it
// reports false once the subscription is gone.
func hubWait(s *hubSubscription, wait time.Duration) bool {
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-s.wake:
	case <-timer:
	case <-s.ctx.Done():
		return false
	}
	return true
}

type hubOutcome int

const (
	hubDelivered hubOutcome = iota
	hubGone
	hubFailed
	hubAborted
)

// deliver posts m with retries and backoff.
func (h *Hub) deliver(s *hubSubscription, m *hubMessage) hubOutcome {
	target := hubDeliveryURL(s.key.callback)
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write(m.body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	link := s.hubURL + `; rel="hub", ` + s.key.topic + `; rel="self"`
	wait := h.backoff
	for attempt := 1; attempt <= h.attempts; attempt++ {
		if attempt > 1 {
			if !hubSleep(s.ctx, wait) {
				return hubAborted
			}
			wait *= 2
		}
		status, err := h.postOnce(s.ctx, target, m.body, signature, link)
		if s.ctx.Err() != nil {
			return hubAborted
		}
		d := Delivery{Topic: s.key.topic, Callback: s.key.callback, URL: target, Status: status,
			Attempt: attempt, Time: time.Now()}
		if err != nil {
			d.Error = err.Error()
		}
		h.recordDelivery(d)
		switch {
		case err == nil && status/100 == 2:
			return hubDelivered
		case err == nil && status == http.StatusGone:
			return hubGone
		}
	}
	return hubFailed
}

func (h *Hub) postOnce(ctx context.Context, target string, body []byte, signature, link string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Link", link)
	req.Header.Set("X-Hub-Signature", signature)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	// The hub ignores the body; draining lets the connection be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// settle commits, keeps or drops m according to the delivery outcome.
func (h *Hub) settle(s *hubSubscription, m *hubMessage, outcome hubOutcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.removed {
		return
	}
	switch outcome {
	case hubDelivered:
		m.sent++
		if h.duplicate && m.sent < 2 {
			return // delivered again before it is committed
		}
		for i, q := range s.queue {
			if q == m {
				s.queue = append(s.queue[:i:i], s.queue[i+1:]...)
				break
			}
		}
	case hubGone:
		h.removeLocked(s.key, "subscriber answered 410 Gone")
	case hubFailed:
		s.state = SubscriptionStopped
		h.log.Warn("websub delivery failed; subscriber stopped until it subscribes again",
			"topic", s.key.topic, "callback", s.key.callback, "pending", len(s.queue))
	}
}

// hubDeliveryURL is where content goes: the websubhub HubClient posts "/"
// relative to the callback, so the path gains a trailing slash.
func hubDeliveryURL(callback string) string {
	u, err := url.Parse(callback)
	if err != nil {
		return callback + "/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u.String()
}

func hubAppend[T any](list []T, v T) []T {
	if len(list) >= hubMaxRecords {
		list = append(list[:0:0], list[len(list)-hubMaxRecords+1:]...)
	}
	return append(list, v)
}

func (h *Hub) recordDelivery(d Delivery) {
	h.mu.Lock()
	h.deliveries = hubAppend(h.deliveries, d)
	h.mu.Unlock()
}

func (h *Hub) recordVerification(v Verification) {
	h.mu.Lock()
	h.verifications = hubAppend(h.verifications, v)
	h.mu.Unlock()
}

// wakeAllLocked nudges every worker after a knob changed.
func (h *Hub) wakeAllLocked() {
	for _, s := range h.subs {
		s.nudge()
	}
}

// Pause stops (true) or resumes (false) all deliveries; publishes keep
// queuing meanwhile. A delivery in flight finishes.
func (h *Hub) Pause(paused bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paused = paused
	h.wakeAllLocked()
}

// DuplicateDeliveries makes the hub post every message twice before
// committing it, as after a lost Kafka commit (at-least-once delivery).
func (h *Hub) DuplicateDeliveries(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.duplicate = on
	h.wakeAllLocked()
}

// ReorderDeliveries makes the hub swap adjacent queued messages of a
// subscriber (1,2,3,4 are delivered 2,1,4,3). A lone queued message is held
// up to HubOptions.ReorderWindow for a partner, then delivered.
func (h *Hub) ReorderDeliveries(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reorder = on
	h.wakeAllLocked()
}

// DropNext makes the hub accept and then silently lose the next n
// publishes, for every subscriber (n replaces any earlier count).
func (h *Hub) DropNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropNext = max(n, 0)
}

// Subscriptions lists the verified subscriptions.
func (h *Hub) Subscriptions() []SubscriptionInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SubscriptionInfo, 0, len(h.subs))
	for _, s := range h.subs {
		out = append(out, SubscriptionInfo{Topic: s.key.topic, Callback: s.key.callback, State: s.state,
			Pending: len(s.queue), LeaseSeconds: s.lease, Since: s.since})
	}
	slices.SortFunc(out, func(a, b SubscriptionInfo) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Callback, b.Callback))
	})
	return out
}

// Subscription returns the subscription of topic and callback, if any.
func (h *Hub) Subscription(topic, callback string) (SubscriptionInfo, bool) {
	for _, s := range h.Subscriptions() {
		if s.Topic == topic && s.Callback == callback {
			return s, true
		}
	}
	return SubscriptionInfo{}, false
}

// Deliveries returns every recorded delivery attempt, oldest first.
func (h *Hub) Deliveries() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.deliveries...)
}

// Verifications returns every intent-verification and denial call made to
// callbacks, oldest first.
func (h *Hub) Verifications() []Verification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Verification(nil), h.verifications...)
}

// Published returns the messages published on topic (every topic when
// topic is empty), oldest first, including dropped ones.
func (h *Hub) Published(topic string) []Publication {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Publication
	for _, p := range h.published {
		if topic == "" || p.Topic == topic {
			p.Body = bytes.Clone(p.Body)
			out = append(out, p)
		}
	}
	return out
}

// StatusUpdates returns the CREDENTIAL_STATUS_UPDATE events received,
// oldest first.
func (h *Hub) StatusUpdates() []CredentialStatusUpdate {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]CredentialStatusUpdate, len(h.statusUpdates))
	for i, u := range h.statusUpdates {
		u.Raw = bytes.Clone(u.Raw)
		out[i] = u
	}
	return out
}

// Topics returns the registered topics (registered explicitly or on first
// subscribe or publish).
func (h *Hub) Topics() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.topics))
	for t := range h.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
