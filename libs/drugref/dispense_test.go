package drugref

import (
	"strconv"
	"strings"
	"testing"
)

// mme renders Dispensed.MME as a decimal ("" when none is known).
func mme(d Dispensed) string {
	if !d.HasMME {
		return ""
	}
	return strconv.FormatFloat(float64(d.MME)/MMEScale, 'f', -1, 64)
}

// MME per day = strength x units a day x the factor of the drug's form (mme.csv).
func TestMMEPerDayByTheFactorOfTheForm(t *testing.T) {
	ref, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ings []string
		use  Use
		want string
	}{
		{"two ingredients: the opioid's segment (10 x 2 x 1.5)", []string{"acetaminophen", "oxycodone"},
			Use{Description: "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet", QuantityMilli: 60000, DaysSupply: 30}, "30"},
		{"tramadol, CDC 2022 factor 0.2 (50 x 4 x 0.2)", []string{"tramadol"},
			Use{Description: "tramadol hydrochloride 50 MG Oral Tablet", QuantityMilli: 120000, DaysSupply: 30}, "40"},
		{"transdermal fentanyl per mcg/hr (25 x 2.4)", []string{"fentanyl"},
			Use{Description: "72 HR Fentanyl 0.025 MG/HR Transdermal System", QuantityMilli: 10000, DaysSupply: 30}, "60"},
		{"fentanyl buccal tablet 100 mcg four times a day: per mcg, 0.13 (100 x 4 x 0.13)", []string{"fentanyl"},
			Use{Description: "fentanyl 100 MCG Buccal Tablet", QuantityMilli: 120000, DaysSupply: 30}, "52"},
		{"fentanyl sublingual tablet 0.1 mg twice a day (100 mcg x 2 x 0.13)", []string{"fentanyl"},
			Use{Description: "Fentanyl 0.1 MG Sublingual Tablet", QuantityMilli: 60000, DaysSupply: 30}, "26"},
		{"fentanyl buccal film 200 mcg twice a day: film, 0.18", []string{"fentanyl"},
			Use{Description: "fentanyl 200 MCG Buccal Film", QuantityMilli: 60000, DaysSupply: 30}, "72"},
		{"fentanyl sublingual spray 400 mcg: an oral spray, 0.18", []string{"fentanyl"},
			Use{Description: "fentanyl 400 MCG/ACTUAT Sublingual Spray", QuantityMilli: 30000, DaysSupply: 30}, "72"},
		{"fentanyl nasal spray 100 mcg four times a day: 0.16", []string{"fentanyl"},
			Use{Description: "fentanyl 100 MCG/ACTUAT Nasal Spray", QuantityMilli: 120000, DaysSupply: 30}, "64"},
		{"fentanyl injection: no factor", []string{"fentanyl"},
			Use{Description: "Fentanyl 0.05 MG/ML Injectable Solution", QuantityMilli: 2000, DaysSupply: 1}, ""},
		{"the strength field of a single-ingredient drug (2 x 1 x 5)", []string{"hydromorphone"},
			Use{Strength: "2 MG", QuantityMilli: 30000, DaysSupply: 30}, "10"},
		{"meperidine, CMS file 0.1 (50 x 6 x 0.1)", []string{"meperidine"},
			Use{Description: "Meperidine Hydrochloride 50 MG Oral Tablet", QuantityMilli: 180000, DaysSupply: 30}, "30"},
		{"levorphanol, CMS file 11 (2 x 3 x 11)", []string{"levorphanol"},
			Use{Description: "levorphanol tartrate 2 MG Oral Tablet", QuantityMilli: 90000, DaysSupply: 30}, "66"},
		{"pentazocine, CMS file 0.37 (50 x 4 x 0.37)", []string{"pentazocine"},
			Use{Description: "pentazocine 50 MG / naloxone 0.5 MG Oral Tablet", QuantityMilli: 120000, DaysSupply: 30}, "74"},
		{"rounded half up to four decimals (5 x 1/3 x 0.15)", []string{"codeine"},
			Use{Description: "codeine 5 MG Oral Tablet", QuantityMilli: 10000, DaysSupply: 30}, "0.25"},
		{"buprenorphine has no factor", []string{"buprenorphine"},
			Use{Description: "buprenorphine 8 MG Sublingual Tablet", QuantityMilli: 30000, DaysSupply: 30}, ""},
		{"no strength known", []string{"oxycodone"}, Use{Description: "Oxycodone", QuantityMilli: 30000, DaysSupply: 30}, ""},
		{"no quantity known", []string{"oxycodone"}, Use{Description: "oxycodone 5 MG Oral Tablet", DaysSupply: 30}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := ref.Dispense(tt.ings, tt.use)
			got := ""
			for _, d := range ds {
				if d.HasMME {
					got = mme(d)
				}
			}
			if got != tt.want {
				t.Fatalf("MME/day %q, want %q (%+v)", got, tt.want, ds)
			}
		})
	}
}

func TestFactorsNotInCDC2022AreLabelledAsTheCMSFile(t *testing.T) {
	ref, _ := Load()
	for _, name := range []string{"meperidine", "levorphanol", "pentazocine", "fentanyl"} {
		ing, _ := ref.Ingredient(name)
		for _, f := range ing.MME {
			cdc := strings.HasPrefix(f.Source, "CDC 2022")
			if want := name == "fentanyl" && f.Form == "transdermal"; cdc != want {
				t.Errorf("%s %q: source %q", name, f.Form, f.Source)
			}
			if !cdc && !strings.Contains(f.Source, "CMS opioid MME file") {
				t.Errorf("%s %q: source %q does not name the CMS file", name, f.Form, f.Source)
			}
		}
	}
}

func TestConditionalFlagsFollowDoseRouteAndTheAGS2023Criteria(t *testing.T) {
	ref, _ := Load()
	one := func(ing string, u Use) Dispensed { return ref.Dispense([]string{ing}, u)[0] }
	// Doxepin counts for POLY-ACH and Beers only above 6 mg/day (PQA list note; AGS 2023).
	low := one("doxepin", Use{Description: "Doxepin 3 MG Oral Tablet", QuantityMilli: 30000, DaysSupply: 30})
	six := one("doxepin", Use{Description: "Doxepin 3 MG Oral Tablet", QuantityMilli: 60000, DaysSupply: 30})
	high := one("doxepin", Use{Description: "Doxepin Hydrochloride 25 MG Oral Capsule", QuantityMilli: 30000, DaysSupply: 30})
	unknown := one("doxepin", Use{Description: "Doxepin Oral Capsule", QuantityMilli: 30000, DaysSupply: 30})
	if low.Anticholinergic || low.Beers || six.Anticholinergic || six.Beers || !strings.Contains(six.Note, "6.00 mg/day is not above 6") {
		t.Errorf("doxepin at 3 and 6 mg/day: %+v %+v", low, six)
	}
	if !high.Anticholinergic || !high.Beers {
		t.Errorf("doxepin at 25 mg/day: %+v", high)
	}
	if unknown.Anticholinergic || unknown.Beers || !strings.Contains(unknown.Note, "does not show the daily dose") {
		t.Errorf("doxepin of unknown dose: %+v", unknown)
	}
	// Estradiol: oral and transdermal are Beers criteria, vaginal is not.
	for desc, want := range map[string]bool{
		"Estradiol 1 MG Oral Tablet": true, "Estradiol 0.05 MG/DAY Transdermal System": true,
		"Estradiol 0.1 MG/GM Vaginal Cream": false, "estradiol 0.0075 MG/HR Vaginal Ring": false, "Estradiol 10 MCG Vaginal Insert": false,
	} {
		if got := one("estradiol", Use{Description: desc, QuantityMilli: 30000, DaysSupply: 30}); got.Beers != want {
			t.Errorf("%s: beers %v, want %v (%s)", desc, got.Beers, want, got.Note)
		}
	}
	// Urinary antimuscarinics stay anticholinergic (POLY-ACH) but are no Beers Table 2 criterion.
	for _, name := range []string{"oxybutynin", "tolterodine", "solifenacin", "darifenacin", "trospium", "fesoterodine"} {
		ing, _ := ref.Ingredient(name)
		if ing.Beers || !ing.Anticholinergic || !strings.Contains(ing.Source, "AGS Beers 2023") {
			t.Errorf("%s: beers %v, anticholinergic %v, source %q", name, ing.Beers, ing.Anticholinergic, ing.Source)
		}
	}
	// Sulfonylureas, all of them, with the 2023 wording; a GLP-1 agonist or SGLT2 inhibitor lifts the flag.
	for _, name := range []string{"glipizide", "glyburide", "glimepiride", "tolbutamide"} {
		ing, _ := ref.Ingredient(name)
		if !ing.Beers || !strings.Contains(ing.BeersNote, "first- or second-line") || !strings.Contains(ing.Source, "AGS Beers 2023") ||
			strings.Join(ing.BeersUnlessClasses, ";") != "glp-1 agonist;gip/glp-1 agonist;sglt2 inhibitor" {
			t.Errorf("%s: %+v", name, ing)
		}
	}
}

func TestRouteOf(t *testing.T) {
	for desc, want := range map[string]string{
		"fentanyl 200 MCG Buccal Film": "film", "fentanyl 400 MCG/ACTUAT Sublingual Spray": "oral spray",
		"Fentanyl 0.1 MG Sublingual Tablet": "sublingual", "fentanyl 100 MCG Buccal Tablet": "buccal",
		"fentanyl 100 MCG/ACTUAT Nasal Spray": "nasal spray", "72 HR Fentanyl 0.025 MG/HR Transdermal System": "transdermal",
		"estradiol 0.0075 MG/HR Vaginal Ring": "vaginal", "Oxycodone 5 MG Oral Tablet": "",
	} {
		if got := RouteOf(desc, ""); got != want {
			t.Errorf("%s: %q, want %q", desc, got, want)
		}
	}
}

// FuzzDispense: any description, strength, quantity and days supply give
// flags and an MME that is never negative, without a panic.
func FuzzDispense(f *testing.F) {
	f.Add("fentanyl 100 MCG Buccal Tablet", "", int64(120000), 30)
	f.Add("Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet", "10 MG", int64(60000), 30)
	f.Add("Doxepin 3 MG Oral Tablet", "3 MG", int64(-5), 0)
	f.Add("72 HR Fentanyl 99999999999999999999.5 MG/HR Transdermal System", "", int64(1), 1)
	ref, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, desc, strength string, qty int64, days int) {
		ings := ref.ParseDescription(desc)
		if len(ings) == 0 {
			ings = []string{"oxycodone", "doxepin"}
		}
		for _, d := range ref.Dispense(ings, Use{Description: desc, Strength: strength, QuantityMilli: qty, DaysSupply: days}) {
			if d.MME < 0 || (!d.HasMME && d.MME != 0) {
				t.Fatalf("%q %q %d %d: %+v", desc, strength, qty, days, d)
			}
		}
	})
}
