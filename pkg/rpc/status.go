package rpc

import (
	"maps"
	"slices"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// InvalidArgument returns a codes.InvalidArgument status error with message
// msg and, when violations (field -> description) is not empty, an
// errdetails.BadRequest detail listing them sorted by field.
func InvalidArgument(msg string, violations map[string]string) error {
	st := status.New(codes.InvalidArgument, msg)
	if len(violations) == 0 {
		return st.Err()
	}
	br := &errdetails.BadRequest{}
	for _, f := range slices.Sorted(maps.Keys(violations)) {
		br.FieldViolations = append(br.FieldViolations,
			&errdetails.BadRequest_FieldViolation{Field: f, Description: violations[f]})
	}
	withDetails, err := st.WithDetails(br)
	if err != nil {
		// Only fails if BadRequest could not be marshalled; the bare status still tells the caller what is wrong.
		return st.Err()
	}
	return withDetails.Err()
}
