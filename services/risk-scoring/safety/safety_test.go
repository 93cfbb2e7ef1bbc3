package safety

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func d(s string) civil.Date {
	v, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// cl is a claim: "2024-02-01 metformin 30 DIABETES" or "... OPIOID 90" (MME per day).
func cl(s string) Claim {
	f := strings.Fields(s)
	var days int
	fmt.Sscan(f[2], &days)
	c := Claim{FillDate: d(f[0]), Drug: f[1], DaysSupply: days}
	for _, g := range strings.Split(f[3], ";") {
		gg, ok := ParseGroup(g)
		if !ok {
			panic(g)
		}
		c.Groups |= gg
	}
	if len(f) > 4 {
		m, err := parseMME(f[4])
		if err != nil {
			panic(err)
		}
		c.MME, c.HasMME = m, true
	}
	return c
}

func claims(lines ...string) []Claim {
	out := make([]Claim, len(lines))
	for i, l := range lines {
		out[i] = cl(l)
	}
	return out
}

// rows renders Evaluate's rows as the report does: MEASURE,1,numerator,excluded.
func rows(y int, birth string, cs []Claim, ex ...Span) string {
	var out []string
	for _, r := range Evaluate(y, d(birth), cs, ex) {
		out = append(out, fmt.Sprintf("%s,1,%d,%d", r.Measure, b2i(r.Numerator), b2i(r.Excluded)))
	}
	return strings.Join(out, " ")
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func TestTheWorkedExamplesOfSection4(t *testing.T) {
	cases := []struct {
		name   string
		birth  string
		claims []Claim
		want   string
	}{
		{"SUPD: two diabetes dates, the statin of 2023 does not count (rules 1, 2)", "1948-06-30",
			claims("2024-02-01 metformin 30 DIABETES", "2024-02-01 metformin 30 DIABETES", "2024-05-03 metformin 30 DIABETES", "2023-12-20 atorvastatin 90 STATIN"),
			"SUPD,1,0,0"},
		{"COB: 38 days of opioid and benzodiazepine together", "1950-01-01",
			claims("2024-01-10 tramadol 30 OPIOID", "2024-02-09 tramadol 30 OPIOID", "2024-02-01 lorazepam 30 BENZODIAZEPINE", "2024-03-01 lorazepam 30 BENZODIAZEPINE"),
			"COB,1,1,0"},
		{"POLY-ACH: benztropine twice on one date is one date (rule 2)", "1940-01-01",
			claims("2024-01-01 oxybutynin 30 ACH", "2024-02-15 oxybutynin 30 ACH", "2024-01-20 benztropine 30 ACH", "2024-01-20 benztropine 30 ACH"),
			"POLY-ACH,1,0,0"},
		{"POLY-CNS: three CNS drugs together on June 1..30", "1940-01-01",
			claims("2024-04-01 sertraline 90 CNS", "2024-06-30 sertraline 90 CNS", "2024-05-01 zolpidem 30 CNS", "2024-06-01 zolpidem 30 CNS",
				"2024-06-01 gabapentin 30 CNS", "2024-06-15 gabapentin 30 CNS"),
			"POLY-CNS,1,1,0"},
		{"OHD: a 90-day episode at exactly 90 MME", "1960-01-01",
			claims("2024-01-05 oxycodone 30 OPIOID 90", "2024-02-04 oxycodone 30 OPIOID 90", "2024-03-05 oxycodone 30 OPIOID 90"),
			"COB,1,0,0 OHD,1,1,0"},
		{"OHD: the third fill a day later makes 91 days at 89.01", "1960-01-01",
			claims("2024-01-05 oxycodone 30 OPIOID 90", "2024-02-04 oxycodone 30 OPIOID 90", "2024-03-06 oxycodone 30 OPIOID 90"),
			"COB,1,0,0 OHD,1,0,0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rows(2024, c.birth, c.claims); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestOverlappingClaimsOfOneDrugCoverTheUnionOfTheirDays(t *testing.T) {
	// Rule 5: oxycodone on 01-01, 01-15 and 01-29 for 30 days covers Jan 1..Feb 27, not ..Mar 30.
	y := newYear(2024, claims("2024-01-01 oxycodone 30 OPIOID", "2024-01-15 oxycodone 30 OPIOID", "2024-01-29 oxycodone 30 OPIOID"))
	cov := y.covered(y.with(Opioid))
	var days []string
	for i, on := range cov {
		if on {
			days = append(days, y.jan1.AddDays(i).String())
		}
	}
	if len(days) != 58 || days[0] != "2024-01-01" || days[len(days)-1] != "2024-02-27" {
		t.Fatalf("covered %d days, %s..%s; want 58, 2024-01-01..2024-02-27", len(days), days[0], days[len(days)-1])
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name   string
		birth  string
		claims []Claim
		ex     []Span
		want   string
	}{
		// Rule 3: age in completed years on Jan 1 of Y.
		{"rule 3: born 1984-01-01 is 40 in 2024 (SUPD)", "1984-01-01",
			claims("2024-02-01 metformin 30 DIABETES", "2024-03-01 metformin 30 DIABETES"), nil, "SUPD,1,0,0"},
		{"rule 3: born 1984-01-02 is 39 in 2024 (no SUPD)", "1984-01-02",
			claims("2024-02-01 metformin 30 DIABETES", "2024-03-01 metformin 30 DIABETES"), nil, ""},
		{"rule 3: 76 on Jan 1 ages out of SUPD", "1948-01-01",
			claims("2024-02-01 metformin 30 DIABETES", "2024-03-01 metformin 30 DIABETES"), nil, ""},
		{"rule 3: 64 on Jan 1 who turns 65 in the year stays out of POLY-ACH", "1959-06-01",
			claims("2024-07-01 oxybutynin 60 ACH", "2024-08-01 oxybutynin 60 ACH", "2024-07-01 benztropine 60 ACH", "2024-08-01 benztropine 60 ACH"), nil, ""},
		{"rule 3: 17 on Jan 1 is out of COB and OHD", "2006-06-01",
			claims("2024-01-05 oxycodone 30 OPIOID 100", "2024-02-04 oxycodone 30 OPIOID 100", "2024-03-05 oxycodone 30 OPIOID 100"), nil, ""},
		// Rule 1: claims of other years never count, and supply is cut at Dec 31.
		{"rule 1: a diabetes claim of 2023 does not make the second date", "1950-01-01",
			claims("2023-12-31 metformin 30 DIABETES", "2024-01-02 metformin 30 DIABETES"), nil, ""},
		{"rule 1: supply past Dec 31 is cut: 29 overlap days are not 30", "1950-01-01",
			claims("2024-11-01 tramadol 90 OPIOID", "2024-12-03 tramadol 90 OPIOID", "2024-12-03 lorazepam 90 BENZODIAZEPINE", "2024-12-10 lorazepam 90 BENZODIAZEPINE"), nil, "COB,1,0,0"},
		// Rule 2: two claims on one date are one date.
		{"rule 2: two opioid claims on one date are not two dates", "1950-01-01",
			claims("2024-03-01 tramadol 30 OPIOID", "2024-03-01 tramadol 30 OPIOID", "2024-03-01 lorazepam 30 BENZODIAZEPINE", "2024-03-10 lorazepam 30 BENZODIAZEPINE"), nil, ""},
		// COB gates.
		{"COB: 14 opioid days in all do not make the denominator", "1950-01-01",
			claims("2024-03-01 tramadol 7 OPIOID", "2024-03-10 tramadol 7 OPIOID"), nil, ""},
		{"COB: 15 opioid days make it", "1950-01-01",
			claims("2024-03-01 tramadol 7 OPIOID", "2024-03-10 tramadol 8 OPIOID"), nil, "COB,1,0,0"},
		{"COB: one benzodiazepine date is not the numerator, however long", "1950-01-01",
			claims("2024-01-01 tramadol 90 OPIOID", "2024-04-01 tramadol 90 OPIOID", "2024-01-01 diazepam 180 BENZODIAZEPINE"), nil, "COB,1,0,0"},
		{"COB: buprenorphine counts as an opioid (no MME needed)", "1950-01-01",
			claims("2024-01-01 buprenorphine 30 OPIOID", "2024-01-31 buprenorphine 30 OPIOID", "2024-01-01 lorazepam 30 BENZODIAZEPINE", "2024-01-31 lorazepam 30 BENZODIAZEPINE"), nil, "COB,1,1,0"},
		// POLY: only drugs with claims on two dates cover days; the count is of distinct drugs.
		{"POLY-ACH: two ACH drugs on two dates each, 30 days together", "1950-01-01",
			claims("2024-01-01 oxybutynin 30 ACH", "2024-01-31 oxybutynin 30 ACH", "2024-01-01 benztropine 30 ACH", "2024-01-31 benztropine 30 ACH"), nil, "POLY-ACH,1,1,0"},
		{"POLY-ACH: one drug on many dates is not two drugs", "1950-01-01",
			claims("2024-01-01 oxybutynin 30 ACH", "2024-01-31 oxybutynin 30 ACH", "2024-01-01 oxybutynin 30 ACH"), nil, "POLY-ACH,1,0,0"},
		{"POLY-ACH: 29 days together are not 30", "1950-01-01",
			claims("2024-01-01 oxybutynin 29 ACH", "2024-05-01 oxybutynin 10 ACH", "2024-01-01 benztropine 30 ACH", "2024-06-01 benztropine 10 ACH"), nil, "POLY-ACH,1,0,0"},
		{"rule 4: the drug is trimmed and lower-cased", "1950-01-01",
			claims("2024-01-01 Oxybutynin 30 ACH", "2024-01-31 oxybutynin 30 ACH", "2024-01-01 benztropine 30 ACH", "2024-01-31 BENZTROPINE 30 ACH"), nil, "POLY-ACH,1,1,0"},
		{"POLY-CNS: two CNS drugs are not three", "1950-01-01",
			claims("2024-01-01 sertraline 90 CNS", "2024-02-01 sertraline 90 CNS", "2024-01-01 zolpidem 90 CNS", "2024-02-01 zolpidem 90 CNS"), nil, "POLY-CNS,1,0,0"},
		// OHD gates.
		{"OHD: buprenorphine (no MME) is ignored", "1960-01-01",
			claims("2024-01-05 buprenorphine 30 OPIOID", "2024-02-04 buprenorphine 30 OPIOID"), nil, "COB,1,0,0"},
		{"OHD: IPSD after Dec 31 - 89 days is out of the denominator", "1960-01-01",
			claims("2024-10-04 morphine 45 OPIOID 200", "2024-11-18 morphine 45 OPIOID 200"), nil, "COB,1,0,0"},
		{"OHD: IPSD on Dec 31 - 89 days is in; its 90-day episode at 200 MME is high", "1960-01-01",
			claims("2024-10-03 morphine 45 OPIOID 200", "2024-11-17 morphine 45 OPIOID 200"), nil, "COB,1,0,0 OHD,1,1,0"},
		// Jan 1..Feb 29 covered twice at 100, March a gap, Apr 1..30 once: 6000 + 6000 + 3000 = 15000 >= 90 x 121.
		{"OHD: overlapping claims add up", "1960-01-01",
			claims("2024-01-01 morphine 60 OPIOID 100", "2024-01-01 oxycodone 60 OPIOID 100", "2024-04-01 morphine 30 OPIOID 100"),
			nil, "COB,1,0,0 OHD,1,1,0"},
		// 5400 + 2700 = 8100 MME: 90 a day over the 90 supplied days, but the episode is 121 days with March's gap.
		{"OHD: gap days stay in the episode", "1960-01-01",
			claims("2024-01-01 morphine 60 OPIOID 90", "2024-04-01 morphine 30 OPIOID 90"),
			nil, "COB,1,0,0 OHD,1,0,0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rows(2024, c.birth, c.claims, c.ex...); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestExclusionsApplyWhenTheirSpanTouchesTheYearAndLeaveTheNumerator(t *testing.T) {
	opioidsAndBenzos := claims("2024-01-10 tramadol 30 OPIOID", "2024-02-09 tramadol 30 OPIOID", "2024-02-01 lorazepam 30 BENZODIAZEPINE", "2024-03-01 lorazepam 30 BENZODIAZEPINE")
	diabetes := claims("2024-02-01 metformin 30 DIABETES", "2024-03-01 metformin 30 DIABETES")
	cases := []struct {
		name   string
		claims []Claim
		ex     Span
		want   string
	}{
		{"rule 6: an open span from before the year", opioidsAndBenzos, Span{Name: Cancer, Start: d("2019-05-01")}, "COB,1,1,1"},
		{"rule 6: a span ended before the year does not apply", opioidsAndBenzos, Span{Name: Cancer, Start: d("2019-05-01"), End: d("2023-12-31")}, "COB,1,1,0"},
		{"rule 6: a span starting on Dec 31 applies", opioidsAndBenzos, Span{Name: Palliative, Start: d("2024-12-31")}, "COB,1,1,1"},
		{"rule 6: a span starting after the year does not", opioidsAndBenzos, Span{Name: Hospice, Start: d("2025-01-01")}, "COB,1,1,0"},
		{"rule 6: seizure disorder does not exclude from COB", opioidsAndBenzos, Span{Name: Seizure, Start: d("2020-01-01")}, "COB,1,1,0"},
		{"rule 6: sickle cell excludes from COB", opioidsAndBenzos, Span{Name: SickleCell, Start: d("2020-01-01")}, "COB,1,1,1"},
		{"rule 6: ESRD excludes from SUPD", diabetes, Span{Name: ESRD, Start: d("2020-01-01")}, "SUPD,1,0,1"},
		{"rule 6: prediabetes excludes from SUPD", diabetes, Span{Name: Prediabetes, Start: d("2024-06-01"), End: d("2024-06-30")}, "SUPD,1,0,1"},
		{"rule 6: cancer does not exclude from SUPD", diabetes, Span{Name: Cancer, Start: d("2020-01-01")}, "SUPD,1,0,0"},
		{"rule 6: hospice excludes from every measure", diabetes, Span{Name: Hospice, Start: d("2024-06-01")}, "SUPD,1,0,1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rows(2024, "1955-01-01", c.claims, c.ex); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	r := Evaluate(2024, d("1955-01-01"), opioidsAndBenzos, []Span{{Name: Cancer, Start: d("2019-05-01")}, {Name: Palliative, Start: d("2024-02-01")}, {Name: Cancer, Start: d("2020-01-01")}})
	if len(r) != 1 || strings.Join(r[0].ExcludedBy, ",") != "CANCER,PALLIATIVE_CARE" || r[0].Problem() {
		t.Fatalf("excluded by %v (want CANCER,PALLIATIVE_CARE, once each), problem %v", r[0].ExcludedBy, r[0].Problem())
	}
}

func TestAProblemIsSUPDWithoutAStatinOrAnotherMeasuresNumerator(t *testing.T) {
	for _, c := range []struct {
		row  Row
		want bool
	}{
		{Row{Measure: SUPD}, true},
		{Row{Measure: SUPD, Numerator: true}, false},
		{Row{Measure: COB, Numerator: true}, true},
		{Row{Measure: COB}, false},
		{Row{Measure: OHD, Numerator: true, Excluded: true}, false},
		{Row{Measure: SUPD, Excluded: true}, false},
	} {
		if got := c.row.Problem(); got != c.want {
			t.Errorf("%+v: problem %v, want %v", c.row, got, c.want)
		}
	}
}

func TestWithoutABirthDateNoMeasureApplies(t *testing.T) {
	if r := Evaluate(2024, civil.Date{}, claims("2024-02-01 metformin 30 DIABETES", "2024-03-01 metformin 30 DIABETES"), nil); r != nil {
		t.Fatalf("rows %+v for an unknown age", r)
	}
}

func TestOHDComparesExactlyWithFourDecimals(t *testing.T) {
	// 90 days at 89.9999 is not 90; 45 days at 90.0001 and 45 at 89.9999 average exactly 90.
	below := claims("2024-01-01 morphine 45 OPIOID 89.9999", "2024-02-15 morphine 45 OPIOID 89.9999")
	exact := claims("2024-01-01 morphine 45 OPIOID 90.0001", "2024-02-15 morphine 45 OPIOID 89.9999")
	if got := rows(2024, "1960-01-01", below); got != "COB,1,0,0 OHD,1,0,0" {
		t.Fatalf("89.9999: %s", got)
	}
	if got := rows(2024, "1960-01-01", exact); got != "COB,1,0,0 OHD,1,1,0" {
		t.Fatalf("exactly 90 on average: %s", got)
	}
	huge := claims("2024-01-01 morphine 365 OPIOID 461168601842738", "2024-01-02 morphine 365 OPIOID 461168601842738")
	if got := rows(2024, "1960-01-01", huge); got != "COB,1,0,0 OHD,1,1,0" {
		t.Fatalf("a sum beyond int64 must not wrap: %s", got)
	}
}
