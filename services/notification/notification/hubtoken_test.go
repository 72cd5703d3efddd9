package notification

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
)

// fakeTokens issues "t1", "t2", … each valid for ttl (none when 0).
type fakeTokens struct {
	mu          sync.Mutex
	now         func() time.Time
	ttl         time.Duration
	issued      int
	invalidated []string
}

func (f *fakeTokens) GetToken(_ context.Context, in *authtokenv1.GetTokenRequest, _ ...grpc.CallOption) (*authtokenv1.GetTokenResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.GetClient() != WebSubClientName {
		return nil, fmt.Errorf("client %q", in.GetClient())
	}
	f.issued++
	r := &authtokenv1.GetTokenResponse{Token: fmt.Sprintf("t%d", f.issued)}
	if f.ttl > 0 {
		r.ExpiresAt = timestamppb.New(f.now().Add(f.ttl))
	}
	return r, nil
}

func (f *fakeTokens) InvalidateToken(_ context.Context, in *authtokenv1.InvalidateTokenRequest, _ ...grpc.CallOption) (*authtokenv1.InvalidateTokenResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, in.GetToken())
	return &authtokenv1.InvalidateTokenResponse{}, nil
}

// The hub token is reused until shortly before it expires (and never
// longer than hubTokenMaxAge), fetched once by concurrent publishers, and
// dropped here and in auth-token when the hub refuses it.
func TestHubTokenReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// step advances the clock by d, then Gets; want is the token.
	type step struct {
		d    time.Duration
		want string
	}
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{"reused until the margin", 10 * time.Minute, []step{{0, "t1"}, {4 * time.Minute, "t1"}, {2 * time.Minute, "t2"}, {4*time.Minute + 59*time.Second, "t2"}, {time.Second, "t3"}}},
		{"short-lived", time.Minute, []step{{0, "t1"}, {29 * time.Second, "t1"}, {time.Second, "t2"}}},
		{"no expiry: not kept", 0, []step{{0, "t1"}, {0, "t2"}}},
	} {
		now := time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		fake := &fakeTokens{now: clock, ttl: tc.ttl}
		h := &hubToken{client: fake, now: clock}
		for i, st := range tc.steps {
			now = now.Add(st.d)
			if got, err := h.Get(ctx); err != nil || got != st.want {
				t.Errorf("%s: Get #%d = %q, %v; want %q", tc.name, i+1, got, err, st.want)
			}
		}
	}

	now := time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)
	fake := &fakeTokens{now: func() time.Time { return now }, ttl: time.Hour}
	h := &hubToken{client: fake, now: func() time.Time { return now }}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := h.Get(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if fake.issued != 1 {
		t.Errorf("16 concurrent Gets fetched %d tokens, want 1", fake.issued)
	}
	h.Invalidate(ctx)
	h.Invalidate(ctx) // nothing left to drop
	if got, err := h.Get(ctx); err != nil || got != "t2" {
		t.Errorf("Get after Invalidate = %q, %v; want a new token", got, err)
	}
	if len(fake.invalidated) != 1 || fake.invalidated[0] != "t1" {
		t.Errorf("invalidated %v, want [t1]", fake.invalidated)
	}
}
