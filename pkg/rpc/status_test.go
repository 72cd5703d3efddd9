package rpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mosipcrvs/bridge/pkg/rpc"
)

func TestInvalidArgument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		violations map[string]string
		want       *errdetails.BadRequest // nil: no details
	}{
		{"no violations", nil, nil},
		{"sorted by field", map[string]string{"uin": "must be 10 digits", "dob": "must be a date", "child.name": "required"},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "child.name", Description: "required"},
				{Field: "dob", Description: "must be a date"},
				{Field: "uin", Description: "must be 10 digits"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Through a real server, so the details survive the wire.
			s := startServer(t, rpc.ServerOptions{}, time.Second, func(context.Context) error {
				return rpc.InvalidArgument("invalid request", tt.violations)
			})
			err := call(t.Context(), dial(t, s.addr, rpc.ClientOptions{}))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || st.Message() != "invalid request" {
				t.Fatalf("error = %v, want InvalidArgument \"invalid request\"", err)
			}
			details := st.Details()
			if tt.want == nil {
				if len(details) != 0 {
					t.Fatalf("details = %v, want none", details)
				}
				return
			}
			if len(details) != 1 {
				t.Fatalf("details = %v, want one BadRequest", details)
			}
			if got, ok := details[0].(*errdetails.BadRequest); !ok || !proto.Equal(got, tt.want) {
				t.Fatalf("detail = %v, want %v", details[0], tt.want)
			}
		})
	}
}
