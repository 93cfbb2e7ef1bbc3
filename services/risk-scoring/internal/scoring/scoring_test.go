package scoring

import (
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

func d(y, m, dd int) civil.Date { return civil.Date{Year: y, Month: time.Month(m), Day: dd} }

func fill(id string, date civil.Date, cents int64, ings ...string) profile.Fill {
	return profile.Fill{ClaimID: id, Date: date, DaysSupply: 30, CostCents: cents, PrescriberNPI: "1234567893", Ingredients: ings}
}

func TestAssess(t *testing.T) {
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	old := d(1950, 1, 1)
	tests := []struct {
		name     string
		p        profile.Profile
		score    int
		tier     int
		factors  string
		problems string
	}{
		{"no fills", profile.Profile{}, 0, TierLow, "", ""},
		{"one cheap drug", profile.Profile{BirthDate: old, Fills: []profile.Fill{fill("a", d(2024, 3, 1), 1000, "lisinopril")}}, 0, TierLow, "", ""},
		// $600 in January projects to $7,200 >= $5,330 (2024): 2 points; glyburide at 74: BEERS, 2 points.
		{"costly Beers drug at 74", profile.Profile{BirthDate: old, Fills: []profile.Fill{fill("a", d(2024, 1, 15), 60000, "glyburide")}},
			4, TierModerate, "PROJECTED_COST PROBLEM_BEERS", "BEERS:glyburide"},
		// The same fill at 60: no Beers problem.
		{"Beers drug at 60", profile.Profile{BirthDate: d(1964, 1, 1), Fills: []profile.Fill{fill("a", d(2024, 1, 15), 60000, "glyburide")}},
			2, TierModerate, "PROJECTED_COST", ""},
		// $600 by June projects to $1,200: below the 2024 threshold.
		{"cost spread over the year", profile.Profile{Fills: []profile.Fill{fill("a", d(2024, 6, 15), 60000, "glyburide")}}, 0, TierLow, "", ""},
		// No threshold configured for 2010: the cost factor does not apply.
		{"year without a threshold", profile.Profile{Fills: []profile.Fill{fill("a", d(2010, 1, 15), 900000, "lisinopril")}}, 0, TierLow, "", ""},
		{"eight drugs, two Beers drugs at 74", profile.Profile{BirthDate: old, Fills: []profile.Fill{
			fill("a", d(2024, 2, 1), 100, "lisinopril", "hydrochlorothiazide"), fill("b", d(2024, 2, 1), 100, "atorvastatin"),
			fill("c", d(2024, 2, 1), 100, "metformin"), fill("d", d(2024, 2, 1), 100, "amlodipine"),
			fill("e", d(2024, 2, 1), 100, "diphenhydramine"), fill("f", d(2024, 2, 1), 100, "zolpidem"),
			fill("g", d(2023, 3, 1), 100, "aspirin"),  // inside the 365-day window
			fill("h", d(2023, 1, 1), 100, "warfarin"), // outside it
		}}, 6, TierHigh, "DRUG_COUNT PROBLEM_BEERS PROBLEM_BEERS", "BEERS:diphenhydramine BEERS:zolpidem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			r := Assess(&p, ref, DefaultPolicy())
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
				if len(p.ClaimIDs) == 0 || len(p.PrescriberNPIs) == 0 || p.Source == "" {
					t.Errorf("problem %s without claims, prescribers or source", p.Key)
				}
			}
			if r.Score != tt.score || r.Tier != tt.tier || strings.Join(codes, " ") != tt.factors || strings.Join(keys, " ") != tt.problems {
				t.Fatalf("score %d tier %s factors %v problems %v; want %d %s %q %q",
					r.Score, TierName(r.Tier), codes, keys, tt.score, TierName(tt.tier), tt.factors, tt.problems)
			}
			if sum != r.Score {
				t.Fatalf("factors add to %d, score is %d: a point without a factor", sum, r.Score)
			}
		})
	}
}

func TestFingerprintIgnoresScoreWithinTier(t *testing.T) {
	a := Result{Score: 2, Tier: TierModerate}
	b := Result{Score: 4, Tier: TierModerate}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("a score change within a tier changed the fingerprint")
	}
	if (Result{Tier: TierHigh}).Fingerprint() == a.Fingerprint() {
		t.Fatal("a tier change kept the fingerprint")
	}
}
