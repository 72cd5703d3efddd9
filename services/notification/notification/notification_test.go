package notification_test

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
	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
	"github.com/mosipcrvs/bridge/services/notification/notification"
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
	go func() { done <- notification.Run(ctx, notification.Config{}, logging.Discard(), lis) }()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: notificationv1.NotificationService_ServiceDesc.ServiceName})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", hc.GetStatus(), err)
	}
	_, err = notificationv1.NewNotificationServiceClient(conn).ListSubscriptions(context.Background(), &notificationv1.ListSubscriptionsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("ListSubscriptions = %v, want Unimplemented", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}
