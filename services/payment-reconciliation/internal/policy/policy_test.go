package policy

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
)

func TestSample(t *testing.T) {
	ps, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := ps.For("S9925", "001")
	if !ok || p.MemberMonth != membermonths.FirstDay || p.Performance.ThresholdBP != 200 || p.Performance.PMPMCents != 200 || p.Performance.LagYears != 2 {
		t.Fatalf("sample %+v", p)
	}
	if _, ok := ps.For("S9999", "001"); ok {
		t.Fatal("a plan not in the file has no policy")
	}
	if r, ok := p.PMPM(civil.Date{Year: 2019, Month: 6, Day: 15}); !ok || r.Cents != 350 {
		t.Fatalf("PMPM in 2019: %+v", r)
	}
	if _, ok := p.PMPM(civil.Date{Year: 2016, Month: 12, Day: 1}); ok {
		t.Fatal("no prospective payment before the model")
	}
	if r, ok := p.Fees.ForService("430193006", "", civil.Date{Year: 2020, Month: 1, Day: 1}); !ok || r.Service != "MEDREC" || r.FeeCents != 4000 {
		t.Fatalf("MEDREC: %+v", r)
	}
}

func TestErrorsNameLineAndField(t *testing.T) {
	base := SampleYAML()
	for _, tt := range []struct{ from, to, want string }{
		{"member_month: first_day", "member_month: mid_month", ":14: plans.S9925-001.prospective.member_month: \"mid_month\" must be first_day or any_day"},
		{"{from: 2017-01-01, cents: 350}", "{from: 2017-01-15, cents: 350}", ":16: plans.S9925-001.prospective.pmpm.0.from: 2017-01-15: a PMPM rate takes effect on the first day"},
		{"{from: 2017-01-01, cents: 350}", "{from: 2017-01-01, cents: 35000}", "prospective.pmpm.0.cents: 35000 must be 0..10000 cents"},
		{"threshold_bp: 200", "threshold_bp: 0", "performance.threshold_bp: 0 must be 1..5000"},
		{"2019: 1300000", "2019: -5", ":32: plans.S9925-001.performance.benchmark_cents_per_member_year.2019: -5 must be"},
		{"last_month: 2021-12", "last_month: 2021-13", `prospective.last_month: "2021-13" is not a month (YYYY-MM)`},
		{"last_month: 2021-12", "last_month: 2016-12", "prospective.last_month: 2016-12 is before the first rate"},
		{`codes: ["430193006"], cents: 4000`, `codes: ["430193007"], cents: 4000`, "plans.S9925-001.fees.4.codes.0:"},
		{"task_kind: CMR,", "task_kind: CMRX,", `fees.0.task_kind: "CMRX" must be`},
		{"outcome: PRESCRIBER_ACCEPTED", "outcome: PRESCRIBER_CALLED", `fees.6.outcome: "PRESCRIBER_CALLED"`},
		{"service: MEDREVIEW,", "service: TMR,", "fees.2.from: service TMR has two rules from 2017-01-01"},
		{"{service: MEDLIST, description: Documentation of current medications, codes: [\"428191000124101\"]", "{service: MEDLIST2, description: x, codes: [\"430193006\"]", "services MEDREC and MEDLIST2 both pay for code 430193006"},
		{"S9925-001:", "S9925-1:", "plans.S9925-1: a plan is named contract-pbp"},
		{"lag_years: 2", "lag_years: 2\n      escalator: 3", "field escalator not found"},
		{"from: 2017-01-01, cents: 350}", "from: 2017-02-30, cents: 350}", `"2017-02-30" is not a date`},
	} {
		if !strings.Contains(base, tt.from) {
			t.Fatalf("the sample lacks %q", tt.from)
		}
		_, err := Parse("payment.yaml", []byte(strings.Replace(base, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v\nwant %q", tt.to, err, tt.want)
		}
	}
}

// FuzzParse: any bytes give a policy or an error naming the file, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(sampleYAML)
	f.Add([]byte("version: 1\nplans: {S9925-001: {prospective: {member_month: any_day, pmpm: [{from: 2020-01-01, cents: 1}]}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, key := range ps.Plans() {
			c, pbp, _ := strings.Cut(key, "-")
			p, _ := ps.For(c, pbp)
			if r, ok := p.PMPM(civil.Date{Year: 2030, Month: 1, Day: 1}); ok && r.Cents < 0 {
				t.Fatalf("negative rate %+v", r)
			}
		}
	})
}

// The model's prospective payment ran 2017-01 to 2021-12 (CMS, 2015-09-28):
// no rate before it or after it, and a reason for each side.
func TestTheProspectivePaymentHasAStartAndAnEnd(t *testing.T) {
	ps, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.For("S9925", "001")
	for month, want := range map[string]bool{"2016-12-01": false, "2017-01-01": true, "2021-12-15": true, "2022-01-01": false} {
		d, _ := civil.Parse(month)
		if _, ok := p.PMPM(d); ok != want {
			t.Errorf("%s: paid %v, want %v", month, ok, want)
		}
		if why := p.NoPMPM(d); (why == "") != want || (!want && !strings.Contains(why, "runs 2017-01 to 2021-12")) {
			t.Errorf("%s: %q", month, why)
		}
	}
}
