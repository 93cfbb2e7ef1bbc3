// Package problems finds drug therapy problems in a medication profile
// (docs/domain.md section 4): the five PQA safety measures, computed by
// package safety exactly as the offline `emtmctl measures safety` computes
// them, interim as of the profile's date; the Beers criteria; and
// non-adherence. Each finding names the claims that prove it and the
// prescribers who can act on it. The measurement year is the as-of year.
package problems

import (
	"fmt"
	"sort"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
	"github.com/emtm/emtm/services/risk-scoring/safety"
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

// Pharmacist is the code of a medication-related problem a pharmacist
// recorded (an MTM encounter's, from a Pharmacist eCare Plan), as opposed to
// one the rules found in the claims.
const Pharmacist = "PHARMACIST"

// PharmacistKey is the key of a pharmacist-identified problem: PHCP:<the
// pharmacy's problem id> (libs/careplan.Key), stable across the versions of
// the pharmacy's care plan.
func PharmacistKey(id string) string { return "PHCP:" + id }

// Codes lists every problem code.
var Codes = []string{"SUPD", "OHD", "COB", "POLY-ACH", "POLY-CNS", "BEERS", "NONADH", Pharmacist}

// Facts are what the rules read.
type Facts struct {
	Year      int
	BirthDate civil.Date
	Fills     []profile.Fill
	// Exclusions are the beneficiary's exclusion spans (conditions, hospice).
	Exclusions []safety.Span
	PDC        []pdc.Result
	Ref        *drugref.Reference
}

// Find runs every rule; it returns the problems and the safety measures
// whose age and denominator criteria hold (problems or not).
func Find(f Facts) ([]Problem, []safety.Row) {
	claims := Claims(f.Ref, f.Fills)
	rows := safety.Evaluate(f.Year, f.BirthDate, claims, f.Exclusions)
	var out []Problem
	for _, r := range rows {
		if r.Problem() {
			out = append(out, measureProblem(r, claims))
		}
	}
	out = append(out, Beers(f)...)
	return append(out, NonAdherence(f)...), rows
}

// Drugs are a fill's ingredients as the measures see them: as profiled, or,
// for a fill stored before profiles kept them, the reference applied
// without dose or route (its MME is the fill's, on its first opioid).
func Drugs(ref *drugref.Reference, fl profile.Fill) []profile.Drug {
	if fl.Drugs != nil {
		return fl.Drugs
	}
	out := make([]profile.Drug, 0, len(fl.Ingredients))
	mme := fl.MME10 > 0
	for _, d := range ref.Dispense(fl.Ingredients, drugref.Use{}) {
		pd := profile.Drug{Name: d.Name, Groups: safety.GroupsOf(d), Beers: d.Beers}
		if mme && pd.Groups.Has(safety.Opioid) {
			pd.MME, pd.HasMME, mme = int64(fl.MME10)*safety.MMEScale/10, true, false
		}
		out = append(out, pd)
	}
	return out
}

// Claims turns fills into the measures' claims: one per ingredient.
func Claims(ref *drugref.Reference, fills []profile.Fill) []safety.Claim {
	var out []safety.Claim
	for _, fl := range fills {
		for _, d := range Drugs(ref, fl) {
			out = append(out, safety.Claim{ID: fl.ClaimID, Prescriber: fl.PrescriberNPI, FillDate: fl.Date, Drug: d.Name,
				DaysSupply: fl.DaysSupply, Groups: d.Groups, MME: d.MME, HasMME: d.HasMME})
		}
	}
	return out
}

// measureTexts are what a safety problem tells the prescriber, with its source.
var measureTexts = map[string]struct{ recommendation, source string }{
	safety.SUPD: {"Consider a moderate- or high-intensity statin, as recommended for adults 40-75 with diabetes",
		"PQA Statin Use in Persons with Diabetes (SUPD); CMS Part D Star Ratings, age on Jan 1 from MY2024 (CMS-4201-F, 2023)"},
	safety.COB: {"Avoid concurrent opioids and benzodiazepines where possible; coordinate with the other prescriber and consider naloxone",
		"PQA Concurrent Use of Opioids and Benzodiazepines (COB), CBE #3389 (2021); CMS Part D Star Ratings from MY2025"},
	safety.PolyACH: {"Reduce the anticholinergic burden: deprescribe or switch one of the drugs",
		"PQA Polypharmacy: Use of Multiple Anticholinergic Medications in Older Adults (POLY-ACH); CMS Part D Star Ratings from MY2025"},
	safety.PolyCNS: {"Review the CNS-active drugs for falls risk; taper or stop one where possible",
		"PQA Polypharmacy: Use of Multiple CNS-Active Medications in Older Adults (POLY-CNS)"},
	safety.OHD: {"Reassess the opioid dose against the CDC 2022 guideline; consider tapering and naloxone",
		"PQA/CMS Use of Opioids at High Dosage in Persons Without Cancer (OHD); MME factors: CDC 2022 and the CMS opioid MME file"},
}

func measureProblem(r safety.Row, claims []safety.Claim) Problem {
	ev := newEvidence()
	for _, i := range r.Evidence {
		ev.add(claims[i].ID, claims[i].Prescriber)
	}
	t := measureTexts[r.Measure]
	return ev.into(Problem{Code: r.Measure, Key: r.Measure, Description: r.Detail, Recommendation: t.recommendation, Source: t.source})
}

// evidence collects claims and prescribers.
type evidence struct{ claims, npis map[string]bool }

func newEvidence() *evidence { return &evidence{claims: map[string]bool{}, npis: map[string]bool{}} }

func (e *evidence) add(claimID, npi string) {
	e.claims[claimID] = true
	if npi != "" {
		e.npis[npi] = true
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

// Beers finds drugs to avoid in adults 65 and older (AGS Beers Criteria 2023,
// Table 2): a fill in the year, dispensed when the beneficiary was 65 or
// older, of an ingredient whose criterion holds for the fill's dose and route
// (doxepin above 6 mg/day, estradiol other than vaginal), unless the
// criterion is lifted by another drug in use in the year (a sulfonylurea
// beside a GLP-1 agonist or an SGLT2 inhibitor is not first- or second-line
// therapy). One problem per ingredient. Without a birth date the rule cannot apply.
func Beers(f Facts) []Problem {
	if f.BirthDate.IsZero() {
		return nil
	}
	classes := map[string]bool{}
	for _, fl := range f.Fills {
		if fl.Date.Year != f.Year {
			continue
		}
		for _, name := range fl.Ingredients {
			if ing, ok := f.Ref.Ingredient(name); ok {
				classes[ing.TherapeuticClass] = true
			}
		}
	}
	found := map[string]*evidence{}
	notes := map[string]string{}
	for _, fl := range f.Fills {
		if fl.Date.Year != f.Year || f.BirthDate.YearsOld(fl.Date) < 65 {
			continue
		}
		for _, d := range Drugs(f.Ref, fl) {
			ing, ok := f.Ref.Ingredient(d.Name)
			if !d.Beers || !ok || lifted(ing, classes) {
				continue
			}
			if found[ing.Name] == nil {
				found[ing.Name] = newEvidence()
				notes[ing.Name] = ing.BeersNote
			}
			found[ing.Name].add(fl.ClaimID, fl.PrescriberNPI)
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

// lifted reports whether a drug of one of the ingredient's lifting classes is in use.
func lifted(ing *drugref.Ingredient, classes map[string]bool) bool {
	for _, c := range ing.BeersUnlessClasses {
		if classes[c] {
			return true
		}
	}
	return false
}

// NonAdherence: a PDC class in the measure with PDC below 0.80.
// Source: CMS Part D Star Ratings D10-D12 (PQA PDC), 2024; docs/domain.md section 3.
func NonAdherence(f Facts) []Problem {
	byKey := map[string]profile.Fill{} // the PDC names fills by key (pharmacy and claim id)
	for _, fl := range f.Fills {
		byKey[fl.Key()] = fl
	}
	var out []Problem
	for _, r := range f.PDC {
		if !r.InMeasure || r.IsAdherent() {
			continue
		}
		ev := newEvidence()
		for _, key := range r.ClaimIDs {
			ev.add(byKey[key].ClaimID, byKey[key].PrescriberNPI)
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
