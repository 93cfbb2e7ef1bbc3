package bluebutton

import (
	"os"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) ([]Resource, map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, skipped, errs, err := Read(f)
	if err != nil || len(errs) != 0 {
		t.Fatalf("%s: %v %v", path, err, errs)
	}
	return rs, skipped
}

func partDRows(t *testing.T, rs []Resource) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		if Type(r.EOB) != "PDE" {
			continue
		}
		e, err := PartD(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(e.AuditRow(), ","))
	}
	return out
}

func TestTheBlueButtonSamplePrintsTenFillsWithTheirSignFlippedTwins(t *testing.T) {
	rs, _ := readFile(t, "../sampledata/bluebutton-eob/eob_search_pt_v2.json")
	rows := partDRows(t, rs)
	if len(rows) != 10 {
		t.Fatalf("%d rows, want 10 (5 fills, each twice)", len(rows))
	}
	want := "-5764339373,-20140000008325,2016-10-01,00169643810,90,15000,40000,999999999999999,999999999999999"
	twin := "5764339373,-20140000008325,2016-10-01,00169643810,90,15000,40000,999999999999999,999999999999999"
	joined := strings.Join(rows, "\n")
	if !strings.Contains(joined, want) || !strings.Contains(joined, twin) {
		t.Fatalf("the README's row and its twin are missing:\n%s", joined)
	}
}

func TestAB2DSendsNoAmountsAndTheBlueButtonPageDoes(t *testing.T) {
	rs, _ := readFile(t, "../sampledata/ab2d-sample/sample-data-r4.first150.ndjson")
	types := map[string]int{}
	for _, r := range rs {
		s, err := PartsAB(r)
		if err != nil {
			t.Fatal(err)
		}
		types[s.ClaimType]++
		if s.HasPayment || s.AuditRow()[5] != "" {
			t.Fatalf("an AB2D claim with an amount: %v", s.AuditRow())
		}
	}
	if len(rs) != 150 || types["OUTPATIENT"] != 112 || types["HHA"] != 23 || types["CARRIER"] != 9 || types["INPATIENT"] != 4 || types["SNF"] != 1 || types["DME"] != 1 {
		t.Fatalf("%d claims by type %v", len(rs), types)
	}
	first, _ := PartsAB(rs[0])
	if got := strings.Join(first.AuditRow(), ","); got != "outpatient--10000001619313,-10000000005142,OUTPATIENT,2020-03-13,2020-03-13," || first.MBI != "1S00E00DP42" {
		t.Fatalf("first row %s (MBI %s)", got, first.MBI)
	}
	page, _ := readFile(t, "../sampledata/ab2d-sample/bb2-sandbox-eob-page1.json")
	var sum int64
	for _, r := range page {
		s, err := PartsAB(r)
		if err != nil || !s.HasPayment {
			t.Fatalf("%v %+v", err, s)
		}
		sum += s.PaymentCents
	}
	if len(page) != 10 || sum != 325560 {
		t.Fatalf("%d claims paying %d cents, want 10 and $3,255.60", len(page), sum)
	}
}

// olderShape is an EOB of the early-2020 Blue Button shape: days supply as an
// extension of the item quantity, the prescriber's role "primary", the pharmacy
// as provider, codings in the other order, an amount with three decimals.
const olderShape = `{"resourceType":"ExplanationOfBenefit","id":"pde-77",
 "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"pharmacy"},{"system":"https://bluebutton.cms.gov/resources/codesystem/eob-type","code":"PDE"}]},
 "patient":{"reference":"Patient/-5"},"billablePeriod":{"start":"2016-02-01","end":"2016-02-01"},
 "careTeam":[{"sequence":1,"provider":{"identifier":{"value":"1234567893"}},"role":{"coding":[{"code":"primary"}]}}],
 "provider":{"identifier":{"system":"http://hl7.org/fhir/sid/us-npi","value":"1245319599"}},
 "item":[{"sequence":1,"productOrService":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"00002322730"}]},
  "quantity":{"value":60,"extension":[{"url":"https://bluebutton.cms.gov/resources/variables/days_suply_num","valueQuantity":{"value":30}}]},
  "adjudication":[{"category":{"coding":[{"system":"https://bluebutton.cms.gov/resources/codesystem/adjudication","code":"https://bluebutton.cms.gov/resources/variables/tot_rx_cst_amt"},{"code":"drugcost"}]},"amount":{"value":12.345}}]}]}`

func TestTheOlderShapeIsReadByCodesNotPositions(t *testing.T) {
	rs, _, errs := ParseResource([]byte(olderShape))
	if len(errs) != 0 || len(rs) != 1 {
		t.Fatalf("%v %v", rs, errs)
	}
	if got := partDRows(t, rs); len(got) != 1 || got[0] != "77,-5,2016-02-01,00002322730,30,60000,1235,1234567893,1245319599" {
		t.Fatalf("older shape: %v", got)
	}
}

func TestABundleMixingClaimTypesAndResourcesYieldsOnlyItsPharmacyClaims(t *testing.T) {
	carrier := strings.Replace(strings.Replace(olderShape, `"code":"PDE"`, `"code":"CARRIER"`, 1), `"id":"pde-77"`, `"id":"carrier-1"`, 1)
	bundle := "\ufeff" + `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"-5"}},{"resource":` + carrier + `},{"resource":` + olderShape + `}]}`
	rs, skipped, errs, err := Read(strings.NewReader(bundle))
	if err != nil || len(errs) != 0 || len(rs) != 2 || skipped["Patient"] != 1 {
		t.Fatalf("%d EOBs, skipped %v, errors %v %v", len(rs), skipped, errs, err)
	}
	if rows := partDRows(t, rs); len(rows) != 1 || !strings.HasPrefix(rows[0], "77,") {
		t.Fatalf("pharmacy rows %v", rows)
	}
	if rs[0].N != 2 || rs[1].N != 3 {
		t.Fatalf("positions %d %d, want the entries' 2 and 3", rs[0].N, rs[1].N)
	}
}

func TestAnNDJSONLineThatCannotBeReadIsReportedAndTheNextLinesAreRead(t *testing.T) {
	badDate := strings.Replace(olderShape, `"start":"2016-02-01"`, `"start":"2016-02-30"`, 1)
	unknownField := strings.Replace(olderShape, `"patient"`, `"patientt"`, 1)
	noPatient := strings.Replace(olderShape, `"patient":{"reference":"Patient/-5"},`, "", 1)
	lines := []string{oneLineJSON(olderShape), "{not json", oneLineJSON(badDate), oneLineJSON(unknownField), oneLineJSON(noPatient), oneLineJSON(olderShape)}
	rs, _, errs, err := Read(strings.NewReader(strings.Join(lines, "\r\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range errs {
		reasons = append(reasons, e.Reason)
	}
	if len(rs) != 3 || strings.Join(reasons, ",") != "FHIR_JSON,FHIR_INVALID,FHIR_INVALID" {
		t.Fatalf("%d read, errors %v", len(rs), errs)
	}
	// The library names the element holding an unknown one, not the unknown one itself.
	if !strings.Contains(errs[2].Msg, `error at "ExplanationOfBenefit": unknown field`) || errs[2].Resource != 4 {
		t.Errorf("the unknown element: %+v", errs[2])
	}
	if !strings.Contains(errs[1].Msg, "billablePeriod") {
		t.Errorf("the bad date is not placed: %+v", errs[1])
	}
	_, perr := PartD(rs[1])
	if perr == nil || perr.Path != "ExplanationOfBenefit.patient" || perr.Resource != 5 {
		t.Fatalf("a pharmacy EOB without a patient: %v", perr)
	}
}

func oneLineJSON(s string) string { return strings.ReplaceAll(s, "\n", "") }

func TestAnEmergencyVisitIsKnownByItsRevenueCenterOrPlaceOfService(t *testing.T) {
	base := `{"resourceType":"ExplanationOfBenefit","id":"outpatient-1","type":{"coding":[{"system":"https://bluebutton.cms.gov/resources/codesystem/eob-type","code":"OUTPATIENT"}]},
 "patient":{"reference":"Patient/-5"},"billablePeriod":{"start":"2020-03-13","end":"2020-03-13"},"item":[{"sequence":1%s}]}`
	for _, tt := range []struct {
		item string
		want bool
	}{
		{`,"revenue":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/rev_cntr","code":"0450"}]}`, true},
		{`,"revenue":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/rev_cntr","code":"0981"}]}`, true},
		{`,"locationCodeableConcept":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/line_place_of_srvc_cd","code":"23"}]}`, true},
		{`,"revenue":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/rev_cntr","code":"0300"}]}`, false},
		{``, false},
	} {
		rs, _, errs := ParseResource([]byte(strings.Replace(base, "%s", tt.item, 1)))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		s, err := PartsAB(rs[0])
		if err != nil || s.Emergency != tt.want {
			t.Errorf("item %s: emergency %v, want %v (%v)", tt.item, s.Emergency, tt.want, err)
		}
	}
}
