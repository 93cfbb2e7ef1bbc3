// Package scoring turns a medication profile into an explainable assessment:
// CMS MTM eligibility with its reasons, PDC by class, drug therapy problems,
// and a score in which every point is traced to a factor with its evidence.
// The weights and tier cut-offs are the plan's Policy (policy.yaml).
package scoring

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/eligibility"
	"github.com/emtm/emtm/services/risk-scoring/internal/problems"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
	"github.com/emtm/emtm/services/risk-scoring/safety"
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

// Factor is one term of the score.
type Factor struct {
	Code        string
	Description string
	Points      int
	Evidence    []string // claim ids, or Parts A/B summary ids
}

// Result is an assessment.
type Result struct {
	AsOf        civil.Date
	Score       int
	Tier        int
	Factors     []Factor
	Problems    []problems.Problem
	Eligibility eligibility.Decision
	// PDC is the interim PDC of each class, its treatment period ending on the as-of date.
	PDC []pdc.Result
	// Safety are the PQA safety measures whose age and denominator criteria
	// hold in the as-of year (interim: the claims known as of the as-of date).
	Safety []safety.Row
	// Exclusions are the profile's exclusion spans, each with its source.
	Exclusions []Exclusion
	// UnknownDrugs are ingredients of the profile's fills that the drug
	// reference does not know: reported, not counted as drugs.
	UnknownDrugs []string
	// CostOverflow: the year's drug cost does not fit int64 cents (not projected).
	CostOverflow bool
}

// Exclusion is an exclusion span and where it comes from.
type Exclusion struct {
	safety.Span
	Source string // "condition <system> <code>", "enrollment/<id>", "partsab/<id>"
}

// Exclusions lists a profile's exclusion spans: the conditions whose
// category is an exclusion (onset to resolution), and the hospice spans.
func Exclusions(p *profile.Profile, refs References) []Exclusion {
	var out []Exclusion
	for _, c := range p.Conditions {
		cat := refs.Chronic.Category(c.System, c.Code)
		if cat != "" && safety.IsExclusion(cat) {
			out = append(out, Exclusion{Span: safety.Span{Name: cat, Start: c.Onset, End: c.Resolved}, Source: "condition " + c.System + " " + c.Code})
		}
	}
	for _, s := range p.Spans {
		out = append(out, Exclusion{Span: safety.Span{Name: s.Name, Start: s.Start, End: s.End}, Source: s.ID})
	}
	return out
}

// touches reports whether an exclusion of name overlaps year.
func touches(ex []Exclusion, name string, year int) bool {
	for _, e := range ex {
		if e.Name == name && e.Start.Year <= year && (e.End.IsZero() || e.End.Year >= year) {
			return true
		}
	}
	return false
}

// References are the data files scoring reads.
type References struct {
	Drugs   *drugref.Reference
	Chronic *chronic.Map
}

// Assess scores p as of its latest date of service, for the measurement year
// of that date.
func Assess(p *profile.Profile, refs References, pol Policy) Result {
	r := Result{AsOf: p.AsOf(), Tier: TierLow}
	if r.AsOf.IsZero() {
		return r
	}
	year := r.AsOf.Year
	categories := map[string]bool{}
	for _, c := range p.Conditions {
		if c.ActiveIn(year) {
			if cat := refs.Chronic.Category(c.System, c.Code); cat != "" {
				categories[cat] = true
			}
		}
	}
	// Interim PDC: the treatment period ends on the as-of date, so that a
	// beneficiary is not called non-adherent for days that have not come yet.
	var fills []pdc.Fill
	var dispensed []pdc.Dispensing
	for _, f := range p.Fills {
		dispensed = append(dispensed, pdc.Dispensing{Date: f.Date, Ingredients: f.Known()})
		if drugs, _ := pdc.Classify(refs.Drugs, f.Known()); drugs != nil {
			// The fill's key: claim ids are unique within a pharmacy only.
			fills = append(fills, pdc.Fill{ClaimID: f.Key(), Date: f.Date, DaysSupply: f.DaysSupply, Drugs: drugs})
		}
	}
	r.Exclusions = Exclusions(p, refs)
	ex := pdc.UserExclusions(refs.Drugs, year, dispensed)
	ex.ESRD = touches(r.Exclusions, safety.ESRD, year)
	ex.Hospice = touches(r.Exclusions, safety.Hospice, year)
	r.PDC = pdc.Compute(fills, year, r.AsOf, ex)
	spans := make([]safety.Span, len(r.Exclusions))
	for i, e := range r.Exclusions {
		spans[i] = e.Span
	}
	r.Problems, r.Safety = problems.Find(problems.Facts{Year: year, BirthDate: p.BirthDate, Fills: p.Fills, Exclusions: spans, PDC: r.PDC, Ref: refs.Drugs})
	// The problems pharmacists recorded and have not resolved: each is a
	// problem of the profile (scored, explained, and raised with the
	// prescribers it was recommended to).
	for _, pp := range p.Problems {
		if pp.Resolved {
			continue
		}
		pr := problems.Problem{Code: problems.Pharmacist, Key: problems.PharmacistKey(pp.ID),
			Description: fmt.Sprintf("pharmacist-identified problem: %s (SNOMED CT %s), recorded %s in encounter %s", firstText(pp.Description, "medication-related problem"), pp.Code, dateText(pp.Date), pp.Encounter),
			Source:      "the pharmacist's MTM encounter (Pharmacist eCare Plan, HL7 PhCP STU1 2021)"}
		var texts []string
		for _, rec := range pp.Recs {
			if !slices.Contains(pr.PrescriberNPIs, rec.NPI) {
				pr.PrescriberNPIs = append(pr.PrescriberNPIs, rec.NPI)
			}
			if rec.Text != "" && !slices.Contains(texts, rec.Text) {
				texts = append(texts, rec.Text)
			}
		}
		pr.Recommendation = strings.Join(texts, "; ")
		r.Problems = append(r.Problems, pr)
	}

	// Eligibility: drugs and cost of the year to date.
	// A drug the reference does not know is reported (r.UnknownDrugs), never
	// counted as a distinct drug; its cost counts (the plan paid it).
	yearDrugs := map[string]bool{}
	var ytdSum money.Sum
	var ytdClaims []string
	unknown := map[string]bool{}
	for _, f := range p.Fills {
		for _, u := range f.Unknown() {
			unknown[u] = true
		}
		if f.Date.Year == year && !f.Date.After(r.AsOf) {
			if known := f.Known(); len(known) > 0 {
				yearDrugs[strings.Join(known, " / ")] = true
			}
			ytdSum.Add(f.CostCents)
			ytdClaims = append(ytdClaims, f.ClaimID)
		}
	}
	r.UnknownDrugs = sortedKeys(unknown)
	ytd, err := ytdSum.Total()
	if err != nil {
		// Ingestion bounds every claim's amounts, so this cannot happen with its
		// events; were it to, the cost is not projected rather than wrong.
		ytd, r.CostOverflow = 0, true
	}
	crit := pol.Criteria(year)
	r.Eligibility = eligibility.Decide(crit, eligibility.Facts{AsOf: r.AsOf, Categories: categories, Drugs: sortedKeys(yearDrugs), YTDCostCents: ytd})

	w := pol.Weights
	if r.Eligibility.Eligible && w.MTMEligible > 0 {
		r.add(Factor{Code: "MTM_ELIGIBLE", Points: w.MTMEligible, Evidence: ytdClaims,
			Description: fmt.Sprintf("meets the CMS MTM eligibility criteria for %d: %s", year, strings.Join(r.Eligibility.Reasons, "; "))})
	}
	for _, pr := range r.Problems {
		if pr.Code == "NONADH" {
			if w.NonAdherencePerClass > 0 {
				r.add(Factor{Code: "NONADHERENCE_" + strings.TrimPrefix(pr.Key, "NONADH:"), Points: w.NonAdherencePerClass, Evidence: pr.ClaimIDs, Description: pr.Description})
			}
			continue
		}
		if pts := w.Problems[pr.Code]; pts > 0 {
			r.add(Factor{Code: "PROBLEM_" + pr.Code, Points: pts, Evidence: pr.ClaimIDs, Description: pr.Description})
		}
	}
	// Polypharmacy: distinct drugs (active ingredients) in the 365 days to as-of.
	window := r.AsOf.AddDays(-364)
	drugs := map[string]bool{}
	var drugClaims []string
	for _, f := range p.Fills {
		if f.Date.Before(window) || f.Date.After(r.AsOf) {
			continue
		}
		drugClaims = append(drugClaims, f.ClaimID)
		for _, ing := range f.Known() {
			drugs[ing] = true
		}
	}
	step := Step{}
	for _, s := range w.DrugCount {
		if len(drugs) >= s.AtLeast {
			step = s
		}
	}
	if step.Points > 0 {
		r.add(Factor{Code: "DRUG_COUNT", Points: step.Points, Evidence: drugClaims,
			Description: fmt.Sprintf("%d distinct drugs filled in the 365 days to %s (%s); %d or more earn %d", len(drugs), r.AsOf, strings.Join(sortedKeys(drugs), ", "), step.AtLeast, step.Points)})
	}
	if crit.CostThresholdCents > 0 && r.Eligibility.ProjectedCostCents >= crit.CostThresholdCents && w.ProjectedCost > 0 {
		r.add(Factor{Code: "PROJECTED_COST", Points: w.ProjectedCost, Evidence: ytdClaims,
			Description: fmt.Sprintf("projected %d drug cost %s (year to date %s over %d month(s) x 12) reaches the MTM cost threshold %s",
				year, dollars(r.Eligibility.ProjectedCostCents), dollars(ytd), int(r.AsOf.Month), dollars(crit.CostThresholdCents))})
	}
	since := r.AsOf.AddDays(-(w.RecentDays - 1))
	for _, kind := range []struct {
		setting, code, words string
		points               int
	}{{profile.Inpatient, "RECENT_INPATIENT", "inpatient stay", w.RecentInpatient}, {profile.Emergency, "RECENT_EMERGENCY", "emergency department visit", w.RecentEmergency}} {
		var ids, dates []string
		for _, m := range p.Medical {
			last := m.Discharge
			if last.IsZero() {
				last = m.Admit
			}
			if m.Setting == kind.setting && !last.Before(since) && !m.Admit.After(r.AsOf) {
				ids = append(ids, m.ID)
				dates = append(dates, last.String())
			}
		}
		if len(ids) > 0 && kind.points > 0 {
			r.add(Factor{Code: kind.code, Points: kind.points, Evidence: ids,
				Description: fmt.Sprintf("%d %s(s) in the %d days to %s (%s)", len(ids), kind.words, w.RecentDays, r.AsOf, strings.Join(dates, ", "))})
		}
	}
	switch {
	case r.Score >= pol.Tiers.High:
		r.Tier = TierHigh
	case r.Score >= pol.Tiers.Moderate:
		r.Tier = TierModerate
	}
	return r
}

func (r *Result) add(f Factor) {
	r.Factors = append(r.Factors, f)
	r.Score += f.Points
}

// Fingerprint changes exactly when the tier, the eligibility or the set of
// problems changes; an assessment is emitted only then (no event storm on
// every claim).
func (r Result) Fingerprint() string {
	keys := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		keys[i] = p.Key
	}
	sort.Strings(keys)
	e := 0
	if r.Eligibility.Eligible {
		e = 1
	}
	return fmt.Sprintf("t%d|e%d|%s", r.Tier, e, strings.Join(keys, ","))
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

func firstText(s, otherwise string) string {
	if strings.TrimSpace(s) == "" {
		return otherwise
	}
	return s
}

// dateText shows a stored YYYYMMDD date as YYYY-MM-DD.
func dateText(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:]
}
