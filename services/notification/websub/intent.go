package websub

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxChallenge bounds the hub.challenge echoed (MOSIP sends a UUID).
const maxChallenge = 1024

// maxReason bounds hub text kept for logs and State.LastError.
const maxReason = 200

// VerifyIntent answers the hub's GET on a callback: callbackPath is the
// request's path (r.URL.Path), q its query (r.URL.Query(); the MOSIP hub
// sends the topic with a raw '/', which url.ParseQuery reads as is).
//
//   - hub.mode=subscribe for a topic and callback path we subscribed, within
//     VerifyTimeout of our latest subscribe request (the first one, or a
//     renewal of an active subscription): 200 with the hub.challenge as
//     body (text/plain); the subscription becomes active and is renewed
//     before hub.lease_seconds runs out.
//   - hub.mode=denied for one of our subscriptions: 200 with an empty body.
//     "already registered" (the hub's answer to a renewal) confirms the
//     subscription; any other reason marks it denied and re-subscribes with
//     backoff.
//   - anything else, including hub.mode=unsubscribe (the Manager never
//     unsubscribes, so such a request is not ours): 404.
func (m *Manager) VerifyIntent(callbackPath string, q url.Values) (status int, body string) {
	mode, topic := q.Get("hub.mode"), q.Get("hub.topic")
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subscriptionFor(callbackPath, topic)
	name := ""
	if s != nil {
		name = s.cfg.Name
	}
	result := "refused"
	defer func() { m.metrics.intents.Add(context.Background(), 1, intentAttrs(name, mode, result)) }()
	if s == nil {
		return http.StatusNotFound, ""
	}
	now := m.now()
	switch mode {
	case "subscribe":
		challenge := q.Get("hub.challenge")
		if challenge == "" || len(challenge) > maxChallenge || !m.expectingLocked(s, now) {
			m.log.Info("websub intent verification refused", slog.String("subscription", s.cfg.Name),
				slog.String("status", s.status), slog.Bool("has_challenge", challenge != ""))
			return http.StatusNotFound, ""
		}
		lease, err := strconv.Atoi(q.Get("hub.lease_seconds"))
		if err != nil || lease < 0 {
			lease = 0
		}
		s.verifiedAt, s.lease = now, lease
		m.confirmLocked(s, now)
		result = "verified"
		m.log.Info("websub subscription verified", slog.String("subscription", s.cfg.Name), slog.String("topic", s.cfg.Topic),
			slog.Int("lease_seconds", lease), slog.Time("next_renewal", s.next))
		return http.StatusOK, challenge
	case "denied":
		reason := m.scrub(q.Get("hub.reason"))
		if alreadyRegistered(reason) {
			result = "already_registered"
			m.metrics.denials.Add(context.Background(), 1, nameKindAttrs(s.cfg.Name, "already_registered"))
			// Only an answer to our own recent request says anything about
			// the subscription; an unsolicited one changes nothing.
			if m.expectingLocked(s, now) {
				m.confirmLocked(s, now)
				m.log.Debug("websub subscription confirmed: already registered", slog.String("subscription", s.cfg.Name))
			}
			return http.StatusOK, ""
		}
		result = "denied"
		m.metrics.denials.Add(context.Background(), 1, nameKindAttrs(s.cfg.Name, "denied"))
		s.answeredGen = s.gen
		s.awaitUntil = time.Time{}
		m.failLocked(s, now, kindDenied, "denied by the hub: "+reason)
		s.status = StatusDenied
		m.wake()
		return http.StatusOK, ""
	}
	return http.StatusNotFound, ""
}

// expectingLocked reports whether a verification for s is acceptable now:
// we sent a subscribe request (first subscription or renewal) within
// VerifyTimeout and the hub has not refused it. Being active is not
// enough: an intent we did not ask for may be someone else subscribing our
// callback with their own secret. Caller holds m.mu.
func (m *Manager) expectingLocked(s *sub, now time.Time) bool {
	return now.Before(s.awaitUntil)
}

// confirmLocked marks s active and schedules its renewal. Caller holds m.mu.
func (m *Manager) confirmLocked(s *sub, now time.Time) {
	if s.status != StatusActive {
		m.log.Info("websub subscription active", slog.String("subscription", s.cfg.Name), slog.String("topic", s.cfg.Topic))
	}
	s.status, s.lastErr, s.failures = StatusActive, "", 0
	s.awaiting = false
	s.answeredGen = s.gen
	s.next = m.renewalLocked(s, now)
	m.wake()
}

// alreadyRegistered recognises the MOSIP hub's denial of a re-subscribe:
// "Subscriber has already registered with the Hub".
func alreadyRegistered(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "already registered")
}

// scrub makes hub text safe to keep: our secrets and callback URLs (which
// may be capability URLs) replaced, then sanitized.
func (m *Manager) scrub(s string, extra ...string) string {
	for _, v := range append(append(m.secrets[:len(m.secrets):len(m.secrets)], m.callback...), extra...) {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return sanitize(s, maxReason)
}

// sanitize folds control characters and white space runs to one space and
// shortens s to about n bytes (n <= 0: maxReason).
func sanitize(s string, n int) string {
	if n <= 0 {
		n = maxReason
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
	}
	return b.String()
}
