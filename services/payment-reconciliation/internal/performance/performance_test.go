package performance

import (
	"math"
	"strings"
	"testing"

	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
)

var model = policy.Performance{ThresholdBP: 200, PMPMCents: 200, LagYears: 2, Benchmarks: map[int]int64{2019: 1_000_000}}

func TestPerformancePayment(t *testing.T) {
	for _, tt := range []struct {
		name             string
		ab, months       int64
		perMY, reduction int64
		qualifies        bool
		payment          int64
	}{
		// 120 member months = 10 member-years; $98,000 / 10 = $9,800 per member-year: 2.00 % below $10,000.
		{"exactly 2 % below qualifies", 9_800_000, 120, 980_000, 200, true, 200 * 120},
		{"one cent short of 2 % does not", 9_800_010, 120, 980_001, 199, false, 0},
		{"above the benchmark", 10_500_000, 120, 1_050_000, -500, false, 0},
		// 7 member months: $5,000 x 12 / 7 = $8,571.428... rounds to $8,571.43; 14.28 % below.
		{"per member-year rounds half up", 500_000, 7, 857_143, 1428, true, 200 * 7},
	} {
		r := Calculate(Inputs{Plan: "S9925-001", Year: 2019, ABCents: tt.ab, ABSummaries: 1, MemberMonths: tt.months, Config: model})
		if r.PerMemberYearCents != tt.perMY || r.ReductionBP != tt.reduction || r.Qualifies != tt.qualifies || r.PaymentCents != tt.payment || r.PayableYear != 2021 {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
	r := Calculate(Inputs{Plan: "S9925-001", Year: 2019, ABCents: 9_800_000, ABSummaries: 31, MemberMonths: 120, Config: model})
	text := strings.Join(r.Steps, "\n")
	for _, want := range []string{"$98,000.00 (31 summaries)", "Member months in 2019: 120 (10.00 member-years)", "$98,000.00 x 12 / 120 = $9,800.00",
		"Benchmark for 2019: $10,000.00", "= 2.00 % (threshold 2.00 %)", "$2.00 x 120 member months = $240.00, payable in 2021"} {
		if !strings.Contains(text, want) {
			t.Errorf("steps lack %q:\n%s", want, text)
		}
	}
	if r := Calculate(Inputs{Plan: "S9925-001", Year: 2018, ABCents: 1, ABSummaries: 1, MemberMonths: 12, Config: model}); r.Qualifies || !strings.Contains(strings.Join(r.Steps, "\n"), "No benchmark for 2018") {
		t.Errorf("no benchmark: %+v", r)
	}
	if r := Calculate(Inputs{Plan: "S9925-001", Year: 2019, Config: model}); r.Qualifies || r.PaymentCents != 0 {
		t.Errorf("no member months: %+v", r)
	}
}

func TestNoClaimWithAnAmountIsUnknownSpendingNotZero(t *testing.T) {
	r := Calculate(Inputs{Plan: "S9925-001", Year: 2019, ABUnpriced: 40, MemberMonths: 120, Config: model})
	text := strings.Join(r.Steps, "\n")
	if r.Qualifies || r.PaymentCents != 0 || r.PerMemberYearCents != 0 || !strings.Contains(text, "3. Spending unknown") ||
		!strings.Contains(text, "40 claims without an amount left out") {
		t.Fatalf("unknown spending was computed: %+v\n%s", r, text)
	}
}

func TestExpenditureBeyondInt64IsReportedNotWrapped(t *testing.T) {
	r := Calculate(Inputs{Plan: "S9925-001", Year: 2019, ABCents: math.MaxInt64, ABSummaries: 1, MemberMonths: 1, Config: model})
	if r.Qualifies || r.PaymentCents != 0 || r.PerMemberYearCents != 0 || !strings.Contains(strings.Join(r.Steps, "\n"), "does not fit int64") {
		t.Fatalf("%+v", r)
	}
}
