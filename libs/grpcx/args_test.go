package grpcx

import (
	"context"
	"strconv"
	"strings"
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

func TestAPlanScopeIsOnePlanOrEveryPlanForOperators(t *testing.T) {
	for _, c := range []struct {
		name          string
		ctx           context.Context
		contract, pbp string
		plan, err     string
	}{
		{"a sponsor's plan", withCert("S9925"), "S9925", "001", "S9925-001", ""},
		{"every plan for an operator", withCert("*"), "", "", "", ""},
		{"every plan for an unrestricted caller (loopback)", context.Background(), "", "", "", ""},
		{"every plan for a sponsor", withCert("S9925"), "", "", "", "task counts of every plan are for operators"},
		{"a contract without its plan", withCert("*"), "S9925", "", "", "pbp_id: contract_id and pbp_id go together"},
		{"a plan without its contract", withCert("*"), "", "001", "", "pbp_id: contract_id and pbp_id go together"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := PlanScope(c.ctx, c.contract, c.pbp, "task counts")
			if c.err == "" && (err != nil || plan != c.plan) {
				t.Fatalf("%q, %v; want %q", plan, err, c.plan)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("%v, want an error with %q", err, c.err)
			}
		})
	}
}
