package pdc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
)

func d(m, day int) civil.Date { return civil.Date{Year: 2024, Month: time.Month(m), Day: day} }

var n int

// f is a fill of drug (an ingredient of class) on date for days.
func f(class, drug string, date civil.Date, days int) Fill {
	n++
	return Fill{ClaimID: fmt.Sprintf("c%03d", n), Date: date, DaysSupply: days, Drugs: map[string][]string{class: {drug}}}
}

func one(t *testing.T, fills []Fill, ex Exclusions, end civil.Date) Result {
	t.Helper()
	rs := Compute(fills, 2024, end, ex)
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(rs), rs)
	}
	return rs[0]
}

// The worked example of docs/domain.md section 3.
func TestWorkedExample(t *testing.T) {
	r := one(t, []Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "atorvastatin", d(1, 25), 30), f(STATIN, "atorvastatin", d(3, 10), 30)}, Exclusions{}, civil.Date{})
	if !r.InMeasure || r.TreatmentDays != 366 || r.CoveredDays != 90 || r.Rounded() != 0.2459 || r.IsAdherent() {
		t.Fatalf("%+v pdc %.4f", r, r.PDC())
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		rule    string
		fills   []Fill
		ex      Exclusions
		end     civil.Date
		in      bool
		reason  string
		days    int // treatment days
		covered int
	}{
		{"1: fills of other years do not count (no carry-in)",
			[]Fill{{ClaimID: "old", Date: civil.Date{Year: 2023, Month: 12, Day: 20}, DaysSupply: 90, Drugs: map[string][]string{STATIN: {"atorvastatin"}}},
				f(STATIN, "atorvastatin", d(7, 1), 30), f(STATIN, "atorvastatin", d(8, 1), 30)},
			Exclusions{}, civil.Date{}, true, "", 184, 60},
		{"2: two fills on the same date are not two dates",
			[]Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "rosuvastatin", d(1, 1), 30)},
			Exclusions{}, civil.Date{}, false, "fewer than two fills on different dates", 0, 0},
		{"3: IPSD is the first fill; period to Dec 31",
			[]Fill{f(RASA, "lisinopril", d(10, 2), 30), f(RASA, "lisinopril", d(11, 1), 30)},
			Exclusions{}, civil.Date{}, true, "", 91, 60},
		{"3: a period under 91 days is out of the measure",
			[]Fill{f(RASA, "lisinopril", d(10, 3), 30), f(RASA, "lisinopril", d(11, 1), 30)},
			Exclusions{}, civil.Date{}, false, "treatment period of 90 days is shorter than 91", 90, 0},
		{"3: disenrollment ends the period",
			[]Fill{f(RASA, "lisinopril", d(1, 1), 30), f(RASA, "lisinopril", d(2, 1), 30)},
			Exclusions{}, d(6, 30), true, "", 182, 60},
		{"4: same drug, same date: the longest supply counts",
			[]Fill{f(STATIN, "atorvastatin", d(1, 1), 10), f(STATIN, "atorvastatin", d(1, 1), 90), f(STATIN, "atorvastatin", d(12, 1), 31)},
			Exclusions{}, civil.Date{}, true, "", 366, 121},
		{"5: same drug overlapping: the later fill is shifted",
			[]Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "atorvastatin", d(1, 15), 30)},
			Exclusions{}, civil.Date{}, true, "", 366, 60},
		{"5: different drugs overlapping: not shifted, days counted once",
			[]Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "rosuvastatin", d(1, 15), 30)},
			Exclusions{}, civil.Date{}, true, "", 366, 44},
		{"6: supply past Dec 31 does not count",
			[]Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "atorvastatin", d(12, 20), 90)},
			Exclusions{}, civil.Date{}, true, "", 366, 42},
		{"6: a shifted supply past Dec 31 does not count either",
			[]Fill{f(STATIN, "atorvastatin", d(12, 1), 25), f(STATIN, "atorvastatin", d(12, 10), 30), f(STATIN, "atorvastatin", d(1, 1), 1)},
			Exclusions{}, civil.Date{}, true, "", 366, 32},
		{"8: insulin users leave DIAB", []Fill{f(DIAB, "metformin", d(1, 1), 30), f(DIAB, "metformin", d(2, 1), 30)},
			Exclusions{InsulinUser: true}, civil.Date{}, false, "excluded: insulin user", 0, 0},
		{"8: sacubitril/valsartan users leave RASA", []Fill{f(RASA, "valsartan", d(1, 1), 30), f(RASA, "valsartan", d(2, 1), 30)},
			Exclusions{SacubitrilUse: true}, civil.Date{}, false, "excluded: sacubitril/valsartan user", 0, 0},
		{"8: ESRD leaves RASA", []Fill{f(RASA, "lisinopril", d(1, 1), 30), f(RASA, "lisinopril", d(2, 1), 30)},
			Exclusions{ESRD: true}, civil.Date{}, false, "excluded: end-stage renal disease", 0, 0},
		{"8: ESRD leaves STATIN too (PQA 2024)", []Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "atorvastatin", d(2, 1), 30)},
			Exclusions{ESRD: true}, civil.Date{}, false, "excluded: end-stage renal disease", 0, 0},
		{"8: hospice leaves every class", []Fill{f(STATIN, "atorvastatin", d(1, 1), 30), f(STATIN, "atorvastatin", d(2, 1), 30)},
			Exclusions{Hospice: true}, civil.Date{}, false, "excluded: hospice", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r := one(t, tt.fills, tt.ex, tt.end)
			if r.InMeasure != tt.in || r.Reason != tt.reason || r.TreatmentDays != tt.days || r.CoveredDays != tt.covered {
				t.Fatalf("in %v %q days %d covered %d; want %v %q %d %d", r.InMeasure, r.Reason, r.TreatmentDays, r.CoveredDays, tt.in, tt.reason, tt.days, tt.covered)
			}
		})
	}
}

// Rule 4: lisinopril/hydrochlorothiazide is lisinopril: a fill of the combination
// and one of lisinopril alone overlapping are the same drug, so the later shifts.
func TestCombinationIsTheSameDrugAsItsIngredient(t *testing.T) {
	combo := Fill{ClaimID: "combo", Date: d(1, 1), DaysSupply: 30, Drugs: map[string][]string{RASA: {"lisinopril"}}}
	alone := f(RASA, "lisinopril", d(1, 10), 30)
	r := one(t, []Fill{combo, alone}, Exclusions{}, civil.Date{})
	if r.CoveredDays != 60 || strings.Join(r.ClaimIDs, ",") != alone.ClaimID+",combo" {
		t.Fatalf("%+v", r)
	}
}

func TestOneResultPerClassInOrder(t *testing.T) {
	rs := Compute([]Fill{f(STATIN, "simvastatin", d(1, 1), 30), f(DIAB, "metformin", d(1, 1), 30), f(RASA, "lisinopril", d(5, 1), 30)}, 2024, civil.Date{}, Exclusions{})
	var classes []string
	for _, r := range rs {
		classes = append(classes, r.Class)
	}
	if strings.Join(classes, ",") != "DIAB,RASA,STATIN" {
		t.Fatalf("classes %v", classes)
	}
	if len(Compute(nil, 2024, civil.Date{}, Exclusions{})) != 0 {
		t.Fatal("results without fills")
	}
}

func TestClassifyAndUserExclusions(t *testing.T) {
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	drugs, unknown := Classify(ref, []string{"lisinopril", "hydrochlorothiazide", "unobtainium"})
	if len(drugs) != 1 || strings.Join(drugs[RASA], ",") != "lisinopril" || strings.Join(unknown, ",") != "unobtainium" {
		t.Fatalf("drugs %v unknown %v", drugs, unknown)
	}
	ex := UserExclusions(ref, 2024, []Dispensing{
		{Date: d(3, 1), Ingredients: []string{"insulin glargine"}},
		{Date: civil.Date{Year: 2023, Month: 5, Day: 1}, Ingredients: []string{"sacubitril", "valsartan"}},
	})
	if !ex.InsulinUser || ex.SacubitrilUse {
		t.Fatalf("%+v: insulin in 2024 excludes from DIAB; sacubitril in 2023 does not count in 2024", ex)
	}
}
