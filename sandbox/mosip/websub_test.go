package mosip

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var websubUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestWebSubSubscribeIntentVerification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, topic string
	}{
		{"partner topic", HubPath, CredentialTopic(websubPartner)},
		{"general topic", HubPath, TopicWorkflowCompleted},
		{"MOSIP hub path", HubMOSIPPath, CredentialTopic(websubPartner)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newWebSubTestEnv(t, nil)
			cb := newWebSubTestCallback(t)
			form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {tc.topic}, "hub.callback": {cb.url},
				"hub.secret": {"s3cret"}, "hub.lease_seconds": {"3600"}}
			resp := env.post(t, tc.path, "application/x-www-form-urlencoded", "Authorization="+env.partnerToken(t), form.Encode())
			if resp.status != http.StatusAccepted || resp.body != "hub.mode=accepted" ||
				resp.contentType != "application/x-www-form-urlencoded" {
				t.Fatalf("subscribe = %d %q (%s), want 202 hub.mode=accepted (form)", resp.status, resp.body, resp.contentType)
			}
			get := cb.waitGets(t, 1)[0]
			if get.path != "/websub/callback" {
				t.Errorf("verification path = %q, want /websub/callback (no trailing slash)", get.path)
			}
			if !strings.Contains(get.rawQuery, "hub.topic="+tc.topic+"&") {
				t.Errorf("raw query %q does not carry the topic %q unencoded", get.rawQuery, tc.topic)
			}
			if !strings.HasPrefix(get.rawQuery, "hub.mode=subscribe&") {
				t.Errorf("raw query %q does not start with hub.mode=subscribe", get.rawQuery)
			}
			if c := get.query.Get("hub.challenge"); !websubUUID.MatchString(c) {
				t.Errorf("hub.challenge = %q, want a UUID v4", c)
			}
			if l := get.query.Get("hub.lease_seconds"); l != "3600" {
				t.Errorf("hub.lease_seconds = %q, want 3600", l)
			}
			websubWaitFor(t, "active subscription", func() bool {
				s, ok := env.hub.Subscription(tc.topic, cb.url)
				return ok && s.State == SubscriptionActive
			})
			if !slices.Contains(env.hub.Topics(), tc.topic) {
				t.Errorf("Topics() = %v, want %q auto-registered", env.hub.Topics(), tc.topic)
			}
		})
	}
}

func TestWebSubSubscribeNotVerified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		challenge string
		wantGets  int
	}{
		{"wrong challenge echoed", "wrong", 1},
		{"challenge with HTTP 500 is retried then refused", "fail", hubIntentAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newWebSubTestEnv(t, nil)
			cb := newWebSubTestCallback(t)
			cb.setChallenge(tc.challenge)
			topic := CredentialTopic(websubPartner)
			env.subscribe(t, "subscribe", env.partnerToken(t), topic, cb.url, "s3cret")
			websubWaitFor(t, "verification recorded", func() bool { return len(env.hub.Verifications()) == 1 })
			v := env.hub.Verifications()[0]
			if v.Verified || v.Mode != "subscribe" {
				t.Errorf("verification = %+v, want an unverified subscribe", v)
			}
			if got := len(cb.getRequests()); got != tc.wantGets {
				t.Errorf("callback got %d GETs, want %d", got, tc.wantGets)
			}
			if subs := env.hub.Subscriptions(); len(subs) != 0 {
				t.Errorf("Subscriptions() = %+v, want none", subs)
			}
			if err := env.hub.Publish(topic, []byte(`{"n":1}`)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			websubQuiet()
			if posts := cb.postRequests(); len(posts) != 0 {
				t.Errorf("unverified callback received %d deliveries", len(posts))
			}
		})
	}
}

func TestWebSubSubscribeRefused(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	other, err := NewAuthManager()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.issue(Client{ClientID: websubPartner})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"azp": websubPartner, "sub": "service-account-" + websubPartner,
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix(),
		"realm_access": map[string]any{"roles": []string{"SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL"}},
	}).SignedString(env.am.key)
	if err != nil {
		t.Fatal(err)
	}
	good := env.partnerToken(t)
	partnerTopic := CredentialTopic(websubPartner)
	form := func(mode, topic, callback, secret string) string {
		v := url.Values{"hub.mode": {mode}, "hub.topic": {topic}, "hub.callback": {callback}}
		if secret != "" {
			v.Set("hub.secret", secret)
		}
		return v.Encode()
	}
	const formType = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		contentType string
		cookie      string
		bearer      string
		body        string
		wantStatus  int
		wantType    string
		wantBody    string
	}{
		{"no token", formType, "", "", form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Authorization token cannot be found"},
		{"bearer header instead of cookie", formType, "", good, form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Authorization token cannot be found"},
		{"cookie without the space after ;", formType, "lang=en;Authorization=" + good, "", form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Authorization token cannot be found"},
		{"expired token", formType, "Authorization=" + expired, "", form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Unauthorized"},
		{"token of another issuer", formType, "Authorization=" + foreign, "", form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Unauthorized"},
		{"client id is not the partner id", formType, "Authorization=" + env.token(t, "other-client", "SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL"), "",
			form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Subscriber is not authorized"},
		{"partner topic without the INDIVIDUAL role", formType, "Authorization=" + env.token(t, websubPartner, "SUBSCRIBE_CREDENTIAL_ISSUED_GENERAL"), "",
			form("subscribe", partnerTopic, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Subscriber is not authorized"},
		{"general topic without the GENERAL role", formType, "Authorization=" + env.token(t, websubPartner, "SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL"), "",
			form("subscribe", TopicWorkflowCompleted, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Subscriber is not authorized"},
		{"unprefixed topic is a general topic", formType, "Authorization=" + good, "", form("subscribe", CredentialIssuedEvent, cb.url, "s"),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Subscriber is not authorized"},
		{"unsubscribe by another client", formType, "Authorization=" + env.token(t, "other-client", "SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL"), "",
			form("unsubscribe", partnerTopic, cb.url, ""),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=Subscriber is not authorized"},
		{"missing secret", formType, "Authorization=" + good, "", form("subscribe", partnerTopic, cb.url, ""),
			http.StatusInternalServerError, formType, "hub.mode=denied&hub.reason=hub.secret is required"},
		{"secret of 200 bytes", formType, "Authorization=" + good, "", form("subscribe", partnerTopic, cb.url, strings.Repeat("k", 200)),
			http.StatusBadRequest, formType, "hub.mode=denied&hub.reason=hub.secret must be less than 200 bytes"},
		{"relative callback", formType, "Authorization=" + good, "", form("subscribe", partnerTopic, "/websub/callback", "s"),
			http.StatusBadRequest, formType, "hub.mode=denied&hub.reason=Invalid hub.callback param in the request."},
		{"missing topic", formType, "Authorization=" + good, "", form("subscribe", "", cb.url, "s"),
			http.StatusBadRequest, "text/plain", "Empty value found for parameter 'hub.topic'"},
		{"missing callback", formType, "Authorization=" + good, "", form("subscribe", partnerTopic, "", "s"),
			http.StatusBadRequest, "text/plain", "Empty value found for parameter 'hub.callback'"},
		{"unknown mode", formType, "Authorization=" + good, "", form("renew", partnerTopic, cb.url, "s"),
			http.StatusBadRequest, "text/plain", hubReasonBadMode},
		{"JSON subscribe body", "application/json", "Authorization=" + good, "", `{"hub.mode":"subscribe"}`,
			http.StatusBadRequest, "text/plain", hubReasonBadMode},
		{"unsupported content type", "multipart/form-data; boundary=x", "Authorization=" + good, "", "--x--",
			http.StatusBadRequest, "text/plain", hubReasonContentType},
	}
	// The group returns once every parallel case has finished.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				req, err := http.NewRequest(http.MethodPost, env.hubURL, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", tc.contentType)
				if tc.cookie != "" {
					req.Header.Set("Cookie", tc.cookie)
				}
				if tc.bearer != "" {
					req.Header.Set("Authorization", "Bearer "+tc.bearer)
				}
				resp, err := env.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				got := string(raw)
				if resp.StatusCode != tc.wantStatus || got != tc.wantBody || resp.Header.Get("Content-Type") != tc.wantType {
					t.Errorf("POST = %d %q (%s), want %d %q (%s)", resp.StatusCode, got, resp.Header.Get("Content-Type"),
						tc.wantStatus, tc.wantBody, tc.wantType)
				}
			})
		}
	})
	websubQuiet()
	if gets := cb.getRequests(); len(gets) != 0 {
		t.Errorf("callback got %d GETs after refused requests: %+v", len(gets), gets)
	}
}

func TestWebSubDeniedStatusOption(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, func(o *HubOptions) { o.DeniedStatus = http.StatusForbidden })
	form := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {CredentialTopic(websubPartner)},
		"hub.callback": {"http://127.0.0.1:1/cb"}, "hub.secret": {"s"}}
	resp := env.post(t, HubPath, "application/x-www-form-urlencoded", "", form.Encode())
	if resp.status != http.StatusForbidden || !strings.HasPrefix(resp.body, "hub.mode=denied&") {
		t.Errorf("refused subscribe = %d %q, want 403 hub.mode=denied…", resp.status, resp.body)
	}
}

func TestWebSubResubscribeActive(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	topic := CredentialTopic(websubPartner)
	env.subscribeVerified(t, topic, cb, "first-secret")

	env.subscribe(t, "subscribe", env.partnerToken(t), topic, cb.url, "second-secret")
	gets := cb.waitGets(t, 2)
	denied := gets[1]
	wantPrefix := "hub.mode=denied&hub.topic=" + topic + "&hub.reason="
	if !strings.HasPrefix(denied.rawQuery, wantPrefix) {
		t.Errorf("denial raw query = %q, want prefix %q", denied.rawQuery, wantPrefix)
	}
	if r := denied.query.Get("hub.reason"); r != "Subscriber has already registered with the Hub" {
		t.Errorf("hub.reason = %q", r)
	}
	subs := env.hub.Subscriptions()
	if len(subs) != 1 || subs[0].State != SubscriptionActive {
		t.Fatalf("Subscriptions() = %+v, want one active", subs)
	}
	// The denied re-subscribe does not replace the stored secret.
	body := []byte(`{"event":{"id":"1"}}`)
	if err := env.hub.Publish(topic, body); err != nil {
		t.Fatal(err)
	}
	post := cb.waitPosts(t, 1)[0]
	if got, want := post.header.Get("X-Hub-Signature"), websubSign("first-secret", body); got != want {
		t.Errorf("X-Hub-Signature = %q, want %q (signed with the first secret)", got, want)
	}
}

// websubSign computes the expected signature independently of the hub.
func websubSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebSubDelivery(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	topic := CredentialTopic(websubPartner)
	if err := env.hub.Publish(topic, []byte(`{"before":"subscription"}`)); err != nil {
		t.Fatal(err)
	}
	const secret = "a-secret-of-the-bridge"
	env.subscribeVerified(t, topic, cb, secret)
	// Odd spacing and key order must survive: the hub relays the bytes.
	body := []byte(`{ "publisher":"CREDENTIAL_SERVICE",  "event": {"id":"e-1","transactionId":"t-1"} }`)
	if err := env.hub.Publish(topic, body); err != nil {
		t.Fatal(err)
	}
	posts := cb.waitPosts(t, 1)
	websubQuiet()
	if posts = cb.postRequests(); len(posts) != 1 {
		t.Fatalf("got %d deliveries, want 1 (events before the subscription are not delivered)", len(posts))
	}
	p := posts[0]
	if p.path != "/websub/callback/" {
		t.Errorf("delivery path = %q, want the callback with a trailing slash", p.path)
	}
	if string(p.body) != string(body) {
		t.Errorf("body = %q, want the published bytes %q", p.body, body)
	}
	if got := p.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got, want := p.header.Get("Link"), env.hubURL+`; rel="hub", `+topic+`; rel="self"`; got != want {
		t.Errorf("Link = %q, want %q", got, want)
	}
	sig := p.header.Get("X-Hub-Signature")
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok || hexSig != strings.ToLower(hexSig) {
		t.Fatalf("X-Hub-Signature = %q, want sha256=<lowercase hex>", sig)
	}
	gotMAC, err := hex.DecodeString(hexSig)
	if err != nil {
		t.Fatalf("signature is not hex: %v", err)
	}
	if !hmac.Equal(gotMAC, websubMAC(secret, p.body)) {
		t.Errorf("X-Hub-Signature does not verify with HMAC-SHA256(hub.secret, raw body)")
	}
	d := env.hub.Deliveries()
	if len(d) != 1 || d[0].Status != http.StatusOK || d[0].Topic != topic || d[0].Callback != cb.url || d[0].Attempt != 1 {
		t.Errorf("Deliveries() = %+v", d)
	}
	websubWaitFor(t, "queue drained", func() bool {
		s, _ := env.hub.Subscription(topic, cb.url)
		return s.Pending == 0
	})
}

func websubMAC(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func TestWebSubDeliveryStopsAndReplaysAfterResubscribe(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	topic := CredentialTopic(websubPartner)
	env.subscribeVerified(t, topic, cb, "s3cret")
	cb.setPostStatus(http.StatusServiceUnavailable)

	msgs := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}
	if err := env.hub.Publish(topic, []byte(msgs[0])); err != nil {
		t.Fatal(err)
	}
	websubWaitFor(t, "subscriber stopped", func() bool {
		s, _ := env.hub.Subscription(topic, cb.url)
		return s.State == SubscriptionStopped
	})
	if got := len(cb.postRequests()); got != 3 {
		t.Fatalf("callback got %d attempts before the hub gave up, want 3", got)
	}
	for _, m := range msgs[1:] {
		if err := env.hub.Publish(topic, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	websubQuiet()
	if got := len(cb.postRequests()); got != 3 {
		t.Fatalf("stopped subscriber got %d attempts, want still 3", got)
	}
	if s, _ := env.hub.Subscription(topic, cb.url); s.Pending != 3 || s.State != SubscriptionStopped {
		t.Fatalf("subscription = %+v, want stopped with 3 pending", s)
	}

	cb.setPostStatus(http.StatusOK)
	env.subscribe(t, "subscribe", env.partnerToken(t), topic, cb.url, "s3cret")
	posts := cb.waitPosts(t, 6)
	var got []string
	for _, p := range posts[3:] {
		got = append(got, string(p.body))
	}
	if !slices.Equal(got, msgs) {
		t.Errorf("replayed %q, want %q in order", got, msgs)
	}
	gets := cb.getRequests()
	if last := gets[len(gets)-1]; last.query.Get("hub.mode") != "denied" {
		t.Errorf("re-subscribe of a stopped subscriber got %q, want the denied callback", last.query.Get("hub.mode"))
	}
	websubWaitFor(t, "queue drained", func() bool {
		s, _ := env.hub.Subscription(topic, cb.url)
		return s.Pending == 0 && s.State == SubscriptionActive
	})
}

func TestWebSubGoneRemovesSubscription(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	topic := TopicWorkflowCompleted
	env.subscribeVerified(t, topic, cb, "s3cret")
	cb.setPostStatus(http.StatusGone)
	if err := env.hub.Publish(topic, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	websubWaitFor(t, "subscription removed", func() bool {
		_, ok := env.hub.Subscription(topic, cb.url)
		return !ok
	})
	if err := env.hub.Publish(topic, []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	websubQuiet()
	if got := len(cb.postRequests()); got != 1 {
		t.Errorf("callback got %d deliveries, want 1 (no retry after 410, nothing after removal)", got)
	}
}

func TestWebSubUnsubscribe(t *testing.T) {
	t.Parallel()
	t.Run("verified unsubscribe removes the subscription", func(t *testing.T) {
		t.Parallel()
		env := newWebSubTestEnv(t, nil)
		cb := newWebSubTestCallback(t)
		topic := CredentialTopic(websubPartner)
		env.subscribeVerified(t, topic, cb, "s3cret")
		env.subscribe(t, "unsubscribe", env.partnerToken(t), topic, cb.url, "")
		get := cb.waitGets(t, 2)[1]
		if !strings.HasPrefix(get.rawQuery, "hub.mode=unsubscribe&hub.topic="+topic+"&hub.challenge=") {
			t.Errorf("unsubscribe verification raw query = %q", get.rawQuery)
		}
		if get.query.Has("hub.lease_seconds") {
			t.Errorf("unsubscribe verification carries hub.lease_seconds: %q", get.rawQuery)
		}
		websubWaitFor(t, "subscription removed", func() bool {
			_, ok := env.hub.Subscription(topic, cb.url)
			return !ok
		})
		if err := env.hub.Publish(topic, []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		websubQuiet()
		if got := len(cb.postRequests()); got != 0 {
			t.Errorf("got %d deliveries after unsubscribe", got)
		}
	})
	t.Run("unverified unsubscribe keeps the subscription", func(t *testing.T) {
		t.Parallel()
		env := newWebSubTestEnv(t, nil)
		cb := newWebSubTestCallback(t)
		topic := CredentialTopic(websubPartner)
		env.subscribeVerified(t, topic, cb, "s3cret")
		cb.setChallenge("wrong")
		env.subscribe(t, "unsubscribe", env.partnerToken(t), topic, cb.url, "")
		websubWaitFor(t, "unsubscribe verification", func() bool { return len(env.hub.Verifications()) == 2 })
		if _, ok := env.hub.Subscription(topic, cb.url); !ok {
			t.Errorf("subscription removed without a verified intent")
		}
	})
	t.Run("unknown subscriber is denied then still verified", func(t *testing.T) {
		t.Parallel()
		env := newWebSubTestEnv(t, nil)
		cb := newWebSubTestCallback(t)
		topic := CredentialTopic(websubPartner)
		env.subscribe(t, "unsubscribe", env.partnerToken(t), topic, cb.url, "")
		gets := cb.waitGets(t, 2)
		if gets[0].query.Get("hub.mode") != "denied" ||
			gets[0].query.Get("hub.reason") != "Topic ["+topic+"] is not registered with the Hub" {
			t.Errorf("first GET = %q, want the not-registered denial", gets[0].rawQuery)
		}
		if gets[1].query.Get("hub.mode") != "unsubscribe" {
			t.Errorf("second GET = %q, want the unsubscribe verification", gets[1].rawQuery)
		}
	})
}

func TestWebSubPublishHTTP(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	statusBody := `{"publishedOn":"2025-01-10T06:20:01.123Z","publisher":"OPENCRVS_MEDIATOR","topic":"CREDENTIAL_STATUS_UPDATE",` +
		`"event":{"id":"ev-1","requestId":"req-1","status":"served","timestamp":"2025-01-10T06:20:01.123Z","url":null}}`
	tests := []struct {
		name       string
		token      string
		topic      string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"status update with the publish role", env.partnerToken(t), TopicCredentialStatusUpdate, statusBody,
			http.StatusOK, "hub.mode=accepted"},
		{"without the publish role", env.token(t, websubPartner, "SUBSCRIBE_CREDENTIAL_ISSUED_INDIVIDUAL"), TopicCredentialStatusUpdate, `{}`,
			http.StatusOK, "hub.mode=denied&hub.reason=Publisher is not authorized"},
		{"without a token", "", TopicCredentialStatusUpdate, `{}`,
			http.StatusOK, "hub.mode=denied&hub.reason=Authorization token cannot be found"},
		{"partner topic with ALL_INDIVIDUAL", env.token(t, "credential-service", "PUBLISH_CREDENTIAL_ISSUED_ALL_INDIVIDUAL"),
			CredentialTopic("any-partner"), `{"n":1}`, http.StatusOK, "hub.mode=accepted"},
		{"partner topic with only GENERAL", env.token(t, "credential-service", "PUBLISH_CREDENTIAL_ISSUED_GENERAL"),
			CredentialTopic("any-partner"), `{"n":1}`, http.StatusOK, "hub.mode=denied&hub.reason=Publisher is not authorized"},
		{"invalid JSON", env.partnerToken(t), TopicCredentialStatusUpdate, `{"event":`,
			http.StatusBadRequest, "Error occurred while retrieving the json payload from the request"},
		{"missing topic", env.partnerToken(t), "", `{}`,
			http.StatusBadRequest, "Empty value found for parameter 'hub.topic'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := env.publish(t, tc.token, tc.topic, tc.body)
			if resp.status != tc.wantStatus || resp.body != tc.wantBody {
				t.Errorf("publish = %d %q, want %d %q", resp.status, resp.body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	t.Run("status update recorded", func(t *testing.T) {
		t.Parallel()
		e := newWebSubTestEnv(t, nil)
		if resp := e.publish(t, e.partnerToken(t), TopicCredentialStatusUpdate, statusBody); resp.body != "hub.mode=accepted" {
			t.Fatalf("publish = %d %q", resp.status, resp.body)
		}
		ups := e.hub.StatusUpdates()
		if len(ups) != 1 {
			t.Fatalf("StatusUpdates() has %d entries, want 1", len(ups))
		}
		u := ups[0]
		if u.EventID != "ev-1" || u.RequestID != "req-1" || u.Status != "served" || u.Publisher != "OPENCRVS_MEDIATOR" ||
			string(u.Raw) != statusBody {
			t.Errorf("StatusUpdates()[0] = %+v", u)
		}
		if p := e.hub.Published(TopicCredentialStatusUpdate); len(p) != 1 || string(p[0].Body) != statusBody {
			t.Errorf("Published() = %+v", p)
		}
	})
	t.Run("non-JSON content is accepted and never delivered", func(t *testing.T) {
		t.Parallel()
		e := newWebSubTestEnv(t, nil)
		cb := newWebSubTestCallback(t)
		e.subscribe(t, "subscribe", e.token(t, "credential-request-generator", "SUBSCRIBE_CREDENTIAL_STATUS_UPDATE_GENERAL"),
			TopicCredentialStatusUpdate, cb.url, "s")
		websubWaitFor(t, "subscription active", func() bool {
			_, ok := e.hub.Subscription(TopicCredentialStatusUpdate, cb.url)
			return ok
		})
		resp := e.post(t, HubPath+"?hub.mode=publish&hub.topic="+TopicCredentialStatusUpdate, "text/plain",
			"Authorization="+e.partnerToken(t), "served")
		if resp.status != http.StatusOK || resp.body != "hub.mode=accepted" {
			t.Fatalf("publish text = %d %q", resp.status, resp.body)
		}
		websubQuiet()
		if n := len(cb.postRequests()); n != 0 {
			t.Errorf("non-JSON content delivered %d times", n)
		}
		if p := e.hub.Published(""); len(p) != 1 || !p[0].Dropped {
			t.Errorf("Published() = %+v, want one dropped", p)
		}
	})
}

func TestWebSubPublishDeliversToSubscribersOverHTTP(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	cb := newWebSubTestCallback(t)
	topic := CredentialTopic(websubPartner)
	env.subscribeVerified(t, topic, cb, "s")
	tok := env.token(t, "credential-service", "PUBLISH_CREDENTIAL_ISSUED_ALL_INDIVIDUAL")
	if resp := env.publish(t, tok, topic, `{"n":1}`); resp.body != "hub.mode=accepted" {
		t.Fatalf("publish = %d %q", resp.status, resp.body)
	}
	if p := cb.waitPosts(t, 1)[0]; string(p.body) != `{"n":1}` {
		t.Errorf("delivered %q", p.body)
	}
}

func TestWebSubTopicRegistration(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, nil)
	tok := env.token(t, "regproc", "PUBLISH_"+TopicWorkflowCompleted+"_GENERAL")
	form := func(mode string) string {
		return url.Values{"hub.mode": {mode}, "hub.topic": {TopicWorkflowCompleted}}.Encode()
	}
	steps := []struct{ mode, want string }{
		{"register", "hub.mode=accepted"},
		{"register", "hub.mode=denied&hub.reason=Topic has already registered with the Hub"},
		{"deregister", "hub.mode=accepted"},
		{"deregister", "hub.mode=denied&hub.reason=Topic has not been registered in the Hub"},
	}
	for i, s := range steps {
		resp := env.post(t, HubPath, "application/x-www-form-urlencoded", "Authorization="+tok, form(s.mode))
		if resp.status != http.StatusOK || resp.body != s.want {
			t.Errorf("step %d %s = %d %q, want 200 %q", i, s.mode, resp.status, resp.body, s.want)
		}
	}
}

func TestWebSubFaultKnobs(t *testing.T) {
	t.Parallel()
	topic := TopicWorkflowCompleted
	msgs := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}
	publishAll := func(t *testing.T, hub *Hub) {
		t.Helper()
		for _, m := range msgs {
			if err := hub.Publish(topic, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string
		want []string
	}{
		{"pause queues then resume delivers in order", func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string {
			env.hub.Pause(true)
			publishAll(t, env.hub)
			websubQuiet()
			if n := len(cb.postRequests()); n != 0 {
				t.Errorf("paused hub delivered %d messages", n)
			}
			if s, _ := env.hub.Subscription(topic, cb.url); s.Pending != len(msgs) {
				t.Errorf("Pending = %d while paused, want %d", s.Pending, len(msgs))
			}
			env.hub.Pause(false)
			cb.waitPosts(t, len(msgs))
			return cb.postBodies()
		}, msgs},
		{"duplicate delivers every message twice", func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string {
			env.hub.DuplicateDeliveries(true)
			publishAll(t, env.hub)
			cb.waitPosts(t, 2*len(msgs))
			return cb.postBodies()
		}, []string{msgs[0], msgs[0], msgs[1], msgs[1], msgs[2], msgs[2], msgs[3], msgs[3]}},
		{"reorder swaps adjacent queued messages", func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string {
			env.hub.Pause(true)
			publishAll(t, env.hub)
			env.hub.ReorderDeliveries(true)
			env.hub.Pause(false)
			cb.waitPosts(t, len(msgs))
			return cb.postBodies()
		}, []string{msgs[1], msgs[0], msgs[3], msgs[2]}},
		{"reorder holds a lone message for a partner", func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string {
			env.hub.ReorderDeliveries(true)
			for _, m := range msgs[:2] {
				if err := env.hub.Publish(topic, []byte(m)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond) // well inside the 50 ms window
			}
			cb.waitPosts(t, 2)
			if err := env.hub.Publish(topic, []byte(msgs[2])); err != nil {
				t.Fatal(err)
			}
			cb.waitPosts(t, 3) // alone: delivered once the window passes
			return cb.postBodies()
		}, []string{msgs[1], msgs[0], msgs[2]}},
		{"drop next loses messages silently", func(t *testing.T, env *websubTestEnv, cb *websubTestCallback) []string {
			env.hub.DropNext(2)
			publishAll(t, env.hub)
			cb.waitPosts(t, 2)
			websubQuiet()
			var dropped []bool
			for _, p := range env.hub.Published(topic) {
				dropped = append(dropped, p.Dropped)
			}
			if want := []bool{true, true, false, false}; !slices.Equal(dropped, want) {
				t.Errorf("Published().Dropped = %v, want %v", dropped, want)
			}
			return cb.postBodies()
		}, msgs[2:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newWebSubTestEnv(t, nil)
			cb := newWebSubTestCallback(t)
			env.subscribeVerified(t, topic, cb, "s")
			got := tc.run(t, env, cb)
			websubQuiet()
			if got = cb.postBodies(); !slices.Equal(got, tc.want) {
				t.Errorf("deliveries = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWebSubVerifyDelay(t *testing.T) {
	t.Parallel()
	env := newWebSubTestEnv(t, func(o *HubOptions) { o.VerifyDelay = 80 * time.Millisecond })
	cb := newWebSubTestCallback(t)
	start := time.Now()
	env.subscribe(t, "subscribe", env.partnerToken(t), TopicWorkflowCompleted, cb.url, "s")
	cb.waitGets(t, 1)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("intent verification after %v, want at least the 80ms VerifyDelay", d)
	}
}

func TestWebSubClose(t *testing.T) {
	t.Parallel()
	hub := NewHub(HubOptions{})
	hub.Close()
	if err := hub.Publish(TopicWorkflowCompleted, []byte(`{}`)); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Publish after Close = %v, want ErrHubClosed", err)
	}
	if err := NewHub(HubOptions{}).Publish(TopicWorkflowCompleted, []byte("not json")); err == nil {
		t.Errorf("Publish of non-JSON succeeded, want an error")
	}
}

func TestWebSubHubQueryEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"hub.topic=opencrvs-partner/CREDENTIAL_ISSUED", "hub.topic=opencrvs-partner/CREDENTIAL_ISSUED"},
		{"hub.reason=Subscriber has already registered", "hub.reason=Subscriber%20has%20already%20registered"},
		{"a=[x]&b=é", "a=[x]&b=%C3%A9"},
	}
	for _, tc := range tests {
		if got := hubQueryEscape(tc.in); got != tc.want {
			t.Errorf("hubQueryEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
