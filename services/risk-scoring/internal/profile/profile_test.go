package profile

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/risk-scoring/safety"
)

func TestFillRoundTrip(t *testing.T) {
	f := Fill{ClaimID: "RX-1", Date: civil.Date{Year: 2024, Month: 3, Day: 10}, DaysSupply: 30, CostCents: 1350,
		PrescriberNPI: "1234567893", MME10: 225, Ingredients: []string{"acetaminophen", "oxycodone"}}
	got, err := DecodeFill("RX-1", EncodeFill(f))
	if err != nil || got.Date != f.Date || got.CostCents != 1350 || got.DaysSupply != 30 || got.MME10 != 225 ||
		strings.Join(got.Ingredients, ",") != "acetaminophen,oxycodone" || got.PrescriberNPI != f.PrescriberNPI {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"2024|1", "2024031x|30|1|n|0|a", "20240310|x|1|n|0|a", "20240310|30|1|n|a"} {
		if _, err := DecodeFill("x", bad); err == nil {
			t.Errorf("malformed fill %q decoded", bad)
		}
	}
}

func TestAFillKeepsEachDrugWithItsGroupsBeersFlagAndMME(t *testing.T) {
	f := Fill{ClaimID: "RX-2", Date: civil.Date{Year: 2024, Month: 3, Day: 10}, DaysSupply: 30, MME10: 300, Ingredients: []string{"acetaminophen", "oxycodone"},
		Drugs: []Drug{{Name: "acetaminophen"}, {Name: "oxycodone", Groups: safety.Opioid | safety.CNS, MME: 300000, HasMME: true}}}
	enc := EncodeFill(f)
	if !strings.HasSuffix(enc, "|acetaminophen=;oxycodone=OC@300000") {
		t.Fatalf("encoded %q", enc)
	}
	got, err := DecodeFill("RX-2", enc)
	if err != nil || len(got.Drugs) != 2 || got.Drugs[1] != f.Drugs[1] || got.Drugs[0] != f.Drugs[0] || strings.Join(got.Ingredients, ",") != "acetaminophen,oxycodone" {
		t.Fatalf("%+v %v", got, err)
	}
	doxepin := Drug{Name: "doxepin", Groups: safety.ACH | safety.CNS, Beers: true}
	if d, ok := decodeDrug(encodeDrug(doxepin)); !ok || d != doxepin || encodeDrug(doxepin) != "doxepin=ACP" {
		t.Fatalf("%q -> %+v %v", encodeDrug(doxepin), d, ok)
	}
	for _, bad := range []string{"x=Z", "x=CA", "x=PA", "x=O@-1", "x=O@01", "=O", "x=O@", "x=PP"} {
		if _, ok := decodeDrug(bad); ok {
			t.Errorf("malformed drug %q decoded", bad)
		}
	}
}

func TestFromHash(t *testing.T) {
	h := map[string]string{
		"c:b":   "20240310|30|100|1234567893|0|lisinopril",
		"c:a":   "20240101|30|200|1234567893|150|oxycodone",
		"c:old": "20220101|30|200|1234567893|0|lisinopril",
		"x:z":   "20240401", "x:old": "20221201", "dob": "19500101", "plan": "S1234-001", "fp": "t2|", "tier": "2",
		"k:c1": "SNOMED|44054006|20100101|", "h:e1": "I|20240201|20240205|1200000", "h:e0": "E|20220601||90000",
	}
	p, err := FromHash("M1", h)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Fills) != 3 || p.Fills[1].ClaimID != "a" || p.Fills[1].MME10 != 150 || p.Reversed != 2 || p.ContractID != "S1234" || p.PbpID != "001" ||
		p.Tier != 2 || p.Fingerprint != "t2|" || p.BirthDate.Year != 1950 || p.AsOf().String() != "2024-03-10" ||
		len(p.Conditions) != 1 || !p.Conditions[0].ActiveIn(2024) || len(p.Medical) != 2 || p.Medical[1].Discharge.Day != 5 {
		t.Fatalf("%+v", p)
	}
	// Everything dated before 2023-01-01 (the year before the as-of year) is stale.
	if got := strings.Join(p.Stale(h), ","); got != "c:old,h:e0,x:old" {
		t.Fatalf("stale %q", got)
	}
}

// FuzzDecodeFill: the stored form of a fill decodes without panicking, and a
// decoded fill encodes back to the same stored form.
func FuzzDecodeFill(f *testing.F) {
	for _, s := range []string{"20240310|30|1350|1234567893|225|acetaminophen;oxycodone", "20240310|30|1350||0|", "2024|1", "|||||", "20241399|1|1|x|0|y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := DecodeFill("c", s)
		if err != nil {
			return
		}
		// Encoding is canonical: decoding what was encoded gives the same fill.
		again, err := DecodeFill("c", EncodeFill(fl))
		if err != nil || EncodeFill(again) != EncodeFill(fl) {
			t.Fatalf("%q -> %+v -> %q (%v)", s, fl, EncodeFill(fl), err)
		}
	})
}

func TestAPharmacistsProblemIsStoredAndReadBack(t *testing.T) {
	pr := Problem{ID: "mrp-1", Code: "697958005", Description: "a | b, with \"quotes\"", Onset: "20240120", Date: "20240210", Encounter: "CP-1",
		Recs: []ProblemRec{{NPI: "1234567893", Text: "once daily"}}}
	p, err := FromHash("M1", map[string]string{ProblemPrefix + "mrp-1": EncodeProblem(pr)})
	if err != nil || len(p.Problems) != 1 || p.Problems[0].Description != pr.Description || p.Problems[0].ID != "mrp-1" || p.Problems[0].Recs[0].NPI != "1234567893" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := FromHash("M1", map[string]string{ProblemPrefix + "x": "{"}); err == nil {
		t.Fatal("a broken stored problem was read")
	}
	// A resolved problem ages out with the profile; an open one stays.
	resolved := pr
	resolved.Resolved, resolved.Date = true, "20200101"
	open := pr
	open.Date = "20200101"
	h := map[string]string{ProblemPrefix + "r": EncodeProblem(resolved), ProblemPrefix + "o": EncodeProblem(open),
		FillPrefix + "1245319599/a": "20240301|30|100|1234567893|0|lisinopril"}
	q, err := FromHash("M1", h)
	if err != nil {
		t.Fatal(err)
	}
	if st := q.Stale(h); len(st) != 1 || st[0] != ProblemPrefix+"r" {
		t.Fatalf("stale %v", st)
	}
}
