package enums_test

import (
	"reflect"
	"testing"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
)

func TestAnEnumValueIsNamedWithoutItsPrefixAndReadBack(t *testing.T) {
	if got := enums.Name(schedulingv1.TaskKind_TASK_KIND_ADHERENCE_OUTREACH); got != "ADHERENCE_OUTREACH" {
		t.Errorf("Name = %q", got)
	}
	if got := enums.Name(riskv1.RiskTier_RISK_TIER_HIGH); got != "HIGH" {
		t.Errorf("Name = %q", got)
	}
	if got := enums.Name(ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED); got != "UNSPECIFIED" {
		t.Errorf("Name of the zero value = %q", got)
	}
	if got := enums.Name(schedulingv1.TaskKind(999)); got != "999" {
		t.Errorf("Name of an undeclared number = %q", got)
	}
	tests := []struct {
		in   string
		want schedulingv1.TaskStatus
		ok   bool
	}{
		{"SCHEDULED", schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED, true},
		{"scheduled", schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED, true},
		{" Completed ", schedulingv1.TaskStatus_TASK_STATUS_COMPLETED, true},
		{"TASK_STATUS_LEASED", schedulingv1.TaskStatus_TASK_STATUS_LEASED, true},
		{"LATE", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := enums.Parse[schedulingv1.TaskStatus](tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for _, k := range schedulingv1.TaskKind_value {
		kind := schedulingv1.TaskKind(k)
		if back := enums.Of[schedulingv1.TaskKind](enums.Name(kind)); back != kind {
			t.Errorf("%v named %q reads back as %v", kind, enums.Name(kind), back)
		}
	}
	if got, want := enums.Names[riskv1.RiskTier](), []string{"LOW", "MODERATE", "HIGH"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
}
