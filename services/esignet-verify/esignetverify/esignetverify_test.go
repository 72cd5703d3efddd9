package esignetverify_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/esignetverify"
)

// The skeleton serves its API over real gRPC, reports itself healthy, and
// answers Unimplemented until its own issue fills the RPCs in.
func TestSkeletonServes(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- esignetverify.Run(ctx, esignetverify.Config{}, logging.Discard(), lis) }()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: esignetverifyv1.EsignetVerifyService_ServiceDesc.ServiceName})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", hc.GetStatus(), err)
	}
	_, err = esignetverifyv1.NewEsignetVerifyServiceClient(conn).VerifyIdentity(context.Background(), &esignetverifyv1.VerifyIdentityRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("VerifyIdentity = %v, want Unimplemented", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}
