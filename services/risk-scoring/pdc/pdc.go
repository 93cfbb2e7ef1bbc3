// Package pdc computes the Proportion of Days Covered (PDC), the adherence
// measure of the CMS Part D Star Ratings (D10 diabetes, D11 RAS antagonists,
// D12 statins; PQA-endorsed), exactly as docs/domain.md section 3 states it.
// The numbered rules are cited where they are applied:
//
//  1. only fills dated in the measurement year Y count (no carry-in);
//  2. the beneficiary needs at least two fills of the class on different dates;
//  3. IPSD = the first date of service in the class in Y; the treatment period
//     runs from IPSD to Dec 31 (or to disenrollment or death when known), and
//     one shorter than 91 days leaves the beneficiary out of the measure;
//  4. the same drug (active ingredient) twice on one date: the fill with the
//     longest days supply counts; a combination product counts toward a class
//     through its ingredient in that class and is the same drug as that
//     ingredient alone;
//  5. the same drug with overlapping supply: the later fill starts the day
//     after the earlier supply ends; different drugs are not shifted, and a
//     day is covered once however many drugs cover it;
//  6. supply past the treatment period does not count; covered days are the
//     days of the treatment period covered by any fill;
//  7. PDC = covered days / days in the treatment period; adherent at >= 0.80;
//  8. exclusions when the data exist: hospice and ESRD (every class, PQA
//     2024); insulin users (DIAB); sacubitril/valsartan users (RASA).
//     Inpatient and skilled-nursing day adjustments are not applied.
package pdc

import (
	"fmt"
	"math"
	"sort"

	"github.com/emtm/emtm/libs/civil"
)

// Classes of the measure.
const (
	DIAB   = "DIAB"
	RASA   = "RASA"
	STATIN = "STATIN"
)

// Classes lists the measure's classes in order.
var Classes = []string{DIAB, RASA, STATIN}

// Adherent is the PDC at or above which a beneficiary is adherent (rule 7).
const Adherent = 0.80

// MinTreatmentDays is the shortest treatment period in the measure (rule 3).
const MinTreatmentDays = 91

// Fill is one pharmacy fill.
type Fill struct {
	ClaimID    string
	Date       civil.Date
	DaysSupply int
	// Drugs maps each class the fill counts toward to the active ingredient(s)
	// that make it count (rule 4: the drug's identity within the class).
	Drugs map[string][]string
}

// Exclusions are the beneficiary's facts for rule 8.
type Exclusions struct {
	Hospice       bool // in hospice during Y: out of every class
	ESRD          bool // end-stage renal disease during Y: out of every class (PQA 2024)
	InsulinUser   bool // an insulin fill in Y: out of DIAB
	SacubitrilUse bool // a sacubitril/valsartan fill in Y: out of RASA
}

// Result is one beneficiary's PDC in one class.
type Result struct {
	Class         string
	InMeasure     bool
	Reason        string // why not in the measure, when not
	IPSD          civil.Date
	End           civil.Date // last day of the treatment period
	TreatmentDays int
	CoveredDays   int
	ClaimIDs      []string // the fills that count
}

// PDC is covered days / treatment days (0 when not in the measure).
func (r Result) PDC() float64 {
	if !r.InMeasure || r.TreatmentDays == 0 {
		return 0
	}
	return float64(r.CoveredDays) / float64(r.TreatmentDays)
}

// Rounded is the PDC rounded half up to 4 decimals, as reported.
func (r Result) Rounded() float64 { return math.Round(r.PDC()*10000) / 10000 }

// IsAdherent reports PDC >= 0.80 (rule 7).
func (r Result) IsAdherent() bool { return r.InMeasure && r.PDC() >= Adherent }

// Compute returns the PDC of each class the beneficiary has fills in during
// year, in the order of Classes. end, when set, ends the treatment period
// early (disenrollment or death).
func Compute(fills []Fill, year int, end civil.Date, ex Exclusions) []Result {
	dec31 := civil.Date{Year: year, Month: 12, Day: 31}
	periodEnd := dec31
	if !end.IsZero() && end.Before(dec31) {
		periodEnd = end
	}
	var out []Result
	for _, class := range Classes {
		// Rule 1: only fills dated in Y.
		var inClass []Fill
		for _, f := range fills {
			if f.Date.Year == year && len(f.Drugs[class]) > 0 && f.DaysSupply > 0 {
				inClass = append(inClass, f)
			}
		}
		if len(inClass) == 0 {
			continue
		}
		sort.SliceStable(inClass, func(i, j int) bool { return inClass[i].Date.Before(inClass[j].Date) })
		r := Result{Class: class, IPSD: inClass[0].Date, End: periodEnd}
		// Rule 8: exclusions.
		switch {
		case ex.Hospice:
			r.Reason = "excluded: hospice"
		case ex.ESRD:
			r.Reason = "excluded: end-stage renal disease"
		case ex.InsulinUser && class == DIAB:
			r.Reason = "excluded: insulin user"
		case ex.SacubitrilUse && class == RASA:
			r.Reason = "excluded: sacubitril/valsartan user"
		}
		if r.Reason != "" {
			out = append(out, r)
			continue
		}
		// Rule 2: at least two fills on different dates of service.
		dates := map[civil.Date]bool{}
		for _, f := range inClass {
			dates[f.Date] = true
		}
		if len(dates) < 2 {
			r.Reason = "fewer than two fills on different dates"
			out = append(out, r)
			continue
		}
		// Rule 3: the treatment period, at least 91 days.
		if r.IPSD.After(periodEnd) {
			r.Reason = "treatment period ends before it starts"
			out = append(out, r)
			continue
		}
		r.TreatmentDays = periodEnd.DaysSince(r.IPSD) + 1
		if r.TreatmentDays < MinTreatmentDays {
			r.Reason = fmt.Sprintf("treatment period of %d days is shorter than %d", r.TreatmentDays, MinTreatmentDays)
			out = append(out, r)
			continue
		}
		r.InMeasure = true
		// Rule 4: per drug, one fill per date (the longest supply); a
		// combination counts as each of its in-class ingredients.
		type key struct {
			drug string
			date civil.Date
		}
		best := map[key]Fill{}
		for _, f := range inClass {
			for _, drug := range f.Drugs[class] {
				k := key{drug, f.Date}
				if b, ok := best[k]; !ok || f.DaysSupply > b.DaysSupply || (f.DaysSupply == b.DaysSupply && f.ClaimID < b.ClaimID) {
					best[k] = f
				}
			}
		}
		byDrug := map[string][]Fill{}
		for k, f := range best {
			byDrug[k.drug] = append(byDrug[k.drug], f)
		}
		// Rules 5 and 6: shift overlapping fills of the same drug; count each
		// day of the treatment period once.
		covered := make([]bool, r.TreatmentDays)
		used := map[string]bool{}
		for _, fs := range byDrug {
			sort.Slice(fs, func(i, j int) bool { return fs[i].Date.Before(fs[j].Date) })
			var next civil.Date // the day after the previous supply of this drug ends
			for _, f := range fs {
				start := f.Date
				if !next.IsZero() && start.Before(next) {
					start = next
				}
				last := start.AddDays(f.DaysSupply - 1)
				next = last.AddDays(1)
				used[f.ClaimID] = true
				for d := max(start.DaysSince(r.IPSD), 0); d <= last.DaysSince(r.IPSD) && d < r.TreatmentDays; d++ {
					covered[d] = true
				}
			}
		}
		for _, c := range covered {
			if c {
				r.CoveredDays++
			}
		}
		for id := range used {
			r.ClaimIDs = append(r.ClaimIDs, id)
		}
		sort.Strings(r.ClaimIDs)
		out = append(out, r)
	}
	return out
}
