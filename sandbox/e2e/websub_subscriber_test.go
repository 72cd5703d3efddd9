// The notification service's WebSub subscription manager against the
// sandbox's MOSIP hub. The manager lives in

package e2e

import (
	"context"
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

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/notification/websub"
)

// subscriberEnv is a sandbox, a callback server standing in for the
// notification service's /websub/callback handler, and a Manager.
type subscriberEnv struct {
	sb       *server.Sandbox
	url      string
	callback *httptest.Server
	m        atomic.Pointer[websub.Manager]

	failing       atomic.Bool // answer deliveries 503, as when the store is down
	invalidations atomic.Int32
	mu            sync.Mutex
	received      []string
}

func newSubscriberEnv(t *testing.T) *subscriberEnv {
	t.Helper()
	var cfg server.Config
	if err := config.Load(&cfg, config.MapLookuper(map[string]string{"SANDBOX_HUB_RETRY_BACKOFF": "10ms"})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sb, err := server.New(cfg, "http://"+srv.Listener.Addr().String(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sb.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = sb.Close() })

	e := &subscriberEnv{sb: sb, url: srv.URL}
	e.callback = httptest.NewServer(http.HandlerFunc(e.serveCallback))
	t.Cleanup(e.callback.Close)
	return e
}

// serveCallback routes the hub's GETs to VerifyIntent; POSTs (deliveries,
// at "<callback>/") are stored, or refused while failing, reporting the
// problem to the Manager as the service's handler does.
func (e *subscriberEnv) serveCallback(w http.ResponseWriter, r *http.Request) {
	m := e.m.Load()
	if m == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		status, body := m.VerifyIntent(r.URL.Path, r.URL.Query())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		if e.failing.Load() {
			m.NotifyDeliveryProblem(linkSelf(r.Header.Get("Link")))
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		e.mu.Lock()
		e.received = append(e.received, string(body))
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

// linkSelf reads the topic from the delivery's Link: <hub>; rel="hub", <topic>; rel="self".
func linkSelf(link string) string {
	for part := range strings.SplitSeq(link, ",") {
		target, rel, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(rel, `rel="self"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}

func (e *subscriberEnv) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.received...)
}

// mosipToken fetches a token from the sandbox's auth manager over HTTP, as
// the auth-token service does for the WebSub client.
func (e *subscriberEnv) mosipToken(clientID, secret string) websub.TokenSource {
	return func(ctx context.Context) (string, error) {
		body := fmt.Sprintf(`{"id":"mosip.io.clientId.pwd","version":"1.0","requesttime":%q,"metadata":{},"request":{"clientId":%q,"secretKey":%q,"appId":"partner"}}`,
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), clientID, secret)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+mosip.AuthPath, strings.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if tok := resp.Header.Get("Authorization"); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("auth manager answered %d without a token", resp.StatusCode)
	}
}

func (e *subscriberEnv) start(t *testing.T, token websub.TokenSource, subs []websub.Subscription, mod func(*websub.Options)) *websub.Manager {
	t.Helper()
	hub, _ := url.Parse(e.url + mosip.HubPath)
	o := websub.Options{HubURL: hub, Subscriptions: subs, Token: token,
		Invalidate: func(context.Context) { e.invalidations.Add(1) },
		RetryBase:  20 * time.Millisecond, RetryMax: 100 * time.Millisecond, AfterFailureDelay: 100 * time.Millisecond,
		VerifyTimeout: 5 * time.Second}
	if mod != nil {
		mod(&o)
	}
	m, err := websub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.m.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	return m
}

func (e *subscriberEnv) partnerToken() websub.TokenSource {
	return e.mosipToken(e.sb.Config.PartnerID, e.sb.Config.WebSubClientSecret.Value())
}

func (e *subscriberEnv) credentialSub() websub.Subscription {
	return websub.Subscription{Name: "credential", Topic: mosip.CredentialTopic(e.sb.Config.PartnerID),
		Callback: e.callback.URL + "/websub/callback", Secret: "sandbox-hub-secret-1"}
}

func subscriberState(m *websub.Manager, name string) websub.State {
	for _, s := range m.States() {
		if s.Name == name {
			return s
		}
	}
	return websub.State{}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebSubSubscriberActiveAndRenewed(t *testing.T) {
	t.Parallel()
	e := newSubscriberEnv(t)
	subs := []websub.Subscription{
		e.credentialSub(),
		// Same callback path, another topic: the topic tells them apart.
		{Name: "status", Topic: mosip.TopicWorkflowCompleted, Callback: e.callback.URL + "/websub/callback", Secret: "sandbox-hub-secret-2"},
	}
	m := e.start(t, e.partnerToken(), subs, func(o *websub.Options) { o.ResubscribeInterval = 150 * time.Millisecond })

	for _, s := range subs {
		eventually(t, s.Name+" active", func() bool { return subscriberState(m, s.Name).Status == websub.StatusActive })
		// The hub records the subscription after our echo reached it.
		eventually(t, s.Name+" active at the hub", func() bool {
			info, ok := e.sb.Hub.Subscription(s.Topic, s.Callback)
			return ok && info.State == mosip.SubscriptionActive
		})
		if st := subscriberState(m, s.Name); st.VerifiedAt.IsZero() || st.LeaseSeconds != 86400 {
			t.Errorf("%s state = %+v, want verified with the hub's default lease", s.Name, st)
		}
	}
	// Renewals are answered "already registered" and keep it active.
	eventually(t, "renewals", func() bool { return subscriberState(m, "credential").Attempts >= 3 })
	if st := subscriberState(m, "credential"); st.Status != websub.StatusActive || st.LastError != "" {
		t.Errorf("after renewals: %+v, want active", st)
	}
	var already int
	for _, v := range e.sb.Hub.Verifications() {
		if v.Mode == "denied" && strings.Contains(v.Reason, "already registered") {
			already++
			if v.Status != http.StatusOK {
				t.Errorf("denied GET answered %d, want 200", v.Status)
			}
		}
	}
	if already == 0 {
		t.Error("the hub never answered a renewal with already registered")
	}
	if n := len(e.sb.Hub.Subscriptions()); n != 2 {
		t.Errorf("hub subscriptions = %d, want 2 (renewals create none)", n)
	}
}

func TestWebSubSubscriberDeniedForWrongClient(t *testing.T) {
	t.Parallel()
	e := newSubscriberEnv(t)
	// The packet client is not the partner: the hub refuses it the partner topic.
	m := e.start(t, e.mosipToken(e.sb.Config.PacketClientID, e.sb.Config.PacketClientSecret.Value()),
		[]websub.Subscription{e.credentialSub()}, nil)
	eventually(t, "retries", func() bool {
		st := subscriberState(m, "credential")
		return st.Attempts >= 3 && st.Status == websub.StatusFailed
	})
	st := subscriberState(m, "credential")
	if !strings.Contains(st.LastError, "not authorized") {
		t.Errorf("LastError = %q, want the hub's denial", st.LastError)
	}
	if e.invalidations.Load() == 0 {
		t.Error("the token was never invalidated after the hub refused it")
	}
	if n := len(e.sb.Hub.Subscriptions()); n != 0 {
		t.Errorf("hub subscriptions = %d, want none", n)
	}
	// Backoff: a few attempts, not a tight loop.
	if n := st.Attempts; n > 60 {
		t.Errorf("%d attempts, want backoff between them", n)
	}
}

func TestWebSubSubscriberRecoversAfterDeliveryFailures(t *testing.T) {
	t.Parallel()
	e := newSubscriberEnv(t)
	sub := e.credentialSub()
	m := e.start(t, e.partnerToken(), []websub.Subscription{sub}, func(o *websub.Options) { o.AfterFailureDelay = 300 * time.Millisecond })
	eventually(t, "active", func() bool { return subscriberState(m, "credential").Status == websub.StatusActive })

	// The store is down: the hub's three attempts fail and it stops
	// delivering to us, keeping the message.
	e.failing.Store(true)
	if err := e.sb.Hub.Publish(sub.Topic, []byte(`{"event":{"id":"m1"}}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hub stops delivering", func() bool {
		info, _ := e.sb.Hub.Subscription(sub.Topic, sub.Callback)
		return info.State == mosip.SubscriptionStopped
	})
	if err := e.sb.Hub.Publish(sub.Topic, []byte(`{"event":{"id":"m2"}}`)); err != nil {
		t.Fatal(err)
	}
	e.failing.Store(false)

	// The reported problem brings the re-subscribe forward; the hub revives
	// the subscriber and delivers the backlog in order.
	eventually(t, "backlog delivered", func() bool { return len(e.messages()) == 2 })
	if got := e.messages(); !strings.Contains(got[0], "m1") || !strings.Contains(got[1], "m2") {
		t.Errorf("received %v, want m1 then m2", got)
	}
	// The hub commits a message just after our 200.
	eventually(t, "hub queue empty and active", func() bool {
		info, _ := e.sb.Hub.Subscription(sub.Topic, sub.Callback)
		return info.State == mosip.SubscriptionActive && info.Pending == 0
	})
	if st := subscriberState(m, "credential"); st.Status != websub.StatusActive || st.Attempts < 2 {
		t.Errorf("state = %+v, want active after a re-subscribe", st)
	}
}

func TestWebSubSubscriberPublishesCredentialStatus(t *testing.T) {
	t.Parallel()
	e := newSubscriberEnv(t)
	m := e.start(t, e.partnerToken(), []websub.Subscription{e.credentialSub()}, nil)
	if err := m.PublishCredentialStatus(context.Background(), "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "served"); err != nil {
		t.Fatalf("PublishCredentialStatus() = %v", err)
	}
	updates := e.sb.Hub.StatusUpdates()
	if len(updates) != 1 {
		t.Fatalf("status updates = %+v, want 1", updates)
	}
	u := updates[0]
	if u.RequestID != "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9" || u.Status != "served" || u.Publisher == "" || u.EventID == "" {
		t.Errorf("status update = %+v", u)
	}
	// A refused token: the hub answers HTTP 200 hub.mode=denied, which is an
	// error, after one retry with a new token.
	hub, _ := url.Parse(e.url + mosip.HubPath)
	var invalidated atomic.Int32
	bad, err := websub.New(websub.Options{HubURL: hub, Token: func(context.Context) (string, error) { return "not-a-token", nil },
		Invalidate: func(context.Context) { invalidated.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.PublishCredentialStatus(context.Background(), "r-2", "served"); err == nil || websub.IsTemporary(err) {
		t.Errorf("publish with a bad token = %v, want a permanent error", err)
	}
	if invalidated.Load() != 1 || len(e.sb.Hub.StatusUpdates()) != 1 {
		t.Errorf("invalidations %d, updates %d; want 1 and still 1", invalidated.Load(), len(e.sb.Hub.StatusUpdates()))
	}
}
