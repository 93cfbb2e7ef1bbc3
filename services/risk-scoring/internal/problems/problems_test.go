package problems

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
)

func d(m, day int) civil.Date { return civil.Date{Year: 2024, Month: time.Month(m), Day: day} }

var seq int

func fill(date civil.Date, days int, ings ...string) profile.Fill {
	seq++
	return profile.Fill{ClaimID: fmt.Sprintf("c%d", seq), Date: date, DaysSupply: days, PrescriberNPI: fmt.Sprintf("npi%d", seq%2), Ingredients: ings}
}

func opioid(date civil.Date, days, mme int) profile.Fill {
	f := fill(date, days, "oxycodone")
	f.MME10 = mme * 10
	return f
}

func facts(age int, fills ...profile.Fill) Facts {
	ref, _ := drugref.Load()
	var birth civil.Date
	if age >= 0 {
		birth = civil.Date{Year: 2024 - age, Month: 1, Day: 1}
	}
	return Facts{Year: 2024, BirthDate: birth, Fills: fills, Ref: ref, Categories: map[string]bool{}}
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

func TestRules(t *testing.T) {
	withCancer := facts(60, opioid(d(1, 1), 100, 120))
	withCancer.Categories[chronic.Cancer] = true
	tests := []struct {
		source string
		rule   func(Facts) []Problem
		f      Facts
		want   string
	}{
		// SUPD (PQA Statin Use in Persons with Diabetes): age 40-75, >= 2 diabetes fills, no statin.
		{"SUPD: metformin twice, no statin, age 60", SUPD, facts(60, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin")), "SUPD"},
		{"SUPD: insulin counts as a diabetes drug", SUPD, facts(60, fill(d(1, 1), 30, "insulin glargine"), fill(d(2, 1), 30, "metformin")), "SUPD"},
		{"SUPD: a statin fill in the year", SUPD, facts(60, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin"), fill(d(6, 1), 30, "atorvastatin")), ""},
		{"SUPD: one diabetes fill", SUPD, facts(60, fill(d(1, 1), 30, "metformin")), ""},
		{"SUPD: age 76 is outside 40-75", SUPD, facts(76, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin")), ""},
		{"SUPD: age 39 is outside 40-75", SUPD, facts(39, fill(d(1, 1), 30, "metformin"), fill(d(2, 1), 30, "metformin")), ""},
		// OHD (PQA Use of Opioids at High Dosage): >= 90 consecutive days averaging >= 90 MME.
		{"OHD: 100 days at 120 MME", OHD, facts(60, opioid(d(1, 1), 50, 120), opioid(d(2, 20), 50, 120)), "OHD"},
		{"OHD: 89 days at 120 MME", OHD, facts(60, opioid(d(1, 1), 89, 120)), ""},
		{"OHD: 100 days averaging 85 MME", OHD, facts(60, opioid(d(1, 1), 50, 80), opioid(d(2, 20), 50, 90)), ""},
		{"OHD: a gap breaks the episode", OHD, facts(60, opioid(d(1, 1), 60, 120), opioid(d(3, 5), 60, 120)), ""},
		{"OHD: cancer excludes", OHD, withCancer, ""},
		// COB (PQA Concurrent Use of Opioids and Benzodiazepines): >= 2 fills each, >= 30 overlap days.
		{"COB: 60 days together", COB, facts(60, fill(d(1, 1), 30, "oxycodone"), fill(d(1, 31), 30, "oxycodone"), fill(d(1, 1), 30, "alprazolam"), fill(d(1, 31), 30, "alprazolam")), "COB"},
		{"COB: 20 days together", COB, facts(60, fill(d(1, 1), 10, "oxycodone"), fill(d(1, 11), 10, "oxycodone"), fill(d(1, 1), 10, "alprazolam"), fill(d(1, 11), 10, "alprazolam")), ""},
		{"COB: one benzodiazepine fill", COB, facts(60, fill(d(1, 1), 30, "oxycodone"), fill(d(1, 31), 30, "oxycodone"), fill(d(1, 1), 90, "alprazolam")), ""},
		// POLY-ACH (PQA): >= 2 anticholinergics together >= 30 days, age >= 65.
		{"POLY-ACH: two for 60 days at 70", PolyACH, facts(70, fill(d(1, 1), 60, "diphenhydramine"), fill(d(1, 1), 60, "oxybutynin")), "POLY-ACH"},
		{"POLY-ACH: at 60", PolyACH, facts(60, fill(d(1, 1), 60, "diphenhydramine"), fill(d(1, 1), 60, "oxybutynin")), ""},
		{"POLY-ACH: 20 days together", PolyACH, facts(70, fill(d(1, 1), 20, "diphenhydramine"), fill(d(1, 1), 60, "oxybutynin")), ""},
		{"POLY-ACH: one drug twice", PolyACH, facts(70, fill(d(1, 1), 60, "diphenhydramine"), fill(d(1, 15), 60, "diphenhydramine")), ""},
		// POLY-CNS (PQA): >= 3 CNS-active drugs together >= 30 days, age >= 65.
		{"POLY-CNS: three for 40 days", PolyCNS, facts(70, fill(d(1, 1), 40, "sertraline"), fill(d(1, 1), 40, "zolpidem"), fill(d(1, 1), 40, "gabapentin")), "POLY-CNS"},
		{"POLY-CNS: two drugs", PolyCNS, facts(70, fill(d(1, 1), 40, "sertraline"), fill(d(1, 1), 40, "zolpidem")), ""},
		{"POLY-CNS: unknown age", PolyCNS, facts(-1, fill(d(1, 1), 40, "sertraline"), fill(d(1, 1), 40, "zolpidem"), fill(d(1, 1), 40, "gabapentin")), ""},
		// BEERS (AGS 2023 Table 2): a drug to avoid, dispensed at 65 or older.
		{"BEERS: glyburide at 74", Beers, facts(74, fill(d(3, 1), 30, "glyburide")), "BEERS:glyburide"},
		{"BEERS: glyburide at 60", Beers, facts(60, fill(d(3, 1), 30, "glyburide")), ""},
		{"BEERS: one finding per drug", Beers, facts(74, fill(d(3, 1), 30, "zolpidem"), fill(d(4, 1), 30, "zolpidem"), fill(d(4, 1), 30, "diphenhydramine")), "BEERS:diphenhydramine,BEERS:zolpidem"},
		{"BEERS: warfarin is conditional (first-line use) and not flagged", Beers, facts(74, fill(d(3, 1), 30, "warfarin")), ""},
		{"BEERS: no birth date", Beers, facts(-1, fill(d(3, 1), 30, "glyburide")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			if got := keys(tt.rule(tt.f)); got != tt.want {
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

func TestFindRunsEveryRule(t *testing.T) {
	f := facts(70, fill(d(1, 1), 60, "diphenhydramine"), fill(d(1, 1), 60, "oxybutynin"))
	if got := keys(Find(f)); got != "POLY-ACH,BEERS:diphenhydramine,BEERS:oxybutynin" {
		t.Fatalf("got %q", got)
	}
}

// MME per day = strength x units a day x CDC 2022 factor.
func TestMMEPerDay(t *testing.T) {
	ref, _ := drugref.Load()
	tests := []struct {
		ings      []string
		desc      string
		strength  string
		qty, days int
		want      float64
	}{
		{[]string{"acetaminophen", "oxycodone"}, "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet", "", 60, 30, 30}, // 10 x 2 x 1.5
		{[]string{"tramadol"}, "tramadol hydrochloride 50 MG Oral Tablet", "", 120, 30, 40},                                          // 50 x 4 x 0.2
		{[]string{"fentanyl"}, "72 HR Fentanyl 0.025 MG/HR Transdermal System", "", 10, 30, 60},                                      // 25 mcg/hr x 2.4
		{[]string{"hydromorphone"}, "", "2 MG", 30, 30, 10},                                                                          // strength field, 2 x 1 x 5
		{[]string{"buprenorphine"}, "buprenorphine 8 MG Sublingual Tablet", "", 30, 30, 0},                                           // no factor
		{[]string{"atorvastatin"}, "atorvastatin 20 MG Oral Tablet", "", 30, 30, 0},
		{[]string{"oxycodone"}, "Oxycodone", "", 30, 30, 0}, // no strength known
	}
	for _, tt := range tests {
		got := MMEPerDay(ref, tt.ings, tt.desc, tt.strength, int64(tt.qty)*1000, tt.days)
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%v %q: %.2f MME/day, want %.2f", tt.ings, tt.desc, got, tt.want)
		}
	}
}
