package eligibility

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
)

func cats(cs ...string) map[string]bool {
	m := map[string]bool{}
	for _, c := range cs {
		m[c] = true
	}
	return m
}

var eight = []string{"a", "b", "c", "d", "e", "f", "g", "h"}

func TestDecide(t *testing.T) {
	march := civil.Date{Year: 2024, Month: 3, Day: 15}
	three := cats(chronic.Diabetes, chronic.Hypertension, chronic.Dyslipidemia)
	tests := []struct {
		name     string
		c        Criteria
		f        Facts
		eligible bool
		reason   string // a reason that must appear
	}{
		// 42 CFR 423.153(d)(2): all three criteria, 2024 threshold $5,330.
		{"all three met", Defaults(2024), Facts{AsOf: march, Categories: three, Drugs: eight, YTDCostCents: 140000}, true,
			"projected $5600.00 = year-to-date $1400.00 / 3 month(s) x 12; threshold for 2024 $5330.00: met"},
		{"cost below the 2024 threshold", Defaults(2024), Facts{AsOf: march, Categories: three, Drugs: eight, YTDCostCents: 130000}, false, "$5200.00"},
		{"two diseases when three are required", Defaults(2024), Facts{AsOf: march, Categories: cats(chronic.Diabetes, chronic.Hypertension), Drugs: eight, YTDCostCents: 500000}, false,
			"chronic diseases: 2 of the 2024 core list (diabetes, hypertension); 3 required: not met"},
		{"seven drugs when eight are required", Defaults(2024), Facts{AsOf: march, Categories: three, Drugs: eight[:7], YTDCostCents: 500000}, false, "7 distinct drugs"},
		// 2025 rule changes: HIV/AIDS joins the core list; threshold $1,623.
		{"HIV/AIDS counts from 2025", Defaults(2025), Facts{AsOf: civil.Date{Year: 2025, Month: 6, Day: 1}, Categories: cats(chronic.HIVAIDS, chronic.Diabetes, chronic.Hypertension), Drugs: eight, YTDCostCents: 90000}, true,
			"threshold for 2025 $1623.00: met"},
		{"HIV/AIDS does not count before 2025", Defaults(2024), Facts{AsOf: march, Categories: cats(chronic.HIVAIDS, chronic.Diabetes, chronic.Hypertension), Drugs: eight, YTDCostCents: 500000}, false,
			"chronic diseases: 2 of the 2024 core list"},
		{"no threshold configured for 2026", Defaults(2026), Facts{AsOf: civil.Date{Year: 2026, Month: 1, Day: 5}, Categories: three, Drugs: eight, YTDCostCents: 900000}, false,
			"no MTM cost threshold is configured for 2026"},
		{"a sponsor requiring two diseases and two drugs", Criteria{Year: 2024, MinChronic: 2, MinDrugs: 2, CostThresholdCents: 533000, CoreDiseases: chronic.CoreDiseases(2024)},
			Facts{AsOf: march, Categories: cats(chronic.Diabetes, chronic.Hypertension), Drugs: eight[:2], YTDCostCents: 140000}, true, "2 required: met"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := Decide(tt.c, tt.f)
			if dec.Eligible != tt.eligible || !strings.Contains(strings.Join(dec.Reasons, "\n"), tt.reason) || len(dec.Reasons) != 3 {
				t.Fatalf("eligible %v, reasons:\n%s\nwant %v and %q", dec.Eligible, strings.Join(dec.Reasons, "\n"), tt.eligible, tt.reason)
			}
		})
	}
}

func TestValidateAgainstCMSLimits(t *testing.T) {
	for _, tt := range []struct {
		c   Criteria
		bad bool
	}{
		{Defaults(2024), false}, {Defaults(2025), false},
		{Criteria{Year: 2025, MinChronic: 4, MinDrugs: 8}, true},
		{Criteria{Year: 2025, MinChronic: 3, MinDrugs: 9}, true},
		{Criteria{Year: 2024, MinChronic: 1, MinDrugs: 8}, true}, // before 2025 a sponsor required 2 or 3
		{Criteria{Year: 2025, MinChronic: 1, MinDrugs: 1}, false},
	} {
		if err := tt.c.Validate(); (err != nil) != tt.bad {
			t.Errorf("%+v: %v", tt.c, err)
		}
	}
}
