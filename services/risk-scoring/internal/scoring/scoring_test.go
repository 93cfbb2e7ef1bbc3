package scoring

import (
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

func d(y, m, dd int) civil.Date { return civil.Date{Year: y, Month: time.Month(m), Day: dd} }

func fill(id string, date civil.Date, days int, cents int64, ings ...string) profile.Fill {
	return profile.Fill{ClaimID: id, Date: date, DaysSupply: days, CostCents: cents, PrescriberNPI: "1234567893", Ingredients: ings}
}

func refs(t *testing.T) References {
	t.Helper()
	drugs, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	cm, err := chronic.Load()
	if err != nil {
		t.Fatal(err)
	}
	return References{Drugs: drugs, Chronic: cm}
}

func sample(t *testing.T) Policy {
	t.Helper()
	ps, err := DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	return ps.For("S9925", "001")
}

func cond(id, code string) profile.Condition {
	return profile.Condition{ID: id, System: chronic.SNOMED, Code: code, Onset: d(2010, 1, 1)}
}

func TestAssess(t *testing.T) {
	old := d(1950, 1, 1)
	eightDrugs := []profile.Fill{
		fill("a", d(2024, 1, 2), 30, 60000, "lisinopril"), fill("b", d(2024, 1, 2), 30, 100, "atorvastatin"),
		fill("c", d(2024, 1, 2), 30, 100, "metformin"), fill("e", d(2024, 1, 2), 30, 100, "amlodipine"),
		fill("f", d(2024, 1, 2), 30, 100, "hydrochlorothiazide"), fill("g", d(2024, 1, 2), 30, 100, "levothyroxine"),
		fill("h", d(2024, 1, 2), 30, 100, "omeprazole"), fill("i", d(2024, 1, 2), 30, 100, "clopidogrel"),
	}
	tests := []struct {
		name     string
		p        profile.Profile
		score    int
		tier     int
		factors  string
		problems string
		eligible bool
	}{
		{"no fills", profile.Profile{}, 0, TierLow, "", "", false},
		{"one cheap drug", profile.Profile{BirthDate: old, Fills: []profile.Fill{fill("a", d(2024, 3, 1), 30, 1000, "lisinopril")}}, 0, TierLow, "", "", false},
		// $600 in January projects to $7,200 >= $5,330 (2024): 2; glyburide at 74: BEERS 1.
		{"costly Beers drug at 74", profile.Profile{BirthDate: old, Fills: []profile.Fill{fill("a", d(2024, 1, 15), 30, 60000, "glyburide")}},
			3, TierModerate, "PROBLEM_BEERS PROJECTED_COST", "BEERS:glyburide", false},
		// Eight drugs, three core diseases, cost met: MTM eligible (3) + 8 drugs (2) + cost (2) = 7.
		{"MTM eligible with eight drugs", profile.Profile{BirthDate: old, Fills: eightDrugs,
			Conditions: []profile.Condition{cond("k1", "44054006"), cond("k2", "59621000"), cond("k3", "55822004")}},
			7, TierHigh, "MTM_ELIGIBLE DRUG_COUNT PROJECTED_COST", "", true},
		// The same with two diseases: not eligible: 2 + 2 = 4.
		{"two diseases are not enough", profile.Profile{BirthDate: old, Fills: eightDrugs,
			Conditions: []profile.Condition{cond("k1", "44054006"), cond("k2", "59621000")}},
			4, TierModerate, "DRUG_COUNT PROJECTED_COST", "", false},
		// A statin filled twice a year apart in the measurement year: PDC well below 0.80.
		{"non-adherent to a statin", profile.Profile{BirthDate: d(1970, 1, 1), Fills: []profile.Fill{
			fill("s1", d(2024, 1, 2), 30, 100, "atorvastatin"), fill("s2", d(2024, 6, 1), 30, 100, "atorvastatin")}},
			2, TierLow, "NONADHERENCE_STATIN", "NONADH:STATIN", false},
		// An inpatient stay 10 days before the last fill: 3.
		{"recent inpatient stay", profile.Profile{BirthDate: d(1970, 1, 1), Fills: []profile.Fill{fill("a", d(2024, 5, 20), 30, 100, "lisinopril")},
			Medical: []profile.MedicalEvent{{ID: "m1", Setting: profile.Inpatient, Admit: d(2024, 5, 1), Discharge: d(2024, 5, 10)},
				{ID: "m0", Setting: profile.Emergency, Admit: d(2023, 5, 1)}}},
			3, TierModerate, "RECENT_INPATIENT", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			r := Assess(&p, refs(t), sample(t))
			var codes, keys []string
			sum := 0
			for _, f := range r.Factors {
				codes = append(codes, f.Code)
				sum += f.Points
				if f.Description == "" || len(f.Evidence) == 0 {
					t.Errorf("factor %s without description or evidence", f.Code)
				}
			}
			for _, p := range r.Problems {
				keys = append(keys, p.Key)
			}
			if r.Score != tt.score || r.Tier != tt.tier || strings.Join(codes, " ") != tt.factors || strings.Join(keys, " ") != tt.problems || r.Eligibility.Eligible != tt.eligible {
				t.Fatalf("score %d tier %s factors %v problems %v eligible %v (%v); want %d %s %q %q %v",
					r.Score, TierName(r.Tier), codes, keys, r.Eligibility.Eligible, r.Eligibility.Reasons, tt.score, TierName(tt.tier), tt.factors, tt.problems, tt.eligible)
			}
			if sum != r.Score {
				t.Fatalf("factors add to %d, score is %d: a point without a factor", sum, r.Score)
			}
		})
	}
}

func TestFingerprintFollowsTierEligibilityAndProblems(t *testing.T) {
	base := Result{Score: 3, Tier: TierModerate}
	if base.Fingerprint() != (Result{Score: 5, Tier: TierModerate}).Fingerprint() {
		t.Fatal("a score change within a tier changed the fingerprint")
	}
	for name, other := range map[string]Result{
		"tier": {Tier: TierHigh},
	} {
		if other.Fingerprint() == base.Fingerprint() {
			t.Errorf("a %s change kept the fingerprint", name)
		}
	}
	elig := base
	elig.Eligibility.Eligible = true
	if elig.Fingerprint() == base.Fingerprint() {
		t.Error("an eligibility change kept the fingerprint")
	}
}

func TestPolicyFileErrorsNameLineAndField(t *testing.T) {
	good, err := DefaultPolicies()
	if err != nil {
		t.Fatalf("the built-in policy is invalid: %v", err)
	}
	if good.For("S0000", "000").Tiers.High != 6 {
		t.Fatal("the default does not apply to an unlisted plan")
	}
	base := string(defaultPolicyYAML)
	tests := []struct {
		name, from, to, want string
	}{
		{"tiers out of order", "    high: 6 ", "    high: 2 ", "tiers: need 0 < moderate < high"},
		{"more diseases than CMS allows", "    min_chronic_diseases: 3", "    min_chronic_diseases: 4", ":11: default.eligibility.min_chronic_diseases: 4: CMS allows"},
		{"more drugs than CMS allows", "    min_drugs: 8", "    min_drugs: 9", "default.eligibility.min_drugs"},
		{"unknown problem", "      BEERS: 1", "      GOUT: 1", "default.weights.problems.GOUT: unknown problem"},
		{"negative weight", "    mtm_eligible: 3 ", "    mtm_eligible: -3 ", "default.weights.mtm_eligible: points must not be negative"},
		{"unknown field", "    recent_days: 90", "    recent_days: 90\n    recent_weeks: 3", "field recent_weeks not found"},
		{"bad plan key", "plans: {}", "plans:\n  S9925:\n    tiers: {moderate: 1, high: 2}", "plans.S9925: a plan is named contract-pbp"},
		{"drug steps out of order", "{at_least: 8, points: 2}", "{at_least: 4, points: 2}", "default.weights.drug_count: step 2"},
		{"an empty contact in the letters", `    contact: "call the MTM pharmacist line at (555) 010-0100 (TTY 711), Monday to Friday, 8 a.m. to 8 p.m."`, `    contact: " "`, "default.letters.contact: one line of 1 to 300 characters is required"},
		{"a plan without letters", "plans: {}", "plans:\n  S9925-002:\n    eligibility: {min_chronic_diseases: 3, min_drugs: 8}\n    weights: {recent_days: 90}\n    tiers: {moderate: 3, high: 6}", "plans.S9925-002.letters."},
	}
	for _, tt := range tests {
		if !strings.Contains(base, tt.from) {
			t.Fatalf("%s: the sample has no %q", tt.name, tt.from)
		}
		_, err := ParsePolicies("p.yaml", []byte(strings.Replace(base, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// A year CMS has published (built in) or the sponsor has set has a cost
// threshold; a later year has none until the policy sets it, and risk-scoring
// warns at start.
func TestThePoliciesWithoutACostThresholdForAYearAreNamed(t *testing.T) {
	builtin, err := DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	set, err := ParsePolicies("p.yaml", []byte(strings.Replace(string(defaultPolicyYAML), "cost_threshold_cents: {}", "cost_threshold_cents: {2026: 170000}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ps   *Policies
		year int
		want string
	}{
		{"a year CMS published", builtin, 2024, ""},
		{"the last built-in year", builtin, 2025, ""},
		{"a year after the built-in ones", builtin, 2026, "default " + strings.Join(builtin.Plans(), " ")},
		{"a year the sponsor set", set, 2026, ""},
		{"a year nobody set", set, 2027, "default " + strings.Join(set.Plans(), " ")},
	}
	for _, tt := range tests {
		if got := strings.TrimSpace(strings.Join(tt.ps.WithoutCostThreshold(tt.year), " ")); got != strings.TrimSpace(tt.want) {
			t.Errorf("%s (%d): %q, want %q", tt.name, tt.year, got, tt.want)
		}
	}
}

func TestAPharmacistsOpenProblemIsScoredExplainedAndRaisedWithItsPrescribers(t *testing.T) {
	p := profile.Profile{MemberID: "M1", BirthDate: d(1980, 1, 1), Fills: []profile.Fill{fill("a", d(2024, 1, 2), 30, 100, "lisinopril")},
		Problems: []profile.Problem{
			{ID: "mrp-1", Code: "697958005", Description: "Misses evening doses", Date: "20240210", Encounter: "CP-1",
				Recs: []profile.ProblemRec{{NPI: "1234567893", Text: "Once daily"}, {NPI: "1234567893", Text: "Once daily"}, {NPI: "1000000004", Text: "Pill box"}}},
			{ID: "mrp-2", Code: "14760008", Resolved: true, Date: "20240210", Encounter: "CP-1"},
		}}
	r := Assess(&p, refs(t), sample(t))
	if r.AsOf != d(2024, 2, 10) {
		t.Errorf("as of %s, want the care plan's date (an open problem's encounter is a date of service)", r.AsOf)
	}
	var got []string
	for _, pr := range r.Problems {
		got = append(got, pr.Key+" "+strings.Join(pr.PrescriberNPIs, "+")+" "+pr.Recommendation)
	}
	if strings.Join(got, "|") != "PHCP:mrp-1 1234567893+1000000004 Once daily; Pill box" {
		t.Fatalf("problems %v (the resolved one is no problem)", got)
	}
	if r.Score != 2 || len(r.Factors) != 1 || r.Factors[0].Code != "PROBLEM_PHARMACIST" || !strings.Contains(r.Factors[0].Description, "Misses evening doses (SNOMED CT 697958005), recorded 2024-02-10 in encounter CP-1") {
		t.Fatalf("score %d factors %+v", r.Score, r.Factors)
	}
	if !strings.Contains(r.Fingerprint(), "PHCP:mrp-1") {
		t.Fatalf("fingerprint %s: a new pharmacist problem must emit an assessment", r.Fingerprint())
	}
}
