package authtoken

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/fakeauth"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/redistest"
)

// burst sends n concurrent GetToken calls spread over the instances and
// returns the distinct tokens and how many calls failed.
func burst(t *testing.T, fleet []instance, n int) (tokens map[string]int, failed int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	tokens = map[string]int{}
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := fleet[i%len(fleet)].client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: "packet"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if failed == 1 {
					t.Errorf("GetToken = %v", err)
				}
				return
			}
			tokens[resp.GetToken()]++
		})
	}
	wg.Wait()
	return tokens, failed
}

func startFleet(t *testing.T, n int, cfg Config) []instance {
	t.Helper()
	fleet := make([]instance, n)
	for i := range fleet {
		fleet[i] = startInstance(t, cfg, options{})
	}
	return fleet
}

// 1,000 concurrent cold requests across three replicas sharing Redis cost
// exactly one auth manager call. The replicas share the token encrypted
// (AUTH_TOKEN_CACHE_KEY): Redis never holds it in the clear.
func TestFleetColdStartMakesOneAuthManagerCall(t *testing.T) {
	t.Parallel()
	fake := newFake(t, time.Hour)
	fake.SetDelay(50 * time.Millisecond) // a realistic Keycloak round trip widens the race
	cfg := loadConfig(t, env(fake, map[string]string{"REDIS_URL": redistest.SharedURL(t),
		"AUTH_TOKEN_CACHE_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="}))
	fleet := startFleet(t, 3, cfg)

	tokens, failed := burst(t, fleet, 1000)
	if failed > 0 || len(tokens) != 1 {
		t.Fatalf("%d failed calls, %d distinct tokens; want 0 and 1", failed, len(tokens))
	}
	rdb := redistest.Client(t)
	keys, err := rdb.Keys(context.Background(), cfg.RedisKeyPrefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("Redis keys under the test's prefix: %v, %v", keys, err)
	}
	for _, k := range keys {
		v, _ := rdb.Get(context.Background(), k).Result()
		for tok := range tokens {
			if strings.Contains(v, tok) {
				t.Errorf("Redis key %s holds the token in the clear", k)
			}
		}
	}
	if n := fake.Calls(); n != 1 {
		t.Errorf("auth manager calls = %d, want exactly 1 for the whole fleet", n)
	}
	var fromRedis int
	for _, in := range fleet {
		if states(t, in)["packet"].GetSource() == "redis" {
			fromRedis++
		}
	}
	if fromRedis != 2 {
		t.Errorf("%d replicas took the token from Redis, want 2", fromRedis)
	}
}

// With Redis down from the start, every replica still answers, each with
// at most one auth manager call.
func TestFleetRedisStoppedAtMostOneCallPerInstance(t *testing.T) {
	t.Parallel()
	redisSrv := redistest.Start(t)
	redisSrv.Kill()
	fake := newFake(t, time.Hour)
	fake.SetDelay(20 * time.Millisecond)
	cfg := loadConfig(t, env(fake, map[string]string{"REDIS_URL": redisSrv.URL()}))
	fleet := startFleet(t, 3, cfg)

	start := time.Now()
	tokens, failed := burst(t, fleet, 1000)
	if failed > 0 {
		t.Fatalf("%d calls failed because Redis is down", failed)
	}
	if n := fake.Calls(); n < 1 || n > 3 {
		t.Errorf("auth manager calls = %d, want at most one per instance (3)", n)
	}
	if len(tokens) > 3 {
		t.Errorf("%d distinct tokens, want at most one per instance", len(tokens))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("burst took %v with Redis down; a dead Redis must not stall requests", d)
	}
}

// Redis dies while the fleet is serving: nobody sees an error, and after
// the tokens are invalidated each replica fetches once for itself.
func TestFleetRedisKilledMidTest(t *testing.T) {
	t.Parallel()
	redisSrv := redistest.Start(t)
	fake := newFake(t, time.Hour)
	cfg := loadConfig(t, env(fake, map[string]string{"REDIS_URL": redisSrv.URL()}))
	fleet := startFleet(t, 3, cfg)
	if tokens, failed := burst(t, fleet, 300); failed > 0 || len(tokens) != 1 || fake.Calls() != 1 {
		t.Fatalf("warm-up: %d failed, %d tokens, %d calls", failed, len(tokens), fake.Calls())
	}
	stale := getToken(t, fleet[0], "packet").GetToken()

	// Steady load across the kill.
	stop := make(chan struct{})
	var loadErrs, loadCalls atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := fleet[w%3].client.GetToken(context.Background(), &authtokenv1.GetTokenRequest{Client: "packet"})
				loadCalls.Add(1)
				if err != nil {
					loadErrs.Add(1)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	redisSrv.Kill()

	// MOSIP rejected the token: every replica drops it. The shared copy
	// cannot be deleted (Redis is gone), which must not matter.
	for i, in := range fleet {
		resp, err := in.client.InvalidateToken(context.Background(), &authtokenv1.InvalidateTokenRequest{Client: "packet", Token: stale})
		if err != nil || !resp.GetInvalidated() {
			t.Errorf("replica %d: InvalidateToken = %v, %v; want invalidated", i, resp, err)
		}
	}
	tokens, failed := burst(t, fleet, 1000)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	if failed > 0 || loadErrs.Load() > 0 {
		t.Errorf("%d burst and %d load calls (of %d) failed after Redis died", failed, loadErrs.Load(), loadCalls.Load())
	}
	if _, ok := tokens[stale]; ok {
		t.Error("the invalidated token was served again")
	}
	if n := fake.Calls(); n < 2 || n > 4 {
		t.Errorf("auth manager calls = %d, want 1 before the kill plus at most one per replica after", n)
	}
}

// The business-call to auth-manager-call ratio at steady state, over many
// short token lifetimes.
func TestSteadyStateCallRatio(t *testing.T) {
	t.Parallel()
	const lifetime = 600 * time.Millisecond
	fake := newFake(t, lifetime)
	svc := newInProcess(t, loadConfig(t, env(fake, nil)), options{})
	ctx := context.Background()
	const calls, batches = 100_000, 100
	start := time.Now()
	for b := range batches {
		for range calls / batches {
			if _, err := svc.cache.Get(ctx, "packet"); err != nil {
				t.Fatalf("Get: %v", err)
			}
		}
		// Spread the calls over several lifetimes.
		time.Sleep(time.Until(start.Add(time.Duration(b+1) * 30 * time.Millisecond)))
	}
	elapsed := time.Since(start)
	n := fake.Calls()
	ratio := float64(calls) / float64(n)
	t.Logf("%d GetToken over %v (%.1f token lifetimes of %v): %d auth manager calls, ratio %.0f:1",
		calls, elapsed.Round(time.Millisecond), float64(elapsed)/float64(lifetime), lifetime, n, ratio)
	if ratio < 1000 {
		t.Errorf("ratio %.0f:1, want at least 1000:1", ratio)
	}
	if lifetimes := int64(elapsed / lifetime); n > 3*lifetimes+2 {
		t.Errorf("%d auth manager calls over %d lifetimes; want about two per lifetime (refresh at half)", n, lifetimes)
	}
}

// Past half the lifetime a background refresh replaces the token while
// callers keep getting the current one without waiting.
func TestRefreshAheadOverGRPC(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 3*time.Second) // refresh at 1.5s, stale at 2.25s
	in := startInstance(t, loadConfig(t, env(fake, nil)), options{})
	first := getToken(t, in, "packet").GetToken()
	fake.SetDelay(300 * time.Millisecond)
	time.Sleep(1550 * time.Millisecond)

	for range 30 {
		getToken(t, in, "packet")
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "the refreshed token", 2*time.Second, func() bool { return getToken(t, in, "packet").GetToken() != first })
	st := states(t, in)["packet"]
	if st.GetCacheMisses() != 1 {
		t.Errorf("cache misses = %d, want 1 (the cold start): callers must not wait for the refresh", st.GetCacheMisses())
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("auth manager calls = %d, want 2 (one background refresh)", n)
	}
}

// A failed refresh keeps the valid token in service, is reported, and is
// not retried in a hot loop.
func TestRefreshFailureKeepsServingOverGRPC(t *testing.T) {
	t.Parallel()
	fake := newFake(t, 2*time.Second) // refresh at 1s, stale at 1.5s
	in := startInstance(t, loadConfig(t, env(fake, nil)), options{})
	first := getToken(t, in, "packet")
	fake.SetFailure(&fakeauth.Failure{Status: 503})
	time.Sleep(1050 * time.Millisecond)

	for range 20 {
		if got := getToken(t, in, "packet").GetToken(); got != first.GetToken() {
			t.Fatal("token changed although the refresh failed")
		}
	}
	eventually(t, "the refresh error in ListClientStates", 2*time.Second, func() bool {
		return states(t, in)["packet"].GetLastRefreshError() != ""
	})
	st := states(t, in)["packet"]
	if !st.GetHasToken() || st.GetLastRefreshErrorAt() == nil {
		t.Errorf("state = %v, want the old token still held and the error time", st)
	}
	for range 20 {
		getToken(t, in, "packet")
	}
	if n := fake.Calls(); n != 2 {
		t.Errorf("auth manager calls = %d, want 2: one fetch, one failed refresh, retries spaced by seconds", n)
	}
	// Once the old token is stale the failure reaches callers.
	time.Sleep(time.Until(first.GetExpiresAt().AsTime().Add(-400 * time.Millisecond)))
	if _, err := in.client.GetToken(context.Background(), &authtokenv1.GetTokenRequest{Client: "packet"}); status.Code(err) != codes.Unavailable {
		t.Errorf("GetToken after the token went stale = %v, want Unavailable", err)
	}
}

func BenchmarkGetTokenGRPC(b *testing.B) {
	fake := newFake(b, time.Hour)
	in := startInstance(b, loadConfig(b, env(fake, nil)), options{})
	ctx := context.Background()
	req := &authtokenv1.GetTokenRequest{Client: "packet"}
	if _, err := in.client.GetToken(ctx, req); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := in.client.GetToken(ctx, req); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	reportPercentiles(b, lat)
}
