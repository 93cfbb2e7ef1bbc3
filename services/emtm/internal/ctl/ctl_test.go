package ctl

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

func run(args ...string) (string, error) {
	cmd := New(func(string) string { return "" })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCheck(t *testing.T) {
	tests := []struct {
		args []string
		out  string
		exit int
	}{
		{[]string{"check", "npi", "1234567893"}, "1234567893\tok\n", 0},
		{[]string{"check", "npi", "1234567893", "1234567890"}, "1234567893\tok\n1234567890\terror: NPI check digit is 0, expected 3 for 123456789\n", 1},
		{[]string{"check", "mbi", "1EG4-TE5-MK73"}, "1EG4-TE5-MK73\tok\n", 0},
		{[]string{"check", "ndc", "0002322730"}, "0002322730\terror: 10-digit NDC \"0002322730\" without dashes is ambiguous (4-4-2, 5-3-2 or 5-4-1?): send it with dashes or as 11 digits\n", 1},
		{[]string{"check", "SNOMED", "430193006", "430193007"}, "430193006\tok\n430193007\terror: SNOMED CT code 430193007 fails its Verhoeff check digit\n", 1},
		{[]string{"check", "npi", "12\x1b[2J"}, `12\x1b[2J	error: NPI must be 10 digits, got "12\x1b[2J"` + "\n", 1},
	}
	for _, tt := range tests {
		out, err := run(tt.args...)
		exit := 0
		var e ExitError
		if errors.As(err, &e) {
			exit = e.Code
		} else if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if out != tt.out || exit != tt.exit {
			t.Errorf("%v:\n got %q exit %d\nwant %q exit %d", tt.args, out, exit, tt.out, tt.exit)
		}
	}
	if _, err := run("check", "ssn", "1"); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestStatusSaysWhatToDoWhenNothingRuns(t *testing.T) {
	_, err := run("status", "--nats-url", "nats://127.0.0.1:1")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("make run")) {
		t.Fatalf("got %v, want a hint to start emtm", err)
	}
}

func TestPDCCommand(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/fills.csv"
	in := "beneficiary_id,fill_date,ingredient,class,days_supply\n" +
		"B2,2024-01-01,atorvastatin,,30\nB2,2024-01-25,atorvastatin,,30\nB2,2024-03-10,atorvastatin,,30\n" +
		"B1,2024-10-03,lisinopril,,30\nB1,2024-11-01,lisinopril,,30\n" // treatment period 90 days: not in the measure
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run("pdc", "--fills", path, "--year", "2024")
	if err != nil {
		t.Fatal(err)
	}
	want := "beneficiary_id,class,ipsd,treatment_days,covered_days,pdc\nB2,STATIN,2024-01-01,366,90,0.2459\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if err := os.WriteFile(path, []byte("beneficiary_id,fill_date\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run("pdc", "--fills", path, "--year", "2024"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad header: %v", err)
	}
}

func TestMeasuresSafetyPrintsCSVOrTheFirstErrorAlone(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	members := write("members.csv", "beneficiary_id,birth_date\nB1,1960-01-01\nB2,1948-06-30\n")
	exclusions := write("exclusions.csv", "beneficiary_id,exclusion,start_date,end_date\n")
	claims := write("claims.csv", "beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day\n"+
		"B2,2024-02-01,metformin,30,DIABETES,\nB2,2024-05-03,metformin,30,DIABETES,\n"+
		"B1,2024-01-05,oxycodone,30,OPIOID,90\nB1,2024-02-04,oxycodone,30,OPIOID,90\nB1,2024-03-05,oxycodone,30,OPIOID,90\n")
	exec := func(args ...string) (string, string, error) {
		cmd := New(func(string) string { return "" })
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	out, stderr, err := exec("measures", "safety", "--claims", claims, "--members", members, "--exclusions", exclusions, "--year", "2024")
	if err != nil || stderr != "" {
		t.Fatalf("%v %s", err, stderr)
	}
	if want := "beneficiary_id,measure,denominator,numerator,excluded\nB1,COB,1,0,0\nB1,OHD,1,1,0\nB2,SUPD,1,0,0\n"; out != want {
		t.Fatalf("stdout\n%s\nwant\n%s", out, want)
	}
	bad := write("bad.csv", "beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day\nB1,2024-01-05,oxycodone,0,OPIOID,\n")
	out, stderr, err = exec("measures", "safety", "--claims", bad, "--members", members, "--exclusions", exclusions, "--year", "2024")
	var exit ExitError
	if !errors.As(err, &exit) || exit.Code == 0 || out != "" || stderr != bad+":2: days_supply: \"0\" is not an integer 1..365\n" {
		t.Fatalf("err %v stdout %q stderr %q", err, out, stderr)
	}
	if out, _, err = exec("measures", "safety", "--claims", claims, "--members", members, "--exclusions", exclusions, "--year", "24"); !errors.As(err, &exit) || out != "" {
		t.Fatalf("a two-digit year: %v %q", err, out)
	}
}

func TestTheProfileSaysWhichExclusionRemovedTheMemberFromWhichMeasure(t *testing.T) {
	p := &riskv1.Profile{MemberId: "M1", ContractId: "S9925", PbpId: "001",
		Exclusions: []*riskv1.ExclusionSpan{{Name: "HOSPICE", Start: &typesv1.Date{Year: 2024, Month: 6, Day: 1}, Source: "enrollment/E1"},
			{Name: "CANCER", Start: &typesv1.Date{Year: 2019, Month: 5, Day: 1}, End: &typesv1.Date{Year: 2020, Month: 1, Day: 1}, Source: "condition ICD10 C50.9"}},
		LatestAssessment: &riskv1.RiskAssessment{AsOf: &typesv1.Date{Year: 2024, Month: 7, Day: 1}, Safety: []*riskv1.SafetyMeasure{
			{Measure: "COB", Numerator: true, Excluded: true, ExcludedBy: []string{"HOSPICE"}, Detail: "an opioid and a benzodiazepine together on 38 days in 2024"},
			{Measure: "SUPD", Detail: "diabetes medication claims on 2 dates in 2024 and no statin claim in the year"}}}}
	var b bytes.Buffer
	PrintProfile(&b, p)
	for _, want := range []string{
		"SAFETY MEASURES 2024 (PQA, interim to the as-of date)",
		"COB      numerator 1, EXCLUDED by HOSPICE: an opioid and a benzodiazepine together on 38 days in 2024",
		"SUPD     numerator 0: diabetes medication claims",
		"HOSPICE                        2024-06-01 to open  (enrollment/E1)",
		"CANCER                         2019-05-01 to 2020-01-01  (condition ICD10 C50.9)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("profile lacks %q:\n%s", want, b.String())
		}
	}
}

// A dead letter is decoded by the event type its headers name, whatever its subject.
func TestADeadLetterIsDecodedByItsEventTypeHeader(t *testing.T) {
	data, err := proto.Marshal(&claimsv1.PharmacyClaim{ClaimId: "RX-1", MemberId: "M1"})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := decodeEvent("emtm.claims.v1.PharmacyClaim", data)
	if c, isClaim := m.(*claimsv1.PharmacyClaim); !ok || !isClaim || c.ClaimId != "RX-1" {
		t.Fatalf("decoded %v, %v", m, ok)
	}
	for _, typ := range []string{"", "emtm.claims.v1.NoSuchEvent", "not a name"} {
		if _, ok := decodeEvent(typ, data); ok {
			t.Errorf("%q decoded", typ)
		}
	}
	if _, ok := decodeEvent("emtm.claims.v1.PharmacyClaim", []byte("\x0f not a claim")); ok {
		t.Error("bytes that are no claim decoded as one")
	}
}
