package authmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
)

const testSecret = "s3cr3t-do-not-leak"

func newClient(t *testing.T, u *url.URL, timeout time.Duration, tp *sdktrace.TracerProvider) *Client {
	t.Helper()
	o := Options{URL: u, Timeout: timeout, DefaultTTL: time.Minute}
	if tp != nil {
		o.TracerProvider = tp
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFetchAgainstFake(t *testing.T) {
	t.Parallel()
	fake := fakeauth.New(t, map[string]string{"mosip-crvs-client": testSecret}, 5*time.Minute)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newClient(t, fake.URL(), 5*time.Second, tp)
	cred := Credentials{ClientID: "mosip-crvs-client", Secret: testSecret, AppID: "regproc"}

	before := time.Now()
	tok, err := c.Fetch(context.Background(), cred)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if tok.Value != fake.LastToken() || tok.ExpirySource != ExpiryJWT {
		t.Errorf("Fetch = {%q, %s}, want the issued JWT dated by exp", tok.Value, tok.ExpirySource)
	}
	if d := tok.ExpiresAt.Sub(before); d < 4*time.Minute || d > 5*time.Minute+time.Second {
		t.Errorf("expiry %v after start, want about 5m", d)
	}

	fake.SetCookieOnly(true)
	tok2, err := c.Fetch(context.Background(), cred)
	if err != nil || tok2.Value != fake.LastToken() || tok2.Value == tok.Value {
		t.Errorf("cookie-only Fetch = %q, %v; want the new token", tok2.Value, err)
	}

	_, err = c.Fetch(context.Background(), Credentials{ClientID: "mosip-crvs-client", Secret: "wrong", AppID: "regproc"})
	var me *mosip.Error
	if !errors.As(err, &me) || me.Kind != mosip.KindRejected || me.Code != "KER-ATH-401" {
		t.Errorf("wrong secret: error = %v, want KER-ATH-401 rejection", err)
	}

	fake.SetFailure(&fakeauth.Failure{Status: 503})
	_, err = c.Fetch(context.Background(), cred)
	if !mosip.IsTemporary(err) {
		t.Errorf("503: error = %v, want temporary", err)
	}

	assertNoSecrets(t, rec.Ended(), testSecret, tok.Value, tok2.Value)
	if n := len(rec.Ended()); n != 4 {
		t.Errorf("%d spans, want 4 (one per call)", n)
	}
}

// assertNoSecrets fails if any span name, attribute, event or status holds
// one of the values.
func assertNoSecrets(t *testing.T, spans []sdktrace.ReadOnlySpan, values ...string) {
	t.Helper()
	for _, s := range spans {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %v %v", s.Name(), s.Status(), s.Attributes())
		for _, e := range s.Events() {
			fmt.Fprintf(&b, " %s %v", e.Name, e.Attributes)
		}
		for _, v := range values {
			if strings.Contains(b.String(), v) {
				t.Errorf("span %q carries a secret or token: %s", s.Name(), b.String())
			}
		}
	}
}

func TestFetchRequestShape(t *testing.T) {
	t.Parallel()
	var got struct {
		Method, ContentType string
		Body                map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Method, got.ContentType = r.Method, r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.Body)
		w.Header().Set("Authorization", "opaque-token")
		_, _ = io.WriteString(w, okBody)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + fakeauth.Path)
	now := time.Date(2025, 1, 10, 6, 11, 44, 123e6, time.UTC)
	c, err := New(Options{URL: u, DefaultTTL: 7 * time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Fetch(context.Background(), Credentials{ClientID: "cid", Secret: config.Secret("sk"), AppID: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.ExpiresAt.Equal(now.Add(7*time.Minute)) || tok.ExpirySource != ExpiryDefault {
		t.Errorf("opaque token expiry = %v (%s), want default TTL", tok.ExpiresAt, tok.ExpirySource)
	}
	want := map[string]any{
		"id": "mosip.io.clientId.pwd", "version": "1.0", "requesttime": "2025-01-10T06:11:44.123Z",
		"metadata": map[string]any{}, "request": map[string]any{"clientId": "cid", "secretKey": "sk", "appId": "admin"},
	}
	if got.Method != http.MethodPost || got.ContentType != "application/json" || fmt.Sprint(got.Body) != fmt.Sprint(want) {
		t.Errorf("request = %s %s %v\nwant POST application/json %v", got.Method, got.ContentType, got.Body, want)
	}
}

func TestFetchErrorsNeverCarryTheSecret(t *testing.T) {
	t.Parallel()
	// An upstream that echoes what it received in its error message.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		msg, _ := json.Marshal(string(b))
		_, _ = io.WriteString(w, `{"response":null,"errors":[{"errorCode":"KER-ATH-500","message":`+string(msg)+`}]}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := newClient(t, u, time.Second, nil)
	_, err := c.Fetch(context.Background(), Credentials{ClientID: "cid", Secret: testSecret, AppID: "admin"})
	var me *mosip.Error
	if !errors.As(err, &me) {
		t.Fatalf("error = %v", err)
	}
	if s := fmt.Sprintf("%v %+v", err, me.Details); strings.Contains(s, testSecret) {
		t.Errorf("error leaks the secret: %s", s)
	}
}

func TestFetchTimeoutAndRedirect(t *testing.T) {
	t.Parallel()
	fake := fakeauth.New(t, map[string]string{"c": "s"}, time.Minute)
	fake.SetDelay(2 * time.Second)
	c := newClient(t, fake.URL(), 100*time.Millisecond, nil)
	start := time.Now()
	_, err := c.Fetch(context.Background(), Credentials{ClientID: "c", Secret: "s", AppID: "a"})
	if !mosip.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow upstream: error = %v, want temporary deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Fetch took %v with a 100ms timeout", d)
	}

	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	u, _ := url.Parse(redirect.URL)
	_, err = newClient(t, u, time.Second, nil).Fetch(context.Background(), Credentials{ClientID: "c", Secret: "s", AppID: "a"})
	if err == nil || hits.Load() != 0 {
		t.Errorf("redirect: error = %v, redirect target hit %d times; want an error and no hit", err, hits.Load())
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "ftp://x/y", "/relative"} {
		u, _ := url.Parse(raw)
		if raw == "" {
			u = nil
		}
		if _, err := New(Options{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", raw)
		}
	}
}
