package mosipclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
)

// fakeAuthToken is an auth-token service that hands out tok-<n> per client
// and counts compare-and-delete invalidations, like the real one.
type fakeAuthToken struct {
	authtokenv1.UnimplementedAuthTokenServiceServer
	mu          sync.Mutex
	generation  map[string]int
	invalidated []string
	getErr      error
	empty       bool
	// ttl, when set, is the lifetime GetToken reports (expires_at).
	ttl  time.Duration
	gets int
}

func (s *fakeAuthToken) GetToken(_ context.Context, req *authtokenv1.GetTokenRequest) (*authtokenv1.GetTokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.getErr != nil {
		return nil, s.getErr
	}
	if req.GetClient() != PacketClientName {
		return nil, status.Errorf(codes.NotFound, "client %q is not configured", req.GetClient())
	}
	if s.empty {
		return &authtokenv1.GetTokenResponse{}, nil
	}
	resp := &authtokenv1.GetTokenResponse{Token: fmt.Sprintf("tok-%d", s.generation[req.GetClient()]+1)}
	if s.ttl > 0 {
		resp.ExpiresAt = timestamppb.New(time.Now().Add(s.ttl))
	}
	return resp, nil
}

func (s *fakeAuthToken) getCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

func (s *fakeAuthToken) InvalidateToken(_ context.Context, req *authtokenv1.InvalidateTokenRequest) (*authtokenv1.InvalidateTokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	current := fmt.Sprintf("tok-%d", s.generation[req.GetClient()]+1)
	if req.GetToken() != current {
		return &authtokenv1.InvalidateTokenResponse{Invalidated: false}, nil
	}
	s.invalidated = append(s.invalidated, req.GetClient()+"/"+req.GetToken())
	s.generation[req.GetClient()]++
	return &authtokenv1.InvalidateTokenResponse{Invalidated: true}, nil
}

func (s *fakeAuthToken) invalidations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.invalidated...)
}

// serveAuthToken runs srv over gRPC on a loopback port.
func serveAuthToken(t *testing.T, srv authtokenv1.AuthTokenServiceServer) authtokenv1.AuthTokenServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	authtokenv1.RegisterAuthTokenServiceServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return authtokenv1.NewAuthTokenServiceClient(conn)
}

func TestAuthTokenSourceOverGRPC(t *testing.T) {
	t.Parallel()
	fake := &fakeAuthToken{generation: map[string]int{}}
	src := NewAuthTokenSource(serveAuthToken(t, fake))
	ctx := context.Background()
	tok, err := src.Token(ctx)
	if err != nil || tok != "tok-1" {
		t.Fatalf("Token() = %q, %v; want tok-1", tok, err)
	}
	if err := src.Invalidate(ctx, tok); err != nil {
		t.Fatalf("Invalidate() = %v", err)
	}
	// A stale invalidation (another replica already renewed) is not an error.
	if err := src.Invalidate(ctx, tok); err != nil {
		t.Fatalf("Invalidate(stale) = %v", err)
	}
	if tok, _ := src.Token(ctx); tok != "tok-2" {
		t.Errorf("Token() after Invalidate = %q, want tok-2", tok)
	}
	if inv := fake.invalidations(); len(inv) != 1 || inv[0] != "packet/tok-1" {
		t.Errorf("service invalidated %q, want [packet/tok-1]", inv)
	}
}

func TestAuthTokenSourceDrivesTheClientRetry(t *testing.T) {
	t.Parallel()
	fake := &fakeAuthToken{generation: map[string]int{}}
	mosipSrv := newFakeMOSIP(t, answer{401, authFailed, 0}, answer{200, packetOK, 0})
	c := newClient(mosipSrv, NewAuthTokenSource(serveAuthToken(t, fake)))
	if _, err := c.CreatePacket(context.Background(), testPacket(t)); err != nil {
		t.Fatalf("CreatePacket() = %v", err)
	}
	got := mosipSrv.requests()
	if len(got) != 2 || got[0].Cookie != "Authorization=tok-1" || got[1].Cookie != "Authorization=tok-2" {
		t.Errorf("MOSIP requests = %+v", got)
	}
	if inv := fake.invalidations(); len(inv) != 1 {
		t.Errorf("auth-token invalidated %q, want one", inv)
	}
}

func TestAuthTokenSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fake      *fakeAuthToken
		src       func(authtokenv1.AuthTokenServiceClient) *AuthTokenSource
		code      codes.Code
		temporary bool
	}{
		{"unavailable", &fakeAuthToken{getErr: status.Error(codes.Unavailable, "MOSIP down")}, NewAuthTokenSource, codes.Unavailable, true},
		{"credentials refused", &fakeAuthToken{getErr: status.Error(codes.FailedPrecondition, "KER-ATH-401")}, NewAuthTokenSource, codes.FailedPrecondition, false},
		{"unknown client", &fakeAuthToken{}, func(c authtokenv1.AuthTokenServiceClient) *AuthTokenSource {
			return &AuthTokenSource{Client: c, Name: "websub"}
		}, codes.NotFound, false},
		{"empty token", &fakeAuthToken{empty: true}, NewAuthTokenSource, codes.Unknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fake.generation = map[string]int{}
			_, err := tt.src(serveAuthToken(t, tt.fake)).Token(context.Background())
			if err == nil {
				t.Fatal("Token() = nil error")
			}
			if got := status.Code(err); got != tt.code {
				t.Errorf("status.Code(%v) = %v, want %v", err, got, tt.code)
			}
			te := &TokenError{Op: "get", Err: err}
			if te.Temporary() != tt.temporary {
				t.Errorf("TokenError{%v}.Temporary() = %v, want %v", err, !tt.temporary, tt.temporary)
			}
		})
	}
	if !(&TokenError{Err: fmt.Errorf("x: %w", context.DeadlineExceeded)}).Temporary() {
		t.Errorf("a deadline is temporary")
	}
	if err := (&TokenError{Op: "get", Err: errors.New("boom")}); !errors.Is(err, err.Err) || err.Error() != "MOSIP token (get): boom" {
		t.Errorf("TokenError formatting/unwrapping: %v", err)
	}
}

func TestAuthTokenSourceDefaultName(t *testing.T) {
	t.Parallel()
	fake := &fakeAuthToken{generation: map[string]int{}}
	src := &AuthTokenSource{Client: serveAuthToken(t, fake)}
	if tok, err := src.Token(context.Background()); err != nil || tok != "tok-1" {
		t.Errorf("Token() with empty Name = %q, %v; want the packet client's token", tok, err)
	}
}

// A token is reused for a while without asking auth-token again, but not
// close to its expiry, not when auth-token gives no expiry, and not after
// MOSIP rejected it.
func TestAuthTokenSourceReusesTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		gets int // GetToken calls for three Token calls
	}{
		{"an hour left", time.Hour, 1},
		{"no expiry given", 0, 3},
		{"expiring within the margin", 50 * time.Second, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeAuthToken{generation: map[string]int{}, ttl: tt.ttl}
			src := NewAuthTokenSource(serveAuthToken(t, fake))
			ctx := context.Background()
			for range 3 {
				if tok, err := src.Token(ctx); err != nil || tok != "tok-1" {
					t.Fatalf("Token() = %q, %v; want tok-1", tok, err)
				}
			}
			if got := fake.getCalls(); got != tt.gets {
				t.Errorf("GetToken calls = %d, want %d", got, tt.gets)
			}
			if err := src.Invalidate(ctx, "tok-1"); err != nil {
				t.Fatal(err)
			}
			if tok, err := src.Token(ctx); err != nil || tok != "tok-2" {
				t.Errorf("Token() after Invalidate = %q, %v; want tok-2", tok, err)
			}
		})
	}
}
