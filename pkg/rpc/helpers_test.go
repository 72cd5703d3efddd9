package rpc_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
)

const (
	// payload is sent in every request and response; it must never be logged.
	payload      = "payload-7f3c-token"
	callMethod   = "/rpctest.Test/Call"
	streamMethod = "/rpctest.Test/Stream"
)

// testService is a hand-written service (StringValue in and out) whose unary
// Call and server-streaming Stream both run call.
type testService struct {
	call func(ctx context.Context) error
}

type testServiceIface interface{ isTestService() }

func (*testService) isTestService() {}

var testServiceDesc = grpc.ServiceDesc{
	ServiceName: "rpctest.Test",
	HandlerType: (*testServiceIface)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) {
				if err := srv.(*testService).call(ctx); err != nil {
					return nil, err
				}
				return wrapperspb.String(payload), nil
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: callMethod}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			if err := srv.(*testService).call(ss.Context()); err != nil {
				return err
			}
			return ss.SendMsg(wrapperspb.String(payload))
		},
	}},
}

// server is a running rpc.Server on a loopback port.
type server struct {
	*rpc.Server
	addr string
	stop context.CancelFunc
	done chan error // receives Serve's result
}

// startServer serves opts (with a discarding logger unless set) and the test
// service running call; it is stopped at test cleanup.
func startServer(t *testing.T, opts rpc.ServerOptions, drain time.Duration, call func(context.Context) error) *server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = logging.Discard()
	}
	s, err := rpc.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if call == nil {
		call = func(context.Context) error { return nil }
	}
	s.RegisterService(&testServiceDesc, &testService{call: call})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &server{Server: s, addr: lis.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { srv.done <- s.Serve(ctx, lis, drain) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-srv.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cleanup")
		}
	})
	return srv
}

// shutdown cancels Serve and returns its result.
func (s *server) shutdown(t *testing.T) error {
	t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // for cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func dial(t *testing.T, addr string, opts rpc.ClientOptions) *grpc.ClientConn {
	t.Helper()
	conn, err := rpc.Dial(addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func call(ctx context.Context, conn *grpc.ClientConn) error {
	return conn.Invoke(ctx, callMethod, wrapperspb.String(payload), new(wrapperspb.StringValue))
}

func callStream(ctx context.Context, conn *grpc.ClientConn) error {
	st, err := conn.NewStream(ctx, &testServiceDesc.Streams[0], streamMethod)
	if err != nil {
		return err
	}
	if err := st.SendMsg(wrapperspb.String(payload)); err != nil {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	return st.RecvMsg(new(wrapperspb.StringValue))
}

// syncBuffer is a bytes.Buffer safe for a logger writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
