// Package scoring turns a medication profile into an explainable risk score
// and tier: every point is traced to a factor with its evidence.
//
// The factors of this first version are the number of distinct drugs, the
// projected annual drug cost against the CMS MTM cost threshold, and the drug
// therapy problems found. The weights and tier cut-offs are a Policy (the
// sponsor's CMS-approved targeting criteria); DefaultPolicy documents the defaults.
package scoring

import (
	"fmt"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/problems"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

// Tier values match emtm.risk.v1.RiskTier.
const (
	TierLow      = 1
	TierModerate = 2
	TierHigh     = 3
)

// TierName names a tier.
func TierName(t int) string {
	switch t {
	case TierLow:
		return "LOW"
	case TierModerate:
		return "MODERATE"
	case TierHigh:
		return "HIGH"
	}
	return "NONE"
}

// Policy weighs the factors.
type Policy struct {
	// CostThresholdCents is the CMS MTM annual cost threshold by year, in cents
	// (42 CFR 423.153(d)(2); figures in docs/domain.md section 2).
	CostThresholdCents map[int]int64
	// DrugsSome and DrugsMany are distinct-drug counts over the last 365 days
	// that earn SomeDrugsPoints and ManyDrugsPoints.
	DrugsSome, DrugsMany             int
	SomeDrugsPoints, ManyDrugsPoints int
	// CostPoints are earned when the projected annual cost reaches the threshold.
	CostPoints int
	// ProblemPoints are earned per drug therapy problem.
	ProblemPoints int
	// ModerateAt and HighAt are the score cut-offs of the tiers (LOW below ModerateAt).
	ModerateAt, HighAt int
}

// DefaultPolicy is the default targeting policy. Thresholds: CMS MTM cost
// thresholds 2017-2025 (2023-2025 confirmed in CMS memos; 2017-2022 to confirm).
func DefaultPolicy() Policy {
	return Policy{
		CostThresholdCents: map[int]int64{
			2017: 391900, 2018: 396700, 2019: 404400, 2020: 425500, 2021: 437600,
			2022: 469600, 2023: 493500, 2024: 533000, 2025: 162300,
		},
		DrugsSome: 5, DrugsMany: 8, SomeDrugsPoints: 1, ManyDrugsPoints: 2,
		CostPoints: 2, ProblemPoints: 2,
		ModerateAt: 2, HighAt: 5,
	}
}

// Factor is one term of the score.
type Factor struct {
	Code        string
	Description string
	Points      int
	Evidence    []string
}

// Result is an assessment.
type Result struct {
	AsOf     civil.Date
	Score    int
	Tier     int
	Factors  []Factor
	Problems []problems.Problem
}

// Assess scores p as of its latest fill.
func Assess(p *profile.Profile, ref *drugref.Reference, pol Policy) Result {
	r := Result{AsOf: p.AsOf(), Tier: TierLow}
	if r.AsOf.IsZero() {
		return r
	}
	// Distinct drugs (active ingredients) filled in the 365 days up to as-of.
	window := r.AsOf.AddDays(-364)
	drugs := map[string]bool{}
	var drugClaims []string
	for _, f := range p.Fills {
		if f.Date.Before(window) {
			continue
		}
		drugClaims = append(drugClaims, f.ClaimID)
		for _, ing := range f.Ingredients {
			drugs[ing] = true
		}
	}
	if n := len(drugs); n >= pol.DrugsSome {
		pts := pol.SomeDrugsPoints
		if n >= pol.DrugsMany {
			pts = pol.ManyDrugsPoints
		}
		r.add(Factor{Code: "DRUG_COUNT", Points: pts, Evidence: drugClaims,
			Description: fmt.Sprintf("%d distinct drugs filled in the 365 days to %s (%s)", n, r.AsOf, strings.Join(sortedKeys(drugs), ", "))})
	}
	// Projected annual cost: year-to-date cost / months elapsed x 12 (months elapsed
	// counts the as-of month as a whole month), against the year's MTM cost threshold.
	if thr, ok := pol.CostThresholdCents[r.AsOf.Year]; ok {
		var ytd int64
		var costClaims []string
		for _, f := range p.Fills {
			if f.Date.Year == r.AsOf.Year {
				ytd += f.CostCents
				costClaims = append(costClaims, f.ClaimID)
			}
		}
		projected := ytd * 12 / int64(r.AsOf.Month)
		if projected >= thr {
			r.add(Factor{Code: "PROJECTED_COST", Points: pol.CostPoints, Evidence: costClaims,
				Description: fmt.Sprintf("projected %d drug cost %s (year to date %s over %d month(s) x 12) reaches the MTM cost threshold %s",
					r.AsOf.Year, dollars(projected), dollars(ytd), int(r.AsOf.Month), dollars(thr))})
		}
	}
	r.Problems = problems.Beers(p, ref, r.AsOf.Year)
	for _, pr := range r.Problems {
		r.add(Factor{Code: "PROBLEM_" + pr.Code, Points: pol.ProblemPoints, Evidence: pr.ClaimIDs, Description: pr.Description})
	}
	switch {
	case r.Score >= pol.HighAt:
		r.Tier = TierHigh
	case r.Score >= pol.ModerateAt:
		r.Tier = TierModerate
	}
	return r
}

func (r *Result) add(f Factor) {
	r.Factors = append(r.Factors, f)
	r.Score += f.Points
}

// Fingerprint changes exactly when the tier or the set of problems changes;
// an assessment is emitted only then (no event storm on every claim).
func (r Result) Fingerprint() string {
	keys := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		keys[i] = p.Key
	}
	sort.Strings(keys)
	return fmt.Sprintf("t%d|%s", r.Tier, strings.Join(keys, ","))
}

func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
