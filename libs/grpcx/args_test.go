package grpcx

import (
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestALimitIsTheDefaultOrWithinItsBoundsAndABadOneNamesTheField(t *testing.T) {
	tests := []struct {
		n    int32
		want int
		ok   bool
	}{{0, 50, true}, {1, 1, true}, {500, 500, true}, {501, 0, false}, {-1, 0, false}}
	for _, tt := range tests {
		got, err := Limit(tt.n, 50, 500)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("Limit(%d) = %d, %v", tt.n, got, err)
		}
		if err == nil {
			continue
		}
		st := status.Convert(err)
		var field string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 {
				field = br.FieldViolations[0].Field
			}
		}
		if st.Code() != codes.InvalidArgument || field != "limit" || st.Message() != "limit: must be 1..500, got "+strconv.Itoa(int(tt.n)) {
			t.Errorf("Limit(%d): %v (field %q)", tt.n, err, field)
		}
	}
}
