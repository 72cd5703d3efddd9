package websub

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const (
	credentialTopic = "crvs-partner/CREDENTIAL_ISSUED"
	statusTopic     = "REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT"
	testSecret      = "hub-secret-0123456789"
)

type env struct {
	hub    *fakeHub
	cb     *callbackServer
	tokens *tokens
	m      *Manager
	cancel context.CancelFunc
	done   chan error
}

// setup builds a hub, a callback server and a Manager with fast timings;
// subs gets the callback base URL. The Manager is not running.
func setup(t *testing.T, subs func(cb string) []Subscription, mod func(*Options)) *env {
	t.Helper()
	e := &env{hub: newFakeHub(t), cb: newCallbackServer(t), tokens: &tokens{}}
	o := Options{HubURL: e.hub.url(), Subscriptions: subs(e.cb.srv.URL), Token: e.tokens.token, Invalidate: e.tokens.invalidate,
		RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, AfterFailureDelay: 20 * time.Millisecond,
		VerifyTimeout: 2 * time.Second}
	if mod != nil {
		mod(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	e.m = m
	e.cb.m.Store(m)
	return e
}

func (e *env) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("Run() = %v, want nil after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func oneSub(cb string) []Subscription {
	return []Subscription{{Name: "credential", Topic: credentialTopic, Callback: cb + "/websub/callback", Secret: testSecret}}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) state(name string) State {
	for _, s := range e.m.States() {
		if s.Name == name {
			return s
		}
	}
	return State{}
}

func (e *env) waitStatus(t *testing.T, name, status string) State {
	t.Helper()
	waitFor(t, name+" "+status, func() bool { return e.state(name).Status == status })
	return e.state(name)
}

func TestSubscriptionsBecomeActive(t *testing.T) {
	t.Parallel()
	e := setup(t, func(cb string) []Subscription {
		return []Subscription{
			// Two topics on one callback path: the topic tells them apart.
			{Name: "credential", Topic: credentialTopic, Callback: cb + "/websub/callback", Secret: testSecret, LeaseSeconds: 864000},
			{Name: "status", Topic: statusTopic, Callback: cb + "/websub/callback", Secret: testSecret + "-2"},
			// The same topic on another path is a different subscription.
			{Name: "credential-2", Topic: credentialTopic, Callback: cb + "/websub/other", Secret: testSecret + "-3"},
		}
	}, nil)
	e.run(t)
	for _, name := range []string{"credential", "status", "credential-2"} {
		st := e.waitStatus(t, name, StatusActive)
		if st.VerifiedAt.IsZero() || st.Attempts != 1 || st.LastError != "" {
			t.Errorf("%s state = %+v, want verified after one attempt", name, st)
		}
	}
	if st := e.state("credential"); st.LeaseSeconds != 864000 {
		t.Errorf("credential LeaseSeconds = %d, want the 864000 the hub stated", st.LeaseSeconds)
	}
	if st := e.state("status"); st.LeaseSeconds != 86400 {
		t.Errorf("status LeaseSeconds = %d, want the hub's default 86400", st.LeaseSeconds)
	}
	reqs := e.hub.subscribeRequests()
	if len(reqs) != 3 {
		t.Fatalf("subscribe requests = %d, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Cookie != "Authorization=tok-1" || r.CT != "application/x-www-form-urlencoded" {
			t.Errorf("request cookie %q, content type %q; want the token cookie and a form", r.Cookie, r.CT)
		}
		if r.Form.Get("hub.mode") != "subscribe" || !strings.HasPrefix(r.Form.Get("hub.secret"), testSecret) {
			t.Errorf("form = %v, want subscribe with the secret", r.Form)
		}
		if r.Form.Get("hub.topic") == credentialTopic && strings.HasSuffix(r.Form.Get("hub.callback"), "/websub/callback") &&
			r.Form.Get("hub.lease_seconds") != "864000" {
			t.Errorf("form = %v, want hub.lease_seconds=864000", r.Form)
		}
	}
	for _, g := range e.hub.callbacks() {
		if !g.Verified {
			t.Errorf("hub GET %+v was not verified", g)
		}
	}
}

func TestRenewalKeepsSubscriptionActive(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, func(o *Options) { o.ResubscribeInterval = 40 * time.Millisecond })
	e.run(t)
	e.waitStatus(t, "credential", StatusActive)
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		if st := e.state("credential"); st.Status != StatusActive {
			t.Fatalf("state during renewals = %+v, want active throughout", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if st := e.state("credential"); st.Attempts < 4 {
		t.Errorf("Attempts = %d after 400ms with a 40ms interval, want renewals", st.Attempts)
	}
	var already int
	for _, g := range e.hub.callbacks() {
		if g.Mode == "denied" && strings.Contains(g.Reason, "already registered") {
			already++
			if g.Status != 200 {
				t.Errorf("denied GET answered %d, want 200", g.Status)
			}
		}
	}
	if already == 0 {
		t.Error("the hub never answered a renewal with already registered")
	}
}

func TestRenewalBeforeLeaseEnds(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, nil)
	e.hub.lease = "10"
	e.run(t)
	st := e.waitStatus(t, "credential", StatusActive)
	// 4/5 of a 10 s lease, far sooner than the 6 h default interval.
	if d := st.NextRenewal.Sub(st.VerifiedAt); d != 8*time.Second {
		t.Errorf("renewal %s after verification, want 8s for a 10s lease", d)
	}
}

func TestSynchronousDenialFailsAndBacksOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer hubAnswer
		want   string
	}{
		{"role missing, 500", hubAnswer{500, "hub.mode=denied&hub.reason=Subscriber is not authorized"}, "not authorized"},
		{"denied with 200", hubAnswer{200, "hub.mode=denied&hub.reason=Subscriber is not authorized"}, "not authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, oneSub, nil)
			answers := make([]hubAnswer, 1000)
			for i := range answers {
				answers[i] = tc.answer
			}
			e.hub.setAnswers(answers...)
			e.run(t)
			waitFor(t, "several failed attempts", func() bool {
				st := e.state("credential")
				return st.Attempts >= 4 && st.Status == StatusFailed
			})
			st := e.state("credential")
			if st.Status != StatusFailed || !strings.Contains(st.LastError, tc.want) {
				t.Errorf("state = %+v, want failed with %q", st, tc.want)
			}
			// Each attempt retried once with a fresh token.
			if n := e.tokens.count(); n < st.Attempts {
				t.Errorf("invalidations = %d, want one per attempt", n)
			}
			if n, a := len(e.hub.subscribeRequests()), st.Attempts; n < 2*a-2 {
				t.Errorf("%d requests for %d attempts, want two per attempt (token retry)", n, a)
			}
			e.hub.setAnswers()
			e.waitStatus(t, "credential", StatusActive)
		})
	}
}

func TestTokenRefusedThenRenewed(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, nil)
	e.hub.revokeToken("tok-1")
	e.hub.setAnswers(hubAnswer{401, "Unauthorized"})
	e.run(t)
	st := e.waitStatus(t, "credential", StatusActive)
	if st.Attempts != 1 || e.tokens.count() != 1 {
		t.Errorf("attempts %d, invalidations %d; want one attempt retried once with a new token", st.Attempts, e.tokens.count())
	}
	if reqs := e.hub.subscribeRequests(); len(reqs) != 2 || reqs[1].Cookie != "Authorization=tok-2" {
		t.Errorf("requests = %+v, want a retry with tok-2", reqs)
	}
}

func TestHubErrorsRetryWithBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, nil)
	e.hub.setAnswers(hubAnswer{503, "Service Unavailable"}, hubAnswer{202, "something else"})
	e.run(t)
	st := e.waitStatus(t, "credential", StatusActive)
	if st.Attempts != 3 {
		t.Errorf("Attempts = %d, want 3 (503, odd 2xx body, then accepted)", st.Attempts)
	}
	// A token source failure is a failed attempt too.
	e2 := setup(t, oneSub, nil)
	e2.tokens.fail = errors.New("auth-token unavailable")
	e2.run(t)
	waitFor(t, "token failure", func() bool { return e2.state("credential").Status == StatusFailed })
	if st := e2.state("credential"); !strings.Contains(st.LastError, "token") {
		t.Errorf("LastError = %q, want the token failure", st.LastError)
	}
}

func TestAsynchronousDenial(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, nil)
	e.hub.setDenyGET("Topic is not permitted for " + testSecret)
	e.run(t)
	waitFor(t, "denied", func() bool { return e.state("credential").Status == StatusDenied || e.state("credential").Attempts > 1 })
	waitFor(t, "retries", func() bool { return e.state("credential").Attempts >= 3 })
	st := e.state("credential")
	if !strings.Contains(st.LastError, "not permitted") || strings.Contains(st.LastError, testSecret) {
		t.Errorf("LastError = %q, want the reason with the secret scrubbed", st.LastError)
	}
	e.hub.setDenyGET("")
	e.waitStatus(t, "credential", StatusActive)
}

func TestUnverifiedSubscribeFails(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, func(o *Options) { o.VerifyTimeout = 50 * time.Millisecond })
	e.hub.setSilent(true)
	e.run(t)
	waitFor(t, "failed", func() bool { return e.state("credential").Status == StatusFailed })
	if st := e.state("credential"); !strings.Contains(st.LastError, "did not call") {
		t.Errorf("LastError = %q", st.LastError)
	}
	waitFor(t, "retries", func() bool { return e.state("credential").Attempts >= 2 })
	e.hub.setSilent(false)
	e.waitStatus(t, "credential", StatusActive)
}

func TestDeliveryProblemResubscribesSoonOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, func(cb string) []Subscription {
		return append(oneSub(cb), Subscription{Name: "status", Topic: statusTopic, Callback: cb + "/websub/callback", Secret: testSecret})
	}, func(o *Options) { o.AfterFailureDelay = 50 * time.Millisecond })
	e.run(t)
	e.waitStatus(t, "credential", StatusActive)
	e.waitStatus(t, "status", StatusActive)
	for range 10 {
		e.m.NotifyDeliveryProblem(credentialTopic)
	}
	e.m.NotifyDeliveryProblem("unknown/TOPIC")
	if st := e.state("credential"); time.Until(st.NextRenewal) > 60*time.Millisecond {
		t.Errorf("NextRenewal in %s after a delivery problem, want within AfterFailureDelay", time.Until(st.NextRenewal))
	}
	waitFor(t, "re-subscribe", func() bool { return e.state("credential").Attempts == 2 })
	time.Sleep(150 * time.Millisecond)
	if st := e.state("credential"); st.Attempts != 2 || st.Status != StatusActive {
		t.Errorf("credential = %+v, want exactly one re-subscribe, still active", st)
	}
	if st := e.state("status"); st.Attempts != 1 {
		t.Errorf("status Attempts = %d, want 1 (other topic untouched)", st.Attempts)
	}
}

func TestVerifyIntent(t *testing.T) {
	t.Parallel()
	e := setup(t, func(cb string) []Subscription {
		return []Subscription{
			{Name: "credential", Topic: credentialTopic, Callback: cb + "/websub/callback", Secret: testSecret},
			{Name: "status", Topic: statusTopic, Callback: cb + "/websub/callback", Secret: testSecret},
		}
	}, nil)
	// Not asked yet: nothing is verified.
	q := mustQuery(t, "hub.mode=subscribe&hub.topic="+credentialTopic+"&hub.challenge=abc&hub.lease_seconds=86400")
	if status, _ := e.m.VerifyIntent("/websub/callback", q); status != 404 {
		t.Errorf("VerifyIntent before any request = %d, want 404", status)
	}
	// Pretend both requests were sent (white box: what attempt does).
	e.m.mu.Lock()
	for _, s := range e.m.subs {
		s.awaitUntil = time.Now().Add(time.Minute)
	}
	e.m.mu.Unlock()
	for _, tc := range []struct {
		name, path, query string
		status            int
		body              string
	}{
		{"raw slash topic", "/websub/callback", "hub.mode=subscribe&hub.topic=" + credentialTopic + "&hub.challenge=c-1&hub.lease_seconds=86400", 200, "c-1"},
		{"encoded topic, trailing slash", "/websub/callback/", "hub.mode=subscribe&hub.topic=crvs-partner%2FCREDENTIAL_ISSUED&hub.challenge=c-2", 200, "c-2"},
		{"second topic same path", "/websub/callback", "hub.mode=subscribe&hub.topic=" + statusTopic + "&hub.challenge=c-3", 200, "c-3"},
		{"other path", "/websub/other", "hub.mode=subscribe&hub.topic=" + credentialTopic + "&hub.challenge=c-4", 404, ""},
		{"unknown topic", "/websub/callback", "hub.mode=subscribe&hub.topic=other/TOPIC&hub.challenge=c-5", 404, ""},
		{"no challenge", "/websub/callback", "hub.mode=subscribe&hub.topic=" + statusTopic, 404, ""},
		{"unsubscribe not asked", "/websub/callback", "hub.mode=unsubscribe&hub.topic=" + statusTopic + "&hub.challenge=c-6", 404, ""},
		{"no mode", "/websub/callback", "hub.topic=" + statusTopic + "&hub.challenge=c-7", 404, ""},
		{"already registered", "/websub/callback", "hub.mode=denied&hub.topic=" + credentialTopic + "&hub.reason=Subscriber%20has%20already%20registered%20with%20the%20Hub", 200, ""},
		{"denied unknown", "/websub/callback", "hub.mode=denied&hub.topic=x&hub.reason=no", 404, ""},
	} {
		status, body := e.m.VerifyIntent(tc.path, mustQuery(t, tc.query))
		if status != tc.status || body != tc.body {
			t.Errorf("%s: VerifyIntent = %d %q, want %d %q", tc.name, status, body, tc.status, tc.body)
		}
	}
	if st := e.state("credential"); st.Status != StatusActive {
		t.Errorf("credential after verification and already registered = %+v, want active", st)
	}
	// A denial with another reason ends the subscription.
	status, _ := e.m.VerifyIntent("/websub/callback", mustQuery(t, "hub.mode=denied&hub.topic="+statusTopic+"&hub.reason=Topic%20removed"))
	if st := e.state("status"); status != 200 || st.Status != StatusDenied || !strings.Contains(st.LastError, "Topic removed") {
		t.Errorf("after denial: %d, %+v; want 200 and denied", status, st)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("ParseQuery(%q) = %v", raw, err)
	}
	return q
}

func TestPublishCredentialStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, func(o *Options) {
		o.Clock = func() time.Time { return time.Date(2026, 1, 10, 6, 20, 1, 123e6, time.UTC) }
	})
	if err := e.m.PublishCredentialStatus(context.Background(), "req-1", "served"); err != nil {
		t.Fatalf("PublishCredentialStatus() = %v", err)
	}
	pubs := e.hub.publishes()
	if len(pubs) != 1 {
		t.Fatalf("publishes = %d, want 1", len(pubs))
	}
	p := pubs[0]
	if p.Query.Get("hub.topic") != TopicCredentialStatusUpdate || p.CT != "application/json" || p.Cookie != "Authorization=tok-1" {
		t.Errorf("publish query %v, content type %q, cookie %q", p.Query, p.CT, p.Cookie)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(p.Body), &ev); err != nil {
		t.Fatal(err)
	}
	event := ev["event"].(map[string]any)
	if ev["topic"] != TopicCredentialStatusUpdate || ev["publisher"] != DefaultPublisher || ev["publishedOn"] != "2026-01-10T06:20:01.123Z" ||
		event["requestId"] != "req-1" || event["status"] != "served" || event["url"] != nil || event["timestamp"] != "2026-01-10T06:20:01.123Z" {
		t.Errorf("published %s", p.Body)
	}
	if _, has := event["url"]; !has {
		t.Errorf("event has no url key: %s", p.Body)
	}
	// The same acknowledgement carries the same event id.
	_ = e.m.PublishCredentialStatus(context.Background(), "req-1", "served")
	var again map[string]any
	_ = json.Unmarshal([]byte(e.hub.publishes()[1].Body), &again)
	if again["event"].(map[string]any)["id"] != event["id"] {
		t.Errorf("event ids differ for one acknowledgement: %v, %v", event["id"], again["event"])
	}

	for _, tc := range []struct {
		name      string
		answer    hubAnswer
		temporary bool
	}{
		{"denied with 200", hubAnswer{200, "hub.mode=denied&hub.reason=Publisher is not authorized"}, false},
		{"hub down", hubAnswer{503, "Service Unavailable"}, true},
	} {
		e.hub.setAnswers(tc.answer, tc.answer)
		err := e.m.PublishCredentialStatus(context.Background(), "req-2", "serving_error_decrypt")
		var he *HubError
		if !errors.As(err, &he) || IsTemporary(err) != tc.temporary {
			t.Errorf("%s: error = %v, want *HubError temporary=%v", tc.name, err, tc.temporary)
		}
	}
	if err := e.m.PublishCredentialStatus(context.Background(), "", "served"); err == nil {
		t.Error("publish without requestID succeeded")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	hub, _ := url.Parse("http://hub:9191/hub")
	tok := func(context.Context) (string, error) { return "t", nil }
	good := Subscription{Name: "a", Topic: "t", Callback: "http://cb/websub", Secret: "s"}
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"valid", Options{HubURL: hub, Token: tok, Subscriptions: []Subscription{good}}, nil},
		{"no subscriptions", Options{HubURL: hub, Token: tok}, nil},
		{"everything wrong", Options{RetryBase: -1, Subscriptions: []Subscription{
			{Topic: "", Callback: "/relative"},
			good, good, {Name: "c", Topic: "t", Callback: "http://other-host/websub/", Secret: "s"},
			{Name: "b", Topic: "t2", Callback: "ftp://x", Secret: strings.Repeat("s", 200), LeaseSeconds: -1},
		}}, []string{"HubURL", "Token", "RetryBase", "Name is required", "Topic is required", "Callback", "Secret is required",
			"Name is used twice", "same topic and callback path", "shorter than 200", "LeaseSeconds"}},
	} {
		_, err := New(tc.o)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: New() = %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: New() = nil, want errors", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: New() = %v\nwant it to mention %q", tc.name, err, w)
			}
		}
	}
}

func TestRunOnceAndStops(t *testing.T) {
	t.Parallel()
	e := setup(t, oneSub, nil)
	e.run(t)
	e.waitStatus(t, "credential", StatusActive)
	if err := e.m.Run(context.Background()); err == nil {
		t.Error("second Run() = nil, want an error")
	}
}

func TestStateMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	e := setup(t, oneSub, func(o *Options) { o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) })
	e.run(t)
	e.waitStatus(t, "credential", StatusActive)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
			if m.Name != "notification.websub.subscription.state" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				st, _ := dp.Attributes.Value(attribute.Key("status"))
				got[st.AsString()] = dp.Value
			}
		}
	}
	if got[StatusActive] != 1 || got[StatusPending] != 0 || got[StatusFailed] != 0 || len(got) != 4 {
		t.Errorf("state gauge = %v, want active 1 and the others 0", got)
	}
	for _, want := range []string{"notification.websub.subscribe.attempts", "notification.websub.intent.calls"} {
		if !slices.Contains(names, want) {
			t.Errorf("metrics %v lack %s", names, want)
		}
	}
}

// Nothing the hub echoes and nothing the Manager logs carries the token,
// the secret or the callback URL.
func TestNoSecretsInStateOrLogs(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	e := setup(t, oneSub, func(o *Options) {
		o.Logger = newLockedLogger(&logs, &mu)
		o.RetryBase, o.RetryMax = time.Minute, time.Minute // stay failed while the test looks
	})
	cb := e.m.States()[0].Callback
	leaky := hubAnswer{500, "hub.mode=denied&hub.reason=bad secret " + testSecret + " for " + cb + " token tok-1 tok-2"}
	e.hub.setAnswers(leaky, leaky)
	e.run(t)
	waitFor(t, "failed", func() bool { return e.state("credential").Status == StatusFailed })
	st := e.state("credential")
	if !strings.Contains(st.LastError, "bad secret") {
		t.Errorf("LastError = %q, want the hub's reason", st.LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, leak := range []string{testSecret, cb, "tok-1", "tok-2"} {
		if strings.Contains(st.LastError, leak) || strings.Contains(logs.String(), leak) {
			t.Errorf("%q leaked: LastError %q, logs %s", leak, st.LastError, logs.String())
		}
	}
}

// FuzzVerifyIntent feeds arbitrary callback requests (outside input): no
// panic, only 200 or 404, and a 200 for subscribe echoes the challenge.
func FuzzVerifyIntent(f *testing.F) {
	hub, _ := url.Parse("http://hub/hub")
	m, err := New(Options{HubURL: hub, Token: func(context.Context) (string, error) { return "t", nil },
		Subscriptions: []Subscription{
			{Name: "credential", Topic: credentialTopic, Callback: "http://cb/websub/callback", Secret: testSecret},
			{Name: "status", Topic: statusTopic, Callback: "http://cb/websub/callback", Secret: testSecret},
		}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range m.subs {
		s.awaitUntil = time.Now().Add(time.Hour)
	}
	f.Add("/websub/callback", "hub.mode=subscribe&hub.topic="+credentialTopic+"&hub.challenge=x&hub.lease_seconds=86400")
	f.Add("/websub/callback/", "hub.mode=denied&hub.topic="+statusTopic+"&hub.reason=Subscriber%20has%20already%20registered")
	f.Add("/websub/callback", "hub.mode=denied&hub.topic="+statusTopic+"&hub.reason=%ZZ;;&&==")
	f.Add("", "hub.mode=unsubscribe&hub.topic=&hub.challenge=")
	f.Add("/", "hub.lease_seconds=-99999999999999999999&hub.mode=subscribe&hub.topic="+credentialTopic+"&hub.challenge=%00")
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		status, body := m.VerifyIntent(path, q)
		switch {
		case status != 200 && status != 404:
			t.Fatalf("status %d", status)
		case status == 404 && body != "":
			t.Fatalf("404 with body %q", body)
		case status == 200 && q.Get("hub.mode") == "subscribe" && body != q.Get("hub.challenge"):
			t.Fatalf("body %q, challenge %q", body, q.Get("hub.challenge"))
		case status == 200 && q.Get("hub.mode") != "subscribe" && body != "":
			t.Fatalf("mode %q answered %q", q.Get("hub.mode"), body)
		}
		_ = m.States()
	})
}
