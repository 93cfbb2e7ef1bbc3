// Package eligibility decides standard Part D MTM eligibility (42 CFR
// 423.153(d)(2); docs/domain.md section 2) for a year, with the reasons.
//
// A beneficiary is eligible when all three hold: at least MinChronic of the
// year's core chronic diseases; at least MinDrugs distinct covered Part D
// drugs; and a likely annual drug cost at or above the year's MTM cost
// threshold. The likely annual cost is projected from the year to date:
// cost of fills dated in the year up to the as-of date / months elapsed
// (the as-of month counted whole) x 12.
//
// CMS limits what a sponsor may require: from 2025 at most 3 diseases (all
// ten core diseases) and at most 8 drugs; before 2025, 2 or 3 diseases (from
// the list without HIV/AIDS) and 2 to 8 drugs. The cost threshold is CMS's.
// Members of an opioid drug management program are also eligible; that status
// is not in emtm's data yet.
package eligibility

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
)

// CMSCostThresholdCents is the MTM annual cost threshold by year, in cents
// (docs/domain.md section 2: 2023-2025 confirmed in CMS memos; 2017-2022 still
// to confirm: the stored public sources searched on 2026-11-30 do not state
// them (docs/domain.md section 7), so a sponsor can override any year with the
// policy's cost_threshold_cents; 2026 on is set by CMS each year and must come
// from configuration).
var CMSCostThresholdCents = map[int]int64{
	2017: 391900, 2018: 396700, 2019: 404400, 2020: 425500, 2021: 437600,
	2022: 469600, 2023: 493500, 2024: 533000, 2025: 162300,
}

// Criteria are a year's targeting criteria.
type Criteria struct {
	Year               int
	MinChronic         int
	MinDrugs           int
	CostThresholdCents int64 // 0: unknown for the year
	CoreDiseases       []string
}

// Defaults are the CMS criteria of year with the most a sponsor may require.
func Defaults(year int) Criteria {
	return Criteria{Year: year, MinChronic: 3, MinDrugs: 8, CostThresholdCents: CMSCostThresholdCents[year], CoreDiseases: chronic.CoreDiseases(year)}
}

// Validate checks the criteria against CMS's limits for the year.
func (c Criteria) Validate() error {
	minChronic, maxChronic, minDrugs := 1, 3, 1
	if c.Year < 2025 {
		minChronic, minDrugs = 2, 2
	}
	switch {
	case c.MinChronic < minChronic || c.MinChronic > maxChronic:
		return fmt.Errorf("%d: min_chronic_diseases %d is outside what CMS allows a sponsor to require (%d..%d)", c.Year, c.MinChronic, minChronic, maxChronic)
	case c.MinDrugs < minDrugs || c.MinDrugs > 8:
		return fmt.Errorf("%d: min_drugs %d is outside what CMS allows a sponsor to require (%d..8)", c.Year, c.MinDrugs, minDrugs)
	case c.CostThresholdCents < 0:
		return fmt.Errorf("%d: the cost threshold must not be negative", c.Year)
	}
	return nil
}

// Facts are what the decision reads.
type Facts struct {
	AsOf civil.Date
	// Categories are the chronic disease categories active in the year.
	Categories map[string]bool
	// Drugs are the distinct drugs (ingredient sets) filled in the year up to as-of.
	Drugs []string
	// YTDCostCents is the cost of the fills dated in the year up to as-of.
	YTDCostCents int64
}

// Decision is the outcome with its reasons.
type Decision struct {
	Eligible           bool
	Year               int
	ProjectedCostCents int64
	Reasons            []string
}

// Decide applies the criteria.
func Decide(c Criteria, f Facts) Decision {
	d := Decision{Year: c.Year}
	var core []string
	for _, cat := range c.CoreDiseases {
		if f.Categories[cat] {
			core = append(core, chronic.Names[cat])
		}
	}
	metChronic := len(core) >= c.MinChronic
	d.Reasons = append(d.Reasons, fmt.Sprintf("chronic diseases: %d of the %d core list (%s); %d required: %s",
		len(core), c.Year, orNone(core), c.MinChronic, met(metChronic)))
	metDrugs := len(f.Drugs) >= c.MinDrugs
	drugs := append([]string(nil), f.Drugs...)
	sort.Strings(drugs)
	d.Reasons = append(d.Reasons, fmt.Sprintf("Part D drugs: %d distinct drugs filled in %d (%s); %d required: %s",
		len(drugs), c.Year, orNone(drugs), c.MinDrugs, met(metDrugs)))
	metCost := false
	if c.CostThresholdCents == 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("annual drug cost: no MTM cost threshold is configured for %d (CMS sets it each year): not met", c.Year))
	} else if !f.AsOf.IsZero() {
		months := int64(f.AsOf.Month)
		annual, err := money.Mul(f.YTDCostCents, 12)
		if err != nil {
			annual = math.MaxInt64 // past any threshold: the cost is met, and the reason says how
		}
		d.ProjectedCostCents = annual / months
		metCost = d.ProjectedCostCents >= c.CostThresholdCents
		d.Reasons = append(d.Reasons, fmt.Sprintf("annual drug cost: projected %s = year-to-date %s / %d month(s) x 12; threshold for %d %s: %s",
			dollars(d.ProjectedCostCents), dollars(f.YTDCostCents), months, c.Year, dollars(c.CostThresholdCents), met(metCost)))
	}
	d.Eligible = metChronic && metDrugs && metCost
	return d
}

func met(b bool) string {
	if b {
		return "met"
	}
	return "not met"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func dollars(c int64) string { return fmt.Sprintf("$%d.%02d", c/100, c%100) }
