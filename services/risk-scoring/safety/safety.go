// Package safety computes the five PQA patient-safety measures exactly as
// docs/domain.md section 4 defines them: SUPD, COB, POLY-ACH, POLY-CNS and
// OHD, for one beneficiary and one measurement year Y. One implementation
// serves both risk-scoring's live drug therapy problems (interim, from the
// claims known as of the profile's date) and `emtmctl measures safety` (the
// offline contract of section 4.3).
//
// The rules of section 4.1, cited where they are applied:
//
//  1. only claims whose fill date is in Y count, for every criterion; a claim
//     supplies fill_date .. fill_date + days_supply - 1, cut at Dec 31;
//  2. "at least two claims on different dates" counts distinct fill dates;
//  3. age is completed years on Jan 1 of Y (CMS for SUPD from MY2024,
//     CMS-4201-F, 2023; emtm's reading for the other four);
//  4. a drug is the claim's ingredient, trimmed and lower-cased; a claim
//     counts in every group it lists;
//  5. overlap days are the days of Y covered at once by the required number
//     of distinct drugs (or classes), cumulative; overlapping claims of one
//     drug are not shifted (emtm's reading) and cover the union of their days;
//  6. an exclusion applies when its span touches Y (table in ExclusionsOf);
//  7. the numerator is computed whether or not the beneficiary is excluded;
//     enrollment is taken as the whole of Y; no inpatient adjustment.
//
// Sources: PQA measure overviews (supd, cob, poly-ach, poly-cns; current,
// undated), CBE #3389 (COB, 2021), CMS-4201-F (2023), CMS Part D Star
// Ratings (COB and POLY-ACH from MY2025), CMS OHD display measure. Where
// they are silent, emtm's reading (docs/domain.md) is the rule.
package safety

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
)

// Measure names, in the byte order the offline report sorts them.
const (
	COB     = "COB"
	OHD     = "OHD"
	PolyACH = "POLY-ACH"
	PolyCNS = "POLY-CNS"
	SUPD    = "SUPD"
)

// Measures lists the measures in byte order.
var Measures = []string{COB, OHD, PolyACH, PolyCNS, SUPD}

// Group is a set of the measure groups a claim belongs to.
type Group uint8

// The groups of section 4.3.
const (
	Statin Group = 1 << iota
	Diabetes
	Opioid
	Benzodiazepine
	ACH
	CNS
)

var groupNames = []struct {
	g    Group
	name string
}{{Statin, "STATIN"}, {Diabetes, "DIABETES"}, {Opioid, "OPIOID"}, {Benzodiazepine, "BENZODIAZEPINE"}, {ACH, "ACH"}, {CNS, "CNS"}}

// GroupNames lists the group names in the order of section 4.3.
func GroupNames() []string {
	out := make([]string, len(groupNames))
	for i, g := range groupNames {
		out[i] = g.name
	}
	return out
}

// ParseGroup returns the group named name (exact, upper case).
func ParseGroup(name string) (Group, bool) {
	for _, g := range groupNames {
		if g.name == name {
			return g.g, true
		}
	}
	return 0, false
}

// Has reports whether every group of h is in g.
func (g Group) Has(h Group) bool { return g&h == h }

// String names the groups, ";"-separated (the offline format).
func (g Group) String() string {
	var out []string
	for _, n := range groupNames {
		if g.Has(n.g) {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ";")
}

// Exclusion names (section 4.1 rule 6).
const (
	Hospice     = "HOSPICE"
	Cancer      = "CANCER"
	SickleCell  = "SICKLE_CELL"
	Palliative  = "PALLIATIVE_CARE"
	Seizure     = "SEIZURE_DISORDER"
	ESRD        = "ESRD"
	Rhabdo      = "RHABDOMYOLYSIS_MYOPATHY"
	Pregnancy   = "PREGNANCY_LACTATION_FERTILITY"
	Liver       = "LIVER_DISEASE"
	Prediabetes = "PREDIABETES"
	PCOS        = "PCOS"
)

// Exclusions lists the eleven exclusion names of section 4.1 rule 6.
var Exclusions = []string{Hospice, Cancer, SickleCell, Palliative, Seizure, ESRD, Rhabdo, Pregnancy, Liver, Prediabetes, PCOS}

// excludes is the table of rule 6: which exclusions remove a beneficiary from which measure.
var excludes = map[string][]string{
	SUPD:    {Hospice, ESRD, Rhabdo, Pregnancy, Liver, Prediabetes, PCOS},
	COB:     {Hospice, Cancer, SickleCell, Palliative},
	PolyACH: {Hospice},
	PolyCNS: {Hospice, Seizure},
	OHD:     {Hospice, Cancer, SickleCell, Palliative},
}

// ExclusionsOf lists the exclusions that remove a beneficiary from a measure.
func ExclusionsOf(measure string) []string { return excludes[measure] }

// IsExclusion reports whether name is one of the eleven exclusions.
func IsExclusion(name string) bool {
	for _, e := range Exclusions {
		if e == name {
			return true
		}
	}
	return false
}

// MMEScale is the number of units of Claim.MME per morphine milligram
// equivalent: MME per day is kept in ten-thousandths (the offline format
// allows four decimals), so that OHD compares exactly.
const MMEScale = 10000

// Claim is one pharmacy claim as the measures see it.
type Claim struct {
	// ID and Prescriber are evidence only (empty in the offline format).
	ID         string
	Prescriber string
	FillDate   civil.Date
	// Drug is the ingredient, trimmed and lower-cased (rule 4).
	Drug       string
	DaysSupply int
	Groups     Group
	// MME is the morphine milligram equivalents per day in 1/MMEScale units;
	// HasMME is false for an opioid without an MME (buprenorphine).
	MME    int64
	HasMME bool
}

// Span is one exclusion of a beneficiary, from Start to End (zero: open).
type Span struct {
	Name       string
	Start, End civil.Date
}

// touches reports whether the span overlaps year (rule 6).
func (s Span) touches(year int) bool {
	return s.Start.Year <= year && (s.End.IsZero() || s.End.Year >= year)
}

// Row is one measure for one beneficiary whose age and denominator criteria
// hold (before exclusions).
type Row struct {
	Measure   string
	Numerator bool
	Excluded  bool
	// ExcludedBy names the exclusions that apply (sorted).
	ExcludedBy []string
	// Detail says in words what the numerator found (for a problem's description).
	Detail string
	// Evidence are indices into the claims given to Evaluate: the claims
	// behind the denominator and the numerator.
	Evidence []int
}

// Problem reports whether the row is a drug therapy problem: not excluded,
// and SUPD without a statin or another measure's numerator met.
func (r Row) Problem() bool {
	if r.Excluded {
		return false
	}
	if r.Measure == SUPD {
		return !r.Numerator
	}
	return r.Numerator
}

// year holds one measurement year's calendar.
type year struct {
	y          int
	jan1       civil.Date
	dec31      civil.Date
	days       int
	claims     []Claim
	candidates []int // indices of claims dated in Y (rule 1)
}

func newYear(y int, claims []Claim) *year {
	c := &year{y: y, jan1: civil.Date{Year: y, Month: 1, Day: 1}, dec31: civil.Date{Year: y, Month: 12, Day: 31}, claims: claims}
	c.days = c.dec31.DaysSince(c.jan1) + 1
	for i, cl := range claims {
		if cl.FillDate.Year == y && cl.DaysSupply > 0 {
			c.candidates = append(c.candidates, i)
		}
	}
	return c
}

// span returns the first and last day index of a claim's supply in Y (rule 1).
func (c *year) span(i int) (int, int) {
	cl := c.claims[i]
	from := cl.FillDate.DaysSince(c.jan1)
	return from, min(from+cl.DaysSupply-1, c.days-1)
}

// with lists the claims of Y in every group of g.
func (c *year) with(g Group) []int {
	var out []int
	for _, i := range c.candidates {
		if c.claims[i].Groups.Has(g) {
			out = append(out, i)
		}
	}
	return out
}

// dates counts the distinct fill dates of claims (rule 2).
func (c *year) dates(idx []int) int {
	seen := map[civil.Date]bool{}
	for _, i := range idx {
		seen[c.claims[i].FillDate] = true
	}
	return len(seen)
}

// daysSupplied sums the days supply of claims as dispensed (not cut). A
// claim listed once per ingredient (risk-scoring's combination products)
// counts once: claims with the same non-empty ID are one claim.
func (c *year) daysSupplied(idx []int) int {
	seen := map[string]bool{}
	total := 0
	for _, i := range idx {
		if id := c.claims[i].ID; id != "" {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		total += c.claims[i].DaysSupply
	}
	return total
}

// covered marks the days of Y that claims supply (the union: rule 5).
func (c *year) covered(idx []int) []bool {
	days := make([]bool, c.days)
	for _, i := range idx {
		from, to := c.span(i)
		for d := from; d <= to; d++ {
			days[d] = true
		}
	}
	return days
}

// overlap counts the days on which at least n of the coverages are true (rule 5).
func overlap(n int, coverages ...[]bool) int {
	if len(coverages) == 0 {
		return 0
	}
	count := 0
	for d := range coverages[0] {
		k := 0
		for _, cov := range coverages {
			if cov[d] {
				k++
			}
		}
		if k >= n {
			count++
		}
	}
	return count
}

// Evaluate computes the measures of one beneficiary born on birth for
// measurement year y. It returns the rows whose age and denominator criteria
// hold, sorted by measure; none when the birth date is unknown (every
// measure has an age criterion).
func Evaluate(y int, birth civil.Date, claims []Claim, exclusions []Span) []Row {
	if birth.IsZero() {
		return nil
	}
	c := newYear(y, claims)
	age := birth.YearsOld(c.jan1) // rule 3
	var rows []Row
	for _, m := range []func(*year, int) (Row, bool){cob, ohd, polyACH, polyCNS, supd} {
		r, ok := m(c, age)
		if !ok {
			continue
		}
		for _, ex := range exclusions {
			if ex.touches(y) && contains(excludes[r.Measure], ex.Name) && !contains(r.ExcludedBy, ex.Name) {
				r.ExcludedBy = append(r.ExcludedBy, ex.Name)
			}
		}
		sort.Strings(r.ExcludedBy)
		r.Excluded = len(r.ExcludedBy) > 0 // rule 7: the numerator stands either way
		sort.Ints(r.Evidence)
		rows = append(rows, r)
	}
	return rows
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// supd: Statin Use in Persons with Diabetes. Age 40..75; DIABETES claims
// (insulin included) on at least two dates; numerator: a STATIN claim in Y,
// any days supply.
func supd(c *year, age int) (Row, bool) {
	if age < 40 || age > 75 {
		return Row{}, false
	}
	diab := c.with(Diabetes)
	if c.dates(diab) < 2 {
		return Row{}, false
	}
	statins := c.with(Statin)
	r := Row{Measure: SUPD, Numerator: len(statins) > 0, Evidence: append(diab, statins...)}
	r.Detail = fmt.Sprintf("diabetes medication claims on %d dates in %d", c.dates(diab), c.y)
	if r.Numerator {
		r.Detail += fmt.Sprintf(" and a statin claim on %s", c.claims[statins[0]].FillDate)
	} else {
		r.Detail += " and no statin claim in the year"
	}
	return r, true
}

// cob: Concurrent Use of Opioids and Benzodiazepines. Age >= 18; OPIOID
// claims on at least two dates with at least 15 days supply in all;
// numerator: BENZODIAZEPINE claims on at least two dates and at least 30
// days covered by an opioid and a benzodiazepine.
func cob(c *year, age int) (Row, bool) {
	if age < 18 {
		return Row{}, false
	}
	op := c.with(Opioid)
	if c.dates(op) < 2 || c.daysSupplied(op) < 15 {
		return Row{}, false
	}
	bz := c.with(Benzodiazepine)
	days := overlap(2, c.covered(op), c.covered(bz))
	r := Row{Measure: COB, Numerator: c.dates(bz) >= 2 && days >= 30, Evidence: op}
	if r.Numerator {
		r.Evidence = append(r.Evidence, bz...)
	}
	r.Detail = fmt.Sprintf("an opioid and a benzodiazepine together on %d days in %d (benzodiazepine claims on %d dates)", days, c.y, c.dates(bz))
	return r, true
}

// polypharmacy is POLY-ACH (n = 2, ACH) and POLY-CNS (n = 3, CNS): age >= 65;
// a drug of the group with claims on at least two dates; numerator: at least
// 30 days on which n distinct such drugs are covered together.
func polypharmacy(c *year, age int, measure string, g Group, n int, words string) (Row, bool) {
	if age < 65 {
		return Row{}, false
	}
	byDrug := map[string][]int{}
	for _, i := range c.with(g) {
		d := strings.ToLower(strings.TrimSpace(c.claims[i].Drug)) // rule 4
		byDrug[d] = append(byDrug[d], i)
	}
	var drugs []string
	for d, idx := range byDrug {
		if c.dates(idx) >= 2 {
			drugs = append(drugs, d)
		}
	}
	if len(drugs) == 0 {
		return Row{}, false
	}
	sort.Strings(drugs)
	coverages := make([][]bool, len(drugs))
	var evidence []int
	for i, d := range drugs {
		coverages[i] = c.covered(byDrug[d])
		evidence = append(evidence, byDrug[d]...)
	}
	days := overlap(n, coverages...)
	r := Row{Measure: measure, Numerator: len(drugs) >= n && days >= 30, Evidence: evidence}
	r.Detail = fmt.Sprintf("%d %s drug(s) with claims on two or more dates (%s); %d or more together on %d days in %d",
		len(drugs), words, strings.Join(drugs, ", "), n, days, c.y)
	return r, true
}

func polyACH(c *year, age int) (Row, bool) {
	return polypharmacy(c, age, PolyACH, ACH, 2, "anticholinergic")
}

func polyCNS(c *year, age int) (Row, bool) {
	return polypharmacy(c, age, PolyCNS, CNS, 3, "CNS-active")
}

// ohd: Use of Opioids at High Dosage in Persons Without Cancer. Only OPIOID
// claims with an MME count. Age >= 18; such claims on at least two dates,
// at least 15 days supply in all, and IPSD no later than Dec 31 - 89 days.
// The opioid episode runs from IPSD to the last day any such claim supplies
// (cut at Dec 31; gap days stay in it). Numerator: an episode of at least 90
// days and a sum of MME per day x the claim's days in Y of at least 90 x the
// episode's days, compared exactly.
func ohd(c *year, age int) (Row, bool) {
	if age < 18 {
		return Row{}, false
	}
	var op []int
	for _, i := range c.with(Opioid) {
		if c.claims[i].HasMME {
			op = append(op, i)
		}
	}
	if c.dates(op) < 2 || c.daysSupplied(op) < 15 {
		return Row{}, false
	}
	first, last := c.days, -1
	for _, i := range op {
		from, to := c.span(i)
		first, last = min(first, from), max(last, to)
	}
	if first > c.dec31.AddDays(-89).DaysSince(c.jan1) {
		return Row{}, false
	}
	episode := last - first + 1
	total := new(big.Int)
	for _, i := range op {
		from, to := c.span(i)
		total.Add(total, new(big.Int).Mul(big.NewInt(c.claims[i].MME), big.NewInt(int64(to-from+1))))
	}
	limit := new(big.Int).Mul(big.NewInt(90*MMEScale), big.NewInt(int64(episode)))
	r := Row{Measure: OHD, Numerator: episode >= 90 && total.Cmp(limit) >= 0, Evidence: op}
	avg := new(big.Rat).SetFrac(total, big.NewInt(int64(episode)*MMEScale))
	r.Detail = fmt.Sprintf("an opioid episode of %d days (%s to %s) at an average of %s MME a day (high: 90 or more over 90 days or more)",
		episode, c.jan1.AddDays(first), c.jan1.AddDays(last), avg.FloatString(2))
	return r, true
}

// GroupsOf are the measure groups of one dispensed ingredient, from the
// drug reference: STATIN and DIABETES from the PDC classes (insulin
// included in DIABETES, as SUPD counts it), OPIOID, BENZODIAZEPINE, ACH
// after its dose condition, and CNS for every CNS class.
func GroupsOf(d drugref.Dispensed) Group {
	ing := d.Ingredient
	if ing == nil {
		return 0
	}
	var g Group
	if ing.PDCClass == "STATIN" {
		g |= Statin
	}
	if ing.PDCClass == "DIAB" || ing.Insulin {
		g |= Diabetes
	}
	if ing.Opioid {
		g |= Opioid
	}
	if ing.Benzodiazepine {
		g |= Benzodiazepine
	}
	if d.Anticholinergic {
		g |= ACH
	}
	if ing.CNSClass != "" {
		g |= CNS
	}
	return g
}
