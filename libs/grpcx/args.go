package grpcx

import (
	"context"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/planid"
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

// PlanScope reads the scope of a figure kept for each plan and for every
// plan: contract_id and pbp_id together name one plan ("<contract>-<pbp>";
// the permission interceptor has checked that the caller may see the
// contract); neither asks for every plan's ("" returned), which only
// operators may. what names the figures in the refusal.
func PlanScope(ctx context.Context, contract, pbp, what string) (string, error) {
	switch {
	case (contract == "") != (pbp == ""):
		return "", BadField("pbp_id", "contract_id and pbp_id go together: both (one plan) or neither (every plan)")
	case contract == "":
		if c := CallerOf(ctx); !c.Operator() {
			return "", status.Errorf(codes.PermissionDenied, "%s of every plan are for operators (%s is not an operator): name your contract_id and pbp_id", what, c.Name)
		}
		return "", nil
	}
	return planid.Key(contract, pbp), nil
}
