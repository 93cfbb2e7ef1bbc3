package problems

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
	"github.com/emtm/emtm/services/risk-scoring/safety"
)

func d(m, day int) civil.Date { return civil.Date{Year: 2024, Month: time.Month(m), Day: day} }

var seq int

// fill is a fill stored before profiles kept their drugs (the reference applies without dose or route).
func fill(date civil.Date, days int, ings ...string) profile.Fill {
	seq++
	return profile.Fill{ClaimID: fmt.Sprintf("c%d", seq), Date: date, DaysSupply: days, PrescriberNPI: fmt.Sprintf("npi%d", seq%2), Ingredients: ings}
}

// dispensed is a fill profiled as risk-scoring profiles a claim: the reference applied to its description and quantity.
func dispensed(date civil.Date, days int, desc string, qty int64, ings ...string) profile.Fill {
	f := fill(date, days, ings...)
	ref, _ := drugref.Load()
	f.Drugs = []profile.Drug{}
	for _, x := range ref.Dispense(ings, drugref.Use{Description: desc, QuantityMilli: qty * 1000, DaysSupply: days}) {
		f.Drugs = append(f.Drugs, profile.Drug{Name: x.Name, Groups: safety.GroupsOf(x), Beers: x.Beers, MME: x.MME, HasMME: x.HasMME})
	}
	return f
}

func facts(age int, fills ...profile.Fill) Facts {
	ref, _ := drugref.Load()
	var birth civil.Date
	if age >= 0 {
		birth = civil.Date{Year: 2024 - age, Month: 1, Day: 1}
	}
	return Facts{Year: 2024, BirthDate: birth, Fills: fills, Ref: ref}
}

func keys(ps []Problem) string {
	var k []string
	for _, p := range ps {
		k = append(k, p.Key)
		if len(p.ClaimIDs) == 0 || len(p.PrescriberNPIs) == 0 || p.Source == "" || p.Description == "" || p.Recommendation == "" {
			panic(fmt.Sprintf("incomplete finding %+v", p))
		}
	}
	return strings.Join(k, ",")
}

func found(f Facts) string {
	ps, _ := Find(f)
	return keys(ps)
}

// The safety measures are package safety's (tested rule by rule there); these
// tests show the live path: fills become the measures' claims with the groups
// the drug reference gives each ingredient for its dose and route.
func TestTheLiveProfileFeedsTheSafetyMeasures(t *testing.T) {
	oxy := func(date civil.Date) profile.Fill {
		return dispensed(date, 30, "Oxycodone Hydrochloride 30 MG Oral Tablet", 60, "oxycodone") // 30 x 2 x 1.5 = 90 MME/day
	}
	withCancer := facts(60, oxy(d(1, 5)), oxy(d(2, 4)), oxy(d(3, 5)))
	withCancer.Exclusions = []safety.Span{{Name: safety.Cancer, Start: civil.Date{Year: 2020, Month: 3, Day: 1}}}
	inHospice := facts(60, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin"))
	inHospice.Exclusions = []safety.Span{{Name: safety.Hospice, Start: d(6, 1)}}
	tests := []struct {
		name string
		f    Facts
		want string
	}{
		{"SUPD: metformin on two dates, no statin, 60", facts(60, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin")), "SUPD"},
		{"SUPD: insulin counts as a diabetes drug", facts(60, fill(d(1, 1), 30, "insulin glargine"), fill(d(2, 1), 30, "metformin")), "SUPD"},
		{"SUPD: a statin in the year", facts(60, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin"), fill(d(6, 1), 30, "atorvastatin")), ""},
		{"SUPD: a combination product counts through each ingredient", facts(60, fill(d(1, 1), 30, "metformin", "sitagliptin"), fill(d(1, 1), 30, "metformin")), ""},
		{"SUPD: hospice excludes", inHospice, ""},
		{"OHD: 90 MME a day for 90 days, from the claims' strength and quantity", facts(60, oxy(d(1, 5)), oxy(d(2, 4)), oxy(d(3, 5))), "OHD"},
		{"OHD: cancer excludes (and COB's numerator is 0)", withCancer, ""},
		{"COB: an opioid and a benzodiazepine 60 days together", facts(60, fill(d(1, 1), 30, "oxycodone"), fill(d(1, 31), 30, "oxycodone"), fill(d(1, 1), 30, "alprazolam"), fill(d(1, 31), 30, "alprazolam")), "COB"}, // 60: no Beers
		{"POLY-ACH: oxybutynin and diphenhydramine, two dates each, 70", facts(70, fill(d(1, 1), 60, "diphenhydramine"), fill(d(2, 1), 60, "diphenhydramine"), fill(d(1, 1), 60, "oxybutynin"), fill(d(2, 1), 60, "oxybutynin")),
			"POLY-ACH,BEERS:diphenhydramine"},
		{"POLY-ACH: doxepin at 3 mg/day is no anticholinergic", facts(70, fill(d(1, 1), 60, "oxybutynin"), fill(d(2, 1), 60, "oxybutynin"),
			dispensed(d(1, 1), 60, "Doxepin 3 MG Oral Tablet", 60, "doxepin"), dispensed(d(2, 1), 60, "Doxepin 3 MG Oral Tablet", 60, "doxepin")), ""},
		{"POLY-ACH: doxepin at 50 mg/day is", facts(70, fill(d(1, 1), 60, "oxybutynin"), fill(d(2, 1), 60, "oxybutynin"),
			dispensed(d(1, 1), 60, "Doxepin Hydrochloride 25 MG Oral Capsule", 120, "doxepin"), dispensed(d(2, 1), 60, "Doxepin Hydrochloride 25 MG Oral Capsule", 120, "doxepin")),
			"POLY-ACH,BEERS:doxepin"},
		{"POLY-CNS: three CNS drugs, two dates each, 40 days together", facts(70, fill(d(1, 1), 40, "sertraline"), fill(d(1, 20), 40, "sertraline"), fill(d(1, 1), 40, "zolpidem"),
			fill(d(1, 20), 40, "zolpidem"), fill(d(1, 1), 40, "gabapentin"), fill(d(1, 20), 40, "gabapentin")), "POLY-CNS,BEERS:zolpidem"},
		{"unknown age: no measure", facts(-1, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := found(tt.f); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, rows := Find(withCancer)
	if len(rows) != 2 || rows[1].Measure != safety.OHD || !rows[1].Numerator || strings.Join(rows[1].ExcludedBy, ",") != "CANCER" {
		t.Fatalf("rows %+v: OHD's numerator holds and CANCER excludes it", rows)
	}
}

// BEERS (AGS Beers Criteria 2023, Table 2): a drug to avoid, dispensed at 65 or older, for this dose and route.
func TestBeersFollowsTheAGS2023CriteriaForTheDoseAndRoute(t *testing.T) {
	tests := []struct {
		name string
		f    Facts
		want string
	}{
		{"glyburide at 74", facts(74, fill(d(3, 1), 30, "glyburide")), "BEERS:glyburide"},
		{"glipizide at 74: every sulfonylurea since 2023", facts(74, fill(d(3, 1), 30, "glipizide")), "BEERS:glipizide"},
		{"a sulfonylurea beside an SGLT2 inhibitor is not first- or second-line therapy", facts(74, fill(d(3, 1), 30, "glimepiride"), fill(d(5, 1), 30, "empagliflozin")), ""},
		{"a sulfonylurea beside a GLP-1 agonist neither", facts(74, fill(d(3, 1), 30, "glipizide"), fill(d(8, 1), 30, "semaglutide")), ""},
		{"a sulfonylurea beside metformin only is second-line: flagged", facts(74, fill(d(3, 1), 30, "glipizide"), fill(d(3, 1), 30, "metformin")), "BEERS:glipizide"},
		{"glyburide at 60", facts(60, fill(d(3, 1), 30, "glyburide")), ""},
		{"one finding per drug", facts(74, fill(d(3, 1), 30, "zolpidem"), fill(d(4, 1), 30, "zolpidem"), fill(d(4, 1), 30, "diphenhydramine")), "BEERS:diphenhydramine,BEERS:zolpidem"},
		{"warfarin is conditional (first-line use) and not flagged", facts(74, fill(d(3, 1), 30, "warfarin")), ""},
		{"urinary antimuscarinics are no Table 2 criterion", facts(74, fill(d(3, 1), 30, "oxybutynin"), fill(d(3, 1), 30, "solifenacin")), ""},
		{"estradiol by mouth", facts(74, dispensed(d(3, 1), 30, "Estradiol 1 MG Oral Tablet", 30, "estradiol")), "BEERS:estradiol"},
		{"estradiol vaginal cream", facts(74, dispensed(d(3, 1), 30, "Estradiol 0.1 MG/GM Vaginal Cream", 42, "estradiol")), ""},
		{"doxepin 3 mg/day", facts(74, dispensed(d(3, 1), 30, "Doxepin 3 MG Oral Tablet", 30, "doxepin")), ""},
		{"doxepin 25 mg/day", facts(74, dispensed(d(3, 1), 30, "Doxepin Hydrochloride 25 MG Oral Capsule", 30, "doxepin")), "BEERS:doxepin"},
		{"no birth date", facts(-1, fill(d(3, 1), 30, "glyburide")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(Beers(tt.f)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// NONADH (CMS Star D10-D12): a class in the measure with PDC < 0.80.
func TestNonAdherence(t *testing.T) {
	a, b, c := fill(d(1, 1), 30, "atorvastatin"), fill(d(3, 1), 30, "atorvastatin"), fill(d(1, 1), 30, "lisinopril")
	f := facts(70, a, b, c)
	f.PDC = []pdc.Result{
		{Class: pdc.STATIN, InMeasure: true, TreatmentDays: 120, CoveredDays: 60, ClaimIDs: []string{a.ClaimID, b.ClaimID}},
		{Class: pdc.RASA, InMeasure: true, TreatmentDays: 100, CoveredDays: 85, ClaimIDs: []string{c.ClaimID}},
		{Class: pdc.DIAB, InMeasure: false, Reason: "fewer than two fills on different dates"},
	}
	ps := NonAdherence(f)
	if keys(ps) != "NONADH:STATIN" || len(ps[0].ClaimIDs) != 2 {
		t.Fatalf("%+v", ps)
	}
}

func TestALegacyFillKeepsItsMMEOnItsOpioid(t *testing.T) {
	ref, _ := drugref.Load()
	f := fill(d(1, 1), 30, "acetaminophen", "oxycodone")
	f.MME10 = 905
	drugs := Drugs(ref, f)
	if len(drugs) != 2 || drugs[0].HasMME || !drugs[1].HasMME || drugs[1].MME != 905000 || !drugs[1].Groups.Has(safety.Opioid|safety.CNS) {
		t.Fatalf("%+v", drugs)
	}
}
