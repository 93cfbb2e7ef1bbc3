// Package performance computes the model's performance-based payment for a
// plan and performance year (docs/domain.md section 1; CMS Innovation Center,
// Part D Enhanced MTM model, 2017): when the plan's enrollees' Medicare Parts A
// and B expenditure per member-year is at least the threshold (2 %) below the
// benchmark CMS sets for the plan-year, the plan earns an amount per member
// month of the year ($2 PMPM), payable some years later (two). Threshold,
// amount and lag are configuration. Every step is shown with its figures;
// the arithmetic is in integer cents, the threshold comparison exact.
package performance

import (
	"fmt"
	"math/big"

	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
)

// Inputs are the figures of one plan and performance year.
type Inputs struct {
	Plan string
	Year int
	// ABCents is the Parts A/B expenditure of the plan's members in the year, from ABSummaries summaries.
	ABCents     int64
	ABSummaries int64
	// ABUnpriced counts the year's Parts A/B claims whose source carried no
	// amount (AB2D): they are not in ABCents and do not make spending known.
	ABUnpriced int64
	// MemberMonths are the plan's member months in the year.
	MemberMonths int64
	Config       policy.Performance
}

// Result is the calculation.
type Result struct {
	Inputs
	BenchmarkCents     int64
	HasBenchmark       bool
	PerMemberYearCents int64 // rounded half up to the cent
	ReductionBP        int64 // basis points below the benchmark, truncated toward zero (negative: above)
	Qualifies          bool
	PaymentCents       int64
	PayableYear        int
	Steps              []string
}

// Dollars formats cents, e.g. 123456 -> "$1,234.56".
func Dollars(c int64) string { return money.Dollars(c) }

func bp(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%02d %%", sign, n/100, n%100)
}

// Calculate computes the payment and explains it.
func Calculate(in Inputs) Result {
	r := Result{Inputs: in, PayableYear: in.Year + in.Config.LagYears}
	r.BenchmarkCents, r.HasBenchmark = in.Config.Benchmarks[in.Year]
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }
	unpriced := ""
	if in.ABUnpriced > 0 {
		unpriced = fmt.Sprintf("; %d claims without an amount left out", in.ABUnpriced)
	}
	step("1. Parts A/B expenditure of %s's members in %d: %s (%d summaries%s)", in.Plan, in.Year, Dollars(in.ABCents), in.ABSummaries, unpriced)
	step("2. Member months in %d: %d (%d.%02d member-years)", in.Year, in.MemberMonths, in.MemberMonths/12, in.MemberMonths%12*100/12)
	if in.ABSummaries <= 0 {
		// No claim with an amount is not $0 of spending: a payment computed
		// from it would pay for data that never arrived.
		step("3. Spending unknown: no Parts A/B claim with an amount has arrived for %d; no payment can be computed", in.Year)
		return r
	}
	if in.MemberMonths <= 0 {
		step("3. No member months: no expenditure per member-year, no payment")
		return r
	}
	// Half up: (2 x cents x 12 + months) / (2 x months), in big integers (no
	// product can overflow); a result past int64 cents is reported, not wrapped.
	pmy := new(big.Int).Mul(big.NewInt(in.ABCents), big.NewInt(24))
	pmy.Add(pmy, big.NewInt(in.MemberMonths))
	pmy.Quo(pmy, new(big.Int).Mul(big.NewInt(2), big.NewInt(in.MemberMonths)))
	if !pmy.IsInt64() {
		step("3. Expenditure per member-year does not fit int64 cents: no payment can be computed")
		return r
	}
	r.PerMemberYearCents = pmy.Int64()
	step("3. Expenditure per member-year: %s x 12 / %d = %s", Dollars(in.ABCents), in.MemberMonths, Dollars(r.PerMemberYearCents))
	if !r.HasBenchmark {
		step("4. No benchmark for %d in the payment policy: no payment can be computed", in.Year)
		return r
	}
	step("4. Benchmark for %d: %s per member-year", in.Year, Dollars(r.BenchmarkCents))
	red := new(big.Int).Sub(big.NewInt(r.BenchmarkCents), big.NewInt(r.PerMemberYearCents))
	red.Mul(red, big.NewInt(10000)).Quo(red, big.NewInt(r.BenchmarkCents))
	if !red.IsInt64() {
		step("5. The reduction below the benchmark does not fit int64: no payment can be computed")
		return r
	}
	r.ReductionBP = red.Int64()
	// Exactly: (benchmark - cents x 12 / months) / benchmark >= threshold / 10000
	//   <=> (benchmark x months - cents x 12) x 10000 >= threshold x benchmark x months.
	b, m := big.NewInt(r.BenchmarkCents), big.NewInt(in.MemberMonths)
	lhs := new(big.Int).Mul(b, m)
	lhs.Sub(lhs, new(big.Int).Mul(big.NewInt(in.ABCents), big.NewInt(12)))
	lhs.Mul(lhs, big.NewInt(10000))
	rhs := new(big.Int).Mul(big.NewInt(in.Config.ThresholdBP), new(big.Int).Mul(b, m))
	r.Qualifies = lhs.Cmp(rhs) >= 0
	step("5. Reduction below the benchmark: (%s - %s) / %s = %s (threshold %s)", Dollars(r.BenchmarkCents), Dollars(r.PerMemberYearCents),
		Dollars(r.BenchmarkCents), bp(r.ReductionBP), bp(in.Config.ThresholdBP))
	if !r.Qualifies {
		step("6. Below the threshold: no performance-based payment for %d", in.Year)
		return r
	}
	pay, err := money.Mul(in.Config.PMPMCents, in.MemberMonths)
	if err != nil {
		step("6. Qualifies, but %s x %d member months does not fit int64 cents: no payment can be computed", Dollars(in.Config.PMPMCents), in.MemberMonths)
		r.Qualifies = false
		return r
	}
	r.PaymentCents = pay
	step("6. Qualifies: %s x %d member months = %s, payable in %d (%d years later)", Dollars(in.Config.PMPMCents), in.MemberMonths,
		Dollars(r.PaymentCents), r.PayableYear, in.Config.LagYears)
	return r
}
