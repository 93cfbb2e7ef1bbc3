package grpcx

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// BadField is InvalidArgument naming the field at fault, with a BadRequest
// field violation (as ingestion reports a rejected submission's fields).
func BadField(field, msg string) error {
	st := status.New(codes.InvalidArgument, field+": "+msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}}); err == nil {
		return d.Err()
	}
	return st.Err()
}

// Limit reads a request's limit: def when 0, else 1..most (BadField otherwise).
func Limit(n int32, def, most int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || int(n) > most:
		return 0, BadField("limit", fmt.Sprintf("must be 1..%d, got %d", most, n))
	}
	return int(n), nil
}
