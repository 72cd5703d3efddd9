package tokencache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/authmanager"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/redistest"
)

// fakeClock is a settable clock shared by the cache and the fake fetcher.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 10, 6, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeFetcher issues numbered tokens valid for ttl and counts calls.
type fakeFetcher struct {
	now   func() time.Time
	ttl   atomic.Int64
	delay atomic.Int64
	calls atomic.Int64
	err   atomic.Pointer[error]
}

func newFetcher(now func() time.Time, ttl time.Duration) *fakeFetcher {
	f := &fakeFetcher{now: now}
	f.ttl.Store(int64(ttl))
	return f
}

func (f *fakeFetcher) setErr(err error) {
	if err == nil {
		f.err.Store(nil)
		return
	}
	f.err.Store(&err)
}

func (f *fakeFetcher) Fetch(ctx context.Context, cred authmanager.Credentials) (authmanager.Token, error) {
	n := f.calls.Add(1)
	if d := time.Duration(f.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return authmanager.Token{}, mosip.NewTransportError(ctx.Err())
		}
	}
	if e := f.err.Load(); e != nil {
		return authmanager.Token{}, *e
	}
	now := f.now()
	return authmanager.Token{
		Value:      fmt.Sprintf("%s-tok-%d", cred.ClientID, n),
		AcquiredAt: now, ExpiresAt: now.Add(time.Duration(f.ttl.Load())), ExpirySource: authmanager.ExpiryJWT,
	}, nil
}

var testClients = []Client{
	{Name: "packet", Credentials: authmanager.Credentials{ClientID: "packet-client", Secret: "packet-secret", AppID: "regproc"}},
	{Name: "websub", Credentials: authmanager.Credentials{ClientID: "websub-client", Secret: "websub-secret", AppID: "partner"}},
}

func newTestCache(t testing.TB, f Fetcher, store Store, prefix string, now func() time.Time, mod func(*Options)) *Cache {
	t.Helper()
	o := Options{
		Profile: "test", KeyPrefix: prefix, Clients: testClients, Fetcher: f, Store: store, Now: now,
		FetchTimeout: 2 * time.Second, PollMin: 5 * time.Millisecond, PollMax: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustGet(t *testing.T, c *Cache, client string) Token {
	t.Helper()
	tok, err := c.Get(context.Background(), client)
	if err != nil {
		t.Fatalf("Get(%q): %v", client, err)
	}
	return tok
}

func state(c *Cache, client string) State {
	for _, s := range c.States() {
		if s.Client == client {
			return s
		}
	}
	return State{}
}

func TestPolicySchedule(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 10, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name             string
		policy           Policy
		lifetime         time.Duration
		refresh, stale   time.Duration // offsets from t0
		wantStaleAtStart bool
	}{
		{"1h: full skew, refresh at half", Policy{}, time.Hour, 30 * time.Minute, time.Hour - 30*time.Second, false},
		{"5m", Policy{Skew: 30 * time.Second, RefreshFraction: 0.5}, 5 * time.Minute, 150 * time.Second, 270 * time.Second, false},
		{"60s: skew clamped to a quarter", Policy{}, time.Minute, 30 * time.Second, 45 * time.Second, false},
		{"1s token", Policy{}, time.Second, 500 * time.Millisecond, 750 * time.Millisecond, false},
		{"late fraction clamped to stale", Policy{RefreshFraction: 0.9}, time.Minute, 45 * time.Second, 45 * time.Second, false},
		{"custom skew", Policy{Skew: 10 * time.Second, RefreshFraction: 0.75}, time.Hour, 45 * time.Minute, time.Hour - 10*time.Second, false},
		{"out-of-range fraction uses default", Policy{RefreshFraction: 1.5}, time.Hour, 30 * time.Minute, time.Hour - 30*time.Second, false},
		{"no lifetime: stale at once", Policy{}, 0, 0, 0, true},
		{"negative lifetime", Policy{}, -time.Minute, -time.Minute, -time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			refresh, stale := tt.policy.Schedule(t0, t0.Add(tt.lifetime))
			if !refresh.Equal(t0.Add(tt.refresh)) || !stale.Equal(t0.Add(tt.stale)) {
				t.Errorf("Schedule(lifetime %v) = refresh +%v, stale +%v; want +%v, +%v",
					tt.lifetime, refresh.Sub(t0), stale.Sub(t0), tt.refresh, tt.stale)
			}
			if got := !t0.Before(stale); got != tt.wantStaleAtStart {
				t.Errorf("stale at acquisition = %v, want %v", got, tt.wantStaleAtStart)
			}
		})
	}
}

func TestHitAfterMiss(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFetcher(clock.Now, time.Hour)
	c := newTestCache(t, f, nil, "", clock.Now, nil)
	first := mustGet(t, c, "packet")
	for range 10 {
		if got := mustGet(t, c, "packet"); got != first {
			t.Fatalf("Get = %+v, want the cached %+v", got, first)
		}
	}
	if got := mustGet(t, c, "websub"); got.Value == first.Value {
		t.Error("clients share a token")
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("auth manager calls = %d, want 2 (one per client)", n)
	}
	s := state(c, "packet")
	if s.Hits != 10 || s.Misses != 1 || s.AuthCalls != 1 || !s.HasToken || s.Source != sourceAuthManager ||
		s.ClientID != "packet-client" || s.AppID != "regproc" || !s.ExpiresAt.Equal(first.ExpiresAt) {
		t.Errorf("state = %+v", s)
	}
}

func TestUnknownClient(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, newFetcher(time.Now, time.Hour), nil, "", nil, nil)
	for _, client := range []string{"nope", strings.Repeat("x", 500)} {
		_, err := c.Get(context.Background(), client)
		var ue *UnknownClientError
		if !errors.Is(err, ErrUnknownClient) || !errors.As(err, &ue) {
			t.Fatalf("Get(%q) error = %v, want ErrUnknownClient", client[:4], err)
		}
		if !strings.Contains(err.Error(), "packet, websub") || len(err.Error()) > 200 {
			t.Errorf("error = %q; want the valid clients and a bounded length", err)
		}
		if _, err := c.Invalidate(context.Background(), client, "t"); !errors.Is(err, ErrUnknownClient) {
			t.Errorf("Invalidate(%q) error = %v", client[:4], err)
		}
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	f := newFetcher(time.Now, time.Hour)
	f.delay.Store(int64(50 * time.Millisecond))
	c := newTestCache(t, f, nil, "", nil, nil)
	var wg sync.WaitGroup
	tokens := make([]string, 1000)
	for i := range tokens {
		wg.Go(func() {
			tok, err := c.Get(context.Background(), "packet")
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok.Value
		})
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Errorf("auth manager calls = %d, want 1", n)
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatalf("callers got different tokens: %q vs %q", tok, tokens[0])
		}
	}
}

func TestCallerDeadlineDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	f := newFetcher(time.Now, time.Hour)
	f.delay.Store(int64(200 * time.Millisecond))
	c := newTestCache(t, f, nil, "", nil, nil)
	impatient := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx, "packet")
		impatient <- err
	}()
	tok, err := c.Get(context.Background(), "packet")
	if err != nil || tok.Value == "" {
		t.Fatalf("patient caller: %+v, %v", tok, err)
	}
	if err := <-impatient; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller error = %v, want DeadlineExceeded", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("auth manager calls = %d, want 1", n)
	}
}

func TestRefreshAhead(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFetcher(clock.Now, time.Minute)
	c := newTestCache(t, f, nil, "", clock.Now, nil)
	first := mustGet(t, c, "packet")

	clock.Advance(29 * time.Second)
	mustGet(t, c, "packet")
	time.Sleep(20 * time.Millisecond)
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("refreshed before half the lifetime: %d calls", n)
	}

	// Past half the lifetime, callers keep getting the current token at
	// once while exactly one refresh runs in the background.
	f.delay.Store(int64(100 * time.Millisecond))
	clock.Advance(2 * time.Second)
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			start := time.Now()
			tok, err := c.Get(context.Background(), "packet")
			if err != nil || tok != first {
				t.Errorf("Get during refresh = %+v, %v; want the current token", tok, err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("Get waited %v for the refresh", d)
			}
		})
	}
	wg.Wait()
	eventually(t, "background refresh", func() bool { return mustGet(t, c, "packet").Value != first.Value })
	if n := f.calls.Load(); n != 2 {
		t.Errorf("auth manager calls = %d, want 2 (one background refresh)", n)
	}
	if s := state(c, "packet"); s.LastError != "" || s.AuthCalls != 2 {
		t.Errorf("state = %+v", s)
	}
}

func TestRefreshFailureKeepsServing(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFetcher(clock.Now, time.Minute) // refresh at 30s, stale at 45s
	c := newTestCache(t, f, nil, "", clock.Now, func(o *Options) {
		o.RefreshRetryMin, o.RefreshRetryMax = 10*time.Second, 60*time.Second
	})
	first := mustGet(t, c, "packet")
	f.setErr(&mosip.Error{Kind: mosip.KindHTTP, Status: 503})

	clock.Advance(31 * time.Second)
	if got := mustGet(t, c, "packet"); got != first {
		t.Fatalf("Get = %+v, want the old token", got)
	}
	eventually(t, "refresh failure recorded", func() bool { return state(c, "packet").LastError != "" })
	s := state(c, "packet")
	if !strings.Contains(s.LastError, "HTTP 503") || !s.LastErrorAt.Equal(clock.Now()) || !s.HasToken {
		t.Errorf("state after failed refresh = %+v", s)
	}

	// Retries are spaced, not attempted on every hit.
	for range 100 {
		if got := mustGet(t, c, "packet"); got != first {
			t.Fatalf("Get = %+v, want the old token", got)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("auth manager calls = %d right after a failed refresh, want 2", n)
	}
	clock.Advance(11 * time.Second) // 42s: past the first retry spacing (5-10s), still usable
	mustGet(t, c, "packet")
	eventually(t, "second refresh attempt", func() bool { return f.calls.Load() == 3 })

	// Once stale, the failure surfaces to callers.
	clock.Advance(4 * time.Second) // 46s
	eventually(t, "refresh finished", func() bool { return !c.entries["packet"].refreshing.Load() })
	if _, err := c.Get(context.Background(), "packet"); !mosip.IsTemporary(err) {
		t.Fatalf("Get after stale = %v, want the temporary auth manager error", err)
	}

	f.setErr(nil)
	clock.Advance(2 * time.Second) // past FailureHold
	if got := mustGet(t, c, "packet"); got.Value == first.Value {
		t.Error("still the old token after recovery")
	}
	if s := state(c, "packet"); s.LastError != "" {
		t.Errorf("last error not cleared after a successful refresh: %q", s.LastError)
	}
}

func TestFailureHold(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	f := newFetcher(clock.Now, time.Hour)
	f.setErr(&mosip.Error{Kind: mosip.KindRejected, Status: 200, Code: "KER-ATH-401", Message: "Authentication Failed"})
	c := newTestCache(t, f, nil, "", clock.Now, nil)
	for range 5 {
		if _, err := c.Get(context.Background(), "packet"); !mosip.IsUnauthorized(err) {
			t.Fatalf("Get error = %v, want KER-ATH-401", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("auth manager calls = %d within the failure hold, want 1", n)
	}
	clock.Advance(2 * time.Second)
	_, _ = c.Get(context.Background(), "packet")
	if n := f.calls.Load(); n != 2 {
		t.Errorf("auth manager calls = %d after the hold, want 2", n)
	}
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, prefix := newStore(t)
			clock := newFakeClock()
			f := newFetcher(clock.Now, time.Hour)
			c := newTestCache(t, f, store, prefix, clock.Now, nil)
			ctx := context.Background()
			tokA := mustGet(t, c, "packet")

			if ok, err := c.Invalidate(ctx, "packet", "some-older-token"); ok || err != nil {
				t.Errorf("Invalidate(other) = %v, %v; want false", ok, err)
			}
			if got := mustGet(t, c, "packet"); got != tokA || f.calls.Load() != 1 {
				t.Fatalf("after invalidating another token: %+v, %d calls; want the current token, 1 call", got, f.calls.Load())
			}

			if ok, err := c.Invalidate(ctx, "packet", tokA.Value); !ok || err != nil {
				t.Fatalf("Invalidate(current) = %v, %v; want true", ok, err)
			}
			if _, found, _ := store.Get(ctx, prefix+"test:packet"); found {
				t.Error("invalidated token still in the shared store")
			}
			tokB := mustGet(t, c, "packet")
			if tokB.Value == tokA.Value || f.calls.Load() != 2 {
				t.Fatalf("after invalidation: %q, %d calls; want a new token, 2 calls", tokB.Value, f.calls.Load())
			}

			// A second forced refresh within the interval is refused and the
			// current token keeps being served.
			if ok, err := c.Invalidate(ctx, "packet", tokB.Value); ok || err != nil {
				t.Errorf("rate-limited Invalidate = %v, %v; want false", ok, err)
			}
			if got := mustGet(t, c, "packet"); got != tokB {
				t.Errorf("after rate-limited invalidation: %q, want %q", got.Value, tokB.Value)
			}
			// Other clients have their own budget.
			tokW := mustGet(t, c, "websub")
			if ok, _ := c.Invalidate(ctx, "websub", tokW.Value); !ok {
				t.Error("websub invalidation limited by packet's")
			}

			clock.Advance(11 * time.Second)
			if ok, err := c.Invalidate(ctx, "packet", tokB.Value); !ok || err != nil {
				t.Errorf("Invalidate after the interval = %v, %v; want true", ok, err)
			}
			if got := mustGet(t, c, "packet"); got.Value == tokB.Value {
				t.Error("invalidated token served again")
			}
		})
	}
}

func TestInvalidatedTokenNotReadoptedFromStore(t *testing.T) {
	t.Parallel()
	// Replica B still holds token A in the shared store when replica A
	// invalidates it locally while the store write is unavailable; B's entry
	// must not come back into A's L1.
	store := NewMemoryStore(nil)
	f := newFetcher(time.Now, time.Hour)
	a := newTestCache(t, f, store, "", nil, nil)
	tok := mustGet(t, a, "packet")
	a.entries["packet"].cur.Store(nil)
	e := a.entries["packet"]
	v := tok.Value
	e.revoked.Store(&v)
	if got := mustGet(t, a, "packet"); got.Value == tok.Value {
		t.Error("revoked token adopted from the shared store")
	}
}

func TestReplicasShareOneFetch(t *testing.T) {
	t.Parallel()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, prefix := newStore(t)
			f := newFetcher(time.Now, time.Hour)
			f.delay.Store(int64(30 * time.Millisecond))
			replicas := make([]*Cache, 3)
			for i := range replicas {
				replicas[i] = newTestCache(t, f, store, prefix, nil, nil)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			seen := map[string]int{}
			for i := range 1000 {
				wg.Go(func() {
					tok, err := replicas[i%3].Get(context.Background(), "packet")
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[tok.Value]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if n := f.calls.Load(); n != 1 || len(seen) != 1 {
				t.Errorf("auth manager calls = %d, distinct tokens = %d; want 1 and 1", n, len(seen))
			}
			var fromStore int
			for _, r := range replicas {
				if state(r, "packet").Source == store.Name() {
					fromStore++
				}
			}
			if fromStore != 2 {
				t.Errorf("%d replicas took the token from the store, want 2", fromStore)
			}
		})
	}
}

func TestLockHolderVanishes(t *testing.T) {
	t.Parallel()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, prefix := newStore(t)
			f := newFetcher(time.Now, time.Hour)
			c := newTestCache(t, f, store, prefix, nil, nil)
			// A replica took the lock and died before storing a token.
			if ok, err := store.TryLock(context.Background(), prefix+"test:packet:lock", "dead-replica", 300*time.Millisecond); !ok || err != nil {
				t.Fatal("could not plant the lock")
			}
			start := time.Now()
			if _, err := c.Get(context.Background(), "packet"); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
				t.Errorf("Get took %v; want it to wait for the dead lock to expire (300ms), then fetch", d)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("auth manager calls = %d, want 1", n)
			}
		})
	}
}

// failingStore fails every call, like a Redis that refuses connections.
type failingStore struct{ calls atomic.Int64 }

var errRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (s *failingStore) Name() string { return "redis" }
func (s *failingStore) Get(context.Context, string) (Entry, bool, error) {
	s.calls.Add(1)
	return Entry{}, false, errRefused
}
func (s *failingStore) Set(context.Context, string, Entry) error { s.calls.Add(1); return errRefused }
func (s *failingStore) CompareAndDelete(context.Context, string, string) (bool, error) {
	s.calls.Add(1)
	return false, errRefused
}
func (s *failingStore) TryLock(context.Context, string, string, time.Duration) (bool, error) {
	s.calls.Add(1)
	return false, errRefused
}
func (s *failingStore) Unlock(context.Context, string, string) error {
	s.calls.Add(1)
	return errRefused
}

func TestStoreDownFallsBackToProcessMemory(t *testing.T) {
	t.Parallel()
	f := newFetcher(time.Now, time.Hour)
	dead := make([]*failingStore, 3)
	replicas := make([]*Cache, 3)
	for i := range replicas {
		dead[i] = &failingStore{}
		replicas[i] = newTestCache(t, f, dead[i], "", nil, nil)
	}
	var wg sync.WaitGroup
	for i := range 900 {
		wg.Go(func() {
			if _, err := replicas[i%3].Get(context.Background(), "packet"); err != nil {
				t.Errorf("Get failed because the store is down: %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.calls.Load(); n > 3 {
		t.Errorf("auth manager calls = %d, want at most one per replica", n)
	}
	for i, s := range dead {
		// The first Get fails and opens the breaker; Set is refused by it.
		if n := s.calls.Load(); n > 2 {
			t.Errorf("replica %d called the dead store %d times, want the breaker to stop it", i, n)
		}
	}
	// Invalidation still works on process memory.
	tok := mustGet(t, replicas[0], "packet")
	if ok, err := replicas[0].Invalidate(context.Background(), "packet", tok.Value); !ok || err != nil {
		t.Errorf("Invalidate with the store down = %v, %v", ok, err)
	}
}

func TestStatesNeverCarryTokens(t *testing.T) {
	t.Parallel()
	f := newFetcher(time.Now, time.Hour)
	c := newTestCache(t, f, nil, "", nil, nil)
	tok := mustGet(t, c, "packet")
	if s := fmt.Sprintf("%+v", c.States()); strings.Contains(s, tok.Value) || strings.Contains(s, "packet-secret") {
		t.Errorf("States leak the token or secret: %s", s)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := newFetcher(time.Now, time.Hour)
	c := newTestCache(t, f, nil, "", nil, func(o *Options) { o.MeterProvider = mp })
	for range 5 {
		mustGet(t, c, "packet")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					client, _ := dp.Attributes.Value("client")
					lvl, _ := dp.Attributes.Value("level")
					outcome, _ := dp.Attributes.Value("outcome")
					got[fmt.Sprintf("%s/%s/%s/%s", m.Name, client.AsString(), lvl.AsString(), outcome.AsString())] += dp.Value
				}
			}
		}
	}
	want := map[string]int64{
		"authtoken.cache.hits/packet/l1/":             4,
		"authtoken.cache.misses/packet//":             1,
		"authtoken.authmanager.calls/packet//success": 1,
		"authtoken.cache.hits/websub/l1/":             0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, "success"},
		{&mosip.Error{Kind: mosip.KindRejected, Code: "KER-ATH-401"}, "rejected"},
		{&mosip.Error{Kind: mosip.KindHTTP, Status: 404}, "rejected"},
		{&mosip.Error{Kind: mosip.KindHTTP, Status: 502}, "unavailable"},
		{mosip.NewTransportError(errors.New("refused")), "unavailable"},
		{mosip.NewTransportError(context.DeadlineExceeded), "timeout"},
		{&mosip.Error{Kind: mosip.KindMalformed, Err: mosip.ErrNoResponse}, "malformed"},
		{context.Canceled, "canceled"},
		{errors.New("boom"), "error"},
	}
	for _, tt := range tests {
		if got := Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func BenchmarkGetTokenL1Hit(b *testing.B) {
	c := newTestCache(b, newFetcher(time.Now, time.Hour), nil, "", nil, nil)
	ctx := context.Background()
	if _, err := c.Get(ctx, "packet"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "packet"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetTokenL1HitParallel(b *testing.B) {
	c := newTestCache(b, newFetcher(time.Now, time.Hour), nil, "", nil, nil)
	ctx := context.Background()
	if _, err := c.Get(ctx, "packet"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(ctx, "packet"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGetTokenL1HitLatency times calls one by one to report the
// latency distribution (the clock reads are included, so it overstates).
func BenchmarkGetTokenL1HitLatency(b *testing.B) {
	c := newTestCache(b, newFetcher(time.Now, time.Hour), nil, "", nil, nil)
	ctx := context.Background()
	if _, err := c.Get(ctx, "packet"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		_, _ = c.Get(ctx, "packet")
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	reportPercentiles(b, lat)
}

// BenchmarkGetTokenRedisL2 measures a cold replica: L1 is empty on every
// iteration and the token comes from Redis.
func BenchmarkGetTokenRedisL2(b *testing.B) {
	rdb := redistest.Client(b)
	prefix := redistest.Prefix(b)
	f := newFetcher(time.Now, time.Hour)
	warm := newTestCache(b, f, NewRedisStore(rdb, nil), prefix, nil, nil)
	if _, err := warm.Get(context.Background(), "packet"); err != nil {
		b.Fatal(err)
	}
	cold := newTestCache(b, f, NewRedisStore(rdb, nil), prefix, nil, nil)
	e := cold.entries["packet"]
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		e.cur.Store(nil)
		start := time.Now()
		if _, err := cold.Get(ctx, "packet"); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	if n := f.calls.Load(); n != 1 {
		b.Errorf("auth manager calls = %d, want 1", n)
	}
	if s := state(cold, "packet"); s.Source != "redis" {
		b.Errorf("cold replica source = %q, want redis", s.Source)
	}
	reportPercentiles(b, lat)
}

// reportPercentiles adds p50 and p99 latency (ns) to the benchmark output.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*50/100].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
