// Package problems finds drug therapy problems in a medication profile
// (docs/domain.md section 4). Each rule is a small pure function that cites
// its source; each finding names the claims that prove it and the prescribers
// who can act on it. The measurement year is the as-of year: fills dated in
// it count, their supply is followed to December 31.
package problems

import (
	"fmt"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
)

// Problem is one finding.
type Problem struct {
	Code           string // SUPD, OHD, COB, POLY-ACH, POLY-CNS, BEERS, NONADH
	Key            string // stable per beneficiary, e.g. "BEERS:glyburide"
	Description    string
	Recommendation string
	Source         string
	ClaimIDs       []string
	PrescriberNPIs []string
}

// Codes lists every problem code.
var Codes = []string{"SUPD", "OHD", "COB", "POLY-ACH", "POLY-CNS", "BEERS", "NONADH"}

// Facts are what the rules read.
type Facts struct {
	Year       int
	BirthDate  civil.Date
	Fills      []profile.Fill
	Categories map[string]bool // chronic categories active in Year
	PDC        []pdc.Result
	Ref        *drugref.Reference
}

// Find runs every rule.
func Find(f Facts) []Problem {
	var out []Problem
	for _, rule := range []func(Facts) []Problem{SUPD, OHD, COB, PolyACH, PolyCNS, Beers, NonAdherence} {
		out = append(out, rule(f)...)
	}
	return out
}

// ageAtYearEnd is the age on December 31 of the measurement year (-1 if unknown).
func (f Facts) ageAtYearEnd() int {
	if f.BirthDate.IsZero() {
		return -1
	}
	return f.BirthDate.YearsOld(civil.Date{Year: f.Year, Month: 12, Day: 31})
}

// inYear are the fills dated in the measurement year.
func (f Facts) inYear() []profile.Fill {
	var out []profile.Fill
	for _, fl := range f.Fills {
		if fl.Date.Year == f.Year {
			out = append(out, fl)
		}
	}
	return out
}

func (f Facts) ingredient(name string) *drugref.Ingredient {
	ing, _ := f.Ref.Ingredient(name)
	return ing
}

// evidence collects claims and prescribers.
type evidence struct{ claims, npis map[string]bool }

func newEvidence() *evidence { return &evidence{claims: map[string]bool{}, npis: map[string]bool{}} }

func (e *evidence) add(fl profile.Fill) {
	e.claims[fl.ClaimID] = true
	if fl.PrescriberNPI != "" {
		e.npis[fl.PrescriberNPI] = true
	}
}

func (e *evidence) into(p Problem) Problem {
	p.ClaimIDs, p.PrescriberNPIs = sorted(e.claims), sorted(e.npis)
	return p
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// coverage marks, per drug, the days of the measurement year a fill's supply
// covers (from its date, not shifted), through December 31.
type coverage struct {
	year  int
	days  int
	drugs map[string][]bool
	fills map[string][]profile.Fill
}

func newCoverage(year int) *coverage {
	days := civil.Date{Year: year, Month: 12, Day: 31}.DaysSince(civil.Date{Year: year, Month: 1, Day: 1}) + 1
	return &coverage{year: year, days: days, drugs: map[string][]bool{}, fills: map[string][]profile.Fill{}}
}

func (c *coverage) add(drug string, fl profile.Fill) {
	d := c.drugs[drug]
	if d == nil {
		d = make([]bool, c.days)
		c.drugs[drug] = d
	}
	jan1 := civil.Date{Year: c.year, Month: 1, Day: 1}
	for i := max(fl.Date.DaysSince(jan1), 0); i < c.days && i <= fl.Last().DaysSince(jan1); i++ {
		d[i] = true
	}
	c.fills[drug] = append(c.fills[drug], fl)
}

// daysWithAtLeast counts the days on which at least n distinct drugs are covered.
func (c *coverage) daysWithAtLeast(n int) int {
	count := 0
	for i := 0; i < c.days; i++ {
		k := 0
		for _, d := range c.drugs {
			if d[i] {
				k++
			}
		}
		if k >= n {
			count++
		}
	}
	return count
}

// SUPD: statin use in persons with diabetes. Age 40 to 75, at least two fills
// of diabetes drugs (insulin included) in the year, and no statin fill in it.
// Source: CMS Part D Star Ratings "Statin Use in Persons with Diabetes" (PQA), 2024.
func SUPD(f Facts) []Problem {
	age := f.ageAtYearEnd()
	if age < 40 || age > 75 {
		return nil
	}
	diab := newEvidence()
	dates := map[civil.Date]bool{}
	for _, fl := range f.inYear() {
		for _, n := range fl.Ingredients {
			ing := f.ingredient(n)
			if ing == nil {
				continue
			}
			if ing.PDCClass == pdc.STATIN {
				return nil
			}
			if ing.PDCClass == pdc.DIAB || ing.Insulin {
				diab.add(fl)
				dates[fl.Date] = true
			}
		}
	}
	if len(diab.claims) < 2 {
		return nil
	}
	return []Problem{diab.into(Problem{
		Code: "SUPD", Key: "SUPD",
		Description:    fmt.Sprintf("%d diabetes medication fills in %d and no statin (age %d)", len(diab.claims), f.Year, age),
		Recommendation: "Consider a moderate- or high-intensity statin, as recommended for adults 40-75 with diabetes",
		Source:         "CMS Part D Star Ratings, Statin Use in Persons with Diabetes (PQA), 2024",
	})}
}

// OHD: opioids at high dosage. The opioid episode (consecutive days covered by
// opioid supply in the year) lasts at least 90 days and its average daily dose
// is at least 90 morphine milligram equivalents. Buprenorphine has no MME
// factor and does not count; beneficiaries with cancer are excluded (hospice
// data is not available). Source: PQA "Use of Opioids at High Dosage in
// Persons Without Cancer"; MME factors CDC 2022.
func OHD(f Facts) []Problem {
	if f.Categories[chronic.Cancer] {
		return nil
	}
	c := newCoverage(f.Year)
	mme := make([]int, c.days) // MME x 10 per day
	jan1 := civil.Date{Year: f.Year, Month: 1, Day: 1}
	var opioidFills []profile.Fill
	for _, fl := range f.inYear() {
		if fl.MME10 <= 0 {
			continue
		}
		opioidFills = append(opioidFills, fl)
		for i := max(fl.Date.DaysSince(jan1), 0); i < c.days && i <= fl.Last().DaysSince(jan1); i++ {
			mme[i] += fl.MME10
		}
	}
	for start := 0; start < c.days; {
		if mme[start] == 0 {
			start++
			continue
		}
		end, sum := start, 0
		for end < c.days && mme[end] > 0 {
			sum += mme[end]
			end++
		}
		days := end - start
		if avg := float64(sum) / float64(days) / 10; days >= 90 && avg >= 90 {
			ev := newEvidence()
			from, to := jan1.AddDays(start), jan1.AddDays(end-1)
			for _, fl := range opioidFills {
				if !fl.Last().Before(from) && !fl.Date.After(to) {
					ev.add(fl)
				}
			}
			return []Problem{ev.into(Problem{
				Code: "OHD", Key: "OHD",
				Description:    fmt.Sprintf("opioids for %d consecutive days (%s to %s) at an average of %.0f MME a day (>= 90)", days, from, to, avg),
				Recommendation: "Reassess the opioid dose against the CDC 2022 guideline; consider tapering and naloxone",
				Source:         "PQA Use of Opioids at High Dosage in Persons Without Cancer; CDC 2022 MME factors",
			})}
		}
		start = end
	}
	return nil
}

// COB: at least two opioid fills and at least two benzodiazepine fills in the
// year with at least 30 cumulative days on which both are covered.
// Source: PQA "Concurrent Use of Opioids and Benzodiazepines", 2023.
func COB(f Facts) []Problem {
	c := newCoverage(f.Year)
	op, bz := newEvidence(), newEvidence()
	for _, fl := range f.inYear() {
		for _, n := range fl.Ingredients {
			ing := f.ingredient(n)
			switch {
			case ing == nil:
			case ing.Opioid:
				c.add("opioid", fl)
				op.add(fl)
			case ing.Benzodiazepine:
				c.add("benzodiazepine", fl)
				bz.add(fl)
			}
		}
	}
	if len(op.claims) < 2 || len(bz.claims) < 2 {
		return nil
	}
	overlap := c.daysWithAtLeast(2)
	if overlap < 30 {
		return nil
	}
	for id := range bz.claims {
		op.claims[id] = true
	}
	for n := range bz.npis {
		op.npis[n] = true
	}
	return []Problem{op.into(Problem{
		Code: "COB", Key: "COB",
		Description:    fmt.Sprintf("an opioid and a benzodiazepine together on %d days in %d (>= 30)", overlap, f.Year),
		Recommendation: "Avoid concurrent opioids and benzodiazepines where possible; coordinate with the other prescriber and consider naloxone",
		Source:         "PQA Concurrent Use of Opioids and Benzodiazepines, 2023",
	})}
}

// polypharmacy finds at least n distinct drugs of a kind covered together on at
// least 30 days, in a beneficiary 65 or older at the end of the year.
func polypharmacy(f Facts, n int, is func(*drugref.Ingredient) bool) (*evidence, []string, int) {
	if f.ageAtYearEnd() < 65 {
		return nil, nil, 0
	}
	c := newCoverage(f.Year)
	ev := newEvidence()
	for _, fl := range f.inYear() {
		for _, name := range fl.Ingredients {
			if ing := f.ingredient(name); ing != nil && is(ing) {
				c.add(ing.Name, fl)
			}
		}
	}
	if len(c.drugs) < n {
		return nil, nil, 0
	}
	days := c.daysWithAtLeast(n)
	if days < 30 {
		return nil, nil, 0
	}
	drugs := make([]string, 0, len(c.drugs))
	for d, fills := range c.fills {
		drugs = append(drugs, d)
		for _, fl := range fills {
			ev.add(fl)
		}
	}
	sort.Strings(drugs)
	return ev, drugs, days
}

// PolyACH: two or more distinct anticholinergic drugs covered together on at
// least 30 days, age 65 or older. Source: PQA "Polypharmacy: Use of Multiple
// Anticholinergic Medications in Older Adults", 2023.
func PolyACH(f Facts) []Problem {
	ev, drugs, days := polypharmacy(f, 2, func(i *drugref.Ingredient) bool { return i.Anticholinergic })
	if ev == nil {
		return nil
	}
	return []Problem{ev.into(Problem{
		Code: "POLY-ACH", Key: "POLY-ACH",
		Description:    fmt.Sprintf("%d anticholinergic drugs together on %d days in %d (%s)", len(drugs), days, f.Year, strings.Join(drugs, ", ")),
		Recommendation: "Reduce the anticholinergic burden: deprescribe or switch one of the drugs",
		Source:         "PQA Polypharmacy: Use of Multiple Anticholinergic Medications in Older Adults, 2023",
	})}
}

// PolyCNS: three or more distinct CNS-active drugs (antiepileptics,
// antipsychotics, benzodiazepines, Z-drugs, opioids, SSRIs, SNRIs, TCAs)
// covered together on at least 30 days, age 65 or older. Source: PQA
// "Polypharmacy: Use of Multiple CNS-Active Medications in Older Adults", 2023.
func PolyCNS(f Facts) []Problem {
	ev, drugs, days := polypharmacy(f, 3, func(i *drugref.Ingredient) bool { return i.CNSClass != "" })
	if ev == nil {
		return nil
	}
	return []Problem{ev.into(Problem{
		Code: "POLY-CNS", Key: "POLY-CNS",
		Description:    fmt.Sprintf("%d CNS-active drugs together on %d days in %d (%s)", len(drugs), days, f.Year, strings.Join(drugs, ", ")),
		Recommendation: "Review the CNS-active drugs for falls risk; taper or stop one where possible",
		Source:         "PQA Polypharmacy: Use of Multiple CNS-Active Medications in Older Adults, 2023",
	})}
}

// Beers finds drugs to avoid in adults 65 and older: a fill in the year whose
// ingredient the reference flags under the AGS Beers Criteria (2023, Table 2),
// dispensed when the beneficiary was 65 or older. One problem per ingredient.
// Without a birth date the rule cannot apply.
func Beers(f Facts) []Problem {
	if f.BirthDate.IsZero() {
		return nil
	}
	found := map[string]*evidence{}
	notes := map[string]string{}
	for _, fl := range f.inYear() {
		if f.BirthDate.YearsOld(fl.Date) < 65 {
			continue
		}
		for _, name := range fl.Ingredients {
			ing := f.ingredient(name)
			if ing == nil || !ing.Beers {
				continue
			}
			if found[ing.Name] == nil {
				found[ing.Name] = newEvidence()
				notes[ing.Name] = ing.BeersNote
			}
			found[ing.Name].add(fl)
		}
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Problem, 0, len(names))
	for _, n := range names {
		out = append(out, found[n].into(Problem{
			Code: "BEERS", Key: "BEERS:" + n,
			Description:    fmt.Sprintf("%s is a potentially inappropriate medication in adults 65 and older (%s)", n, notes[n]),
			Recommendation: fmt.Sprintf("Review the need for %s; consider a safer alternative or deprescribing", n),
			Source:         "American Geriatrics Society 2023 Updated AGS Beers Criteria, Table 2",
		}))
	}
	return out
}

// NonAdherence: a PDC class in the measure with PDC below 0.80.
// Source: CMS Part D Star Ratings D10-D12 (PQA PDC), 2024; docs/domain.md section 3.
func NonAdherence(f Facts) []Problem {
	byID := map[string]profile.Fill{}
	for _, fl := range f.Fills {
		byID[fl.ClaimID] = fl
	}
	var out []Problem
	for _, r := range f.PDC {
		if !r.InMeasure || r.IsAdherent() {
			continue
		}
		ev := newEvidence()
		for _, id := range r.ClaimIDs {
			ev.add(byID[id])
		}
		out = append(out, ev.into(Problem{
			Code: "NONADH", Key: "NONADH:" + r.Class,
			Description: fmt.Sprintf("%s adherence: %d of %d days covered from %s to %s, PDC %.2f (< 0.80)",
				r.Class, r.CoveredDays, r.TreatmentDays, r.IPSD, r.End, r.PDC()),
			Recommendation: "Ask about barriers to adherence; consider 90-day fills, synchronisation or a simpler regimen",
			Source:         "CMS Part D Star Ratings D10-D12 medication adherence (PQA PDC), 2024",
		}))
	}
	return out
}
