package load

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	"github.com/emtm/emtm/services/emtm/internal/bluebutton"
	"github.com/emtm/emtm/services/emtm/internal/pde"
)

func blueButtonEvents(t *testing.T) []pde.Event {
	t.Helper()
	f, err := os.Open("../sampledata/bluebutton-eob/eob_search_pt_v2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, _, errs, err := bluebutton.Read(f)
	if err != nil || len(errs) != 0 {
		t.Fatal(err, errs)
	}
	var out []pde.Event
	for _, r := range rs {
		e, perr := bluebutton.PartD(r)
		if perr != nil {
			t.Fatal(perr)
		}
		out = append(out, e)
	}
	return out
}

func TestAPDEAndTheEOBOfTheSameEventMakeTheSameClaim(t *testing.T) {
	f, err := os.Open("testdata/pde-of-bluebutton-event.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pde.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	fromPDE, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	var fromEOB *pde.Event
	for _, e := range blueButtonEvents(t) {
		if e.ClaimID == "-5764339373" {
			fromEOB = &e
		}
	}
	if fromEOB == nil {
		t.Fatal("the Blue Button sample lacks fill -5764339373")
	}
	a, b := ClaimOf(fromPDE), ClaimOf(*fromEOB)
	if !proto.Equal(a, b) {
		t.Fatalf("one event, two claims:\nPDE %v\nEOB %v", a, b)
	}
	if a.TotalCents != 40000 || a.PatientPayCents != 1000 || a.FillNumber != 73 || a.ContractId != "99999" || a.PbpId != "999" {
		t.Fatalf("claim %v", a)
	}
}

func TestASignFlippedRepeatOfAFillIsSentOnce(t *testing.T) {
	w, dupes := EOBWork(blueButtonEvents(t))
	if w.Read["claim"] != 10 || len(w.ByMember["-20140000008325"]) != 5 || w.Skipped["claim:sign-flipped repeat"] != 5 || len(dupes) != 5 {
		t.Fatalf("read %v, sent %d, skipped %v, repeats %v", w.Read, len(w.ByMember["-20140000008325"]), w.Skipped, dupes)
	}
	if !strings.HasPrefix(dupes[0], "3269834580 repeats -3269834580") {
		t.Fatalf("repeats %v", dupes)
	}
	// The same id with another content is no repeat: ingestion sees both (and rejects the second as a conflict).
	a := pde.Event{ClaimID: "-1", NDC11: "1"}
	if SignFlipped(a, pde.Event{ClaimID: "1", NDC11: "2"}) || !SignFlipped(a, pde.Event{ClaimID: "1", NDC11: "1"}) || SignFlipped(a, a) {
		t.Fatal("SignFlipped")
	}
}

func TestPartsABClaimsBecomeSummariesBySetting(t *testing.T) {
	for _, tt := range []struct {
		s         bluebutton.Summary
		setting   medicalv1.CareSetting
		discharge bool
	}{
		{bluebutton.Summary{ClaimType: "INPATIENT"}, medicalv1.CareSetting_CARE_SETTING_INPATIENT, true},
		{bluebutton.Summary{ClaimType: "SNF"}, medicalv1.CareSetting_CARE_SETTING_SNF, true},
		{bluebutton.Summary{ClaimType: "HOSPICE"}, medicalv1.CareSetting_CARE_SETTING_HOSPICE, true},
		{bluebutton.Summary{ClaimType: "OUTPATIENT", Emergency: true}, medicalv1.CareSetting_CARE_SETTING_EMERGENCY, false},
		{bluebutton.Summary{ClaimType: "OUTPATIENT"}, medicalv1.CareSetting_CARE_SETTING_OTHER, false},
		{bluebutton.Summary{ClaimType: "HHA"}, medicalv1.CareSetting_CARE_SETTING_OTHER, false},
	} {
		s := tt.s
		s.EOBID, s.BeneficiaryID = "x", "-5"
		s.Start, s.End = mustDate(t, "2020-12-28"), mustDate(t, "2021-01-04")
		got := SummaryOf(s, Plan{Contract: "S9925", PBP: "001"})
		if got.Setting != tt.setting || (got.DischargeDate != nil) != tt.discharge || !got.CostUnknown || got.CostCents != 0 ||
			got.ServiceMonth.Year != 2021 || got.ServiceMonth.Month != 1 || got.Mbi != "" {
			t.Errorf("%s: %v", tt.s.ClaimType, got)
		}
	}
	priced := SummaryOf(bluebutton.Summary{EOBID: "c", ClaimType: "CARRIER", Start: mustDate(t, "2019-03-19"), HasPayment: true, PaymentCents: 56712}, Plan{})
	if priced.CostUnknown || priced.CostCents != 56712 || priced.ServiceMonth.Month != 3 || priced.ContractId != "" {
		t.Errorf("a priced carrier claim: %v", priced)
	}
	w := AB2DWork([]bluebutton.Summary{{ClaimType: "PDE"}, {ClaimType: "SNF"}}, Plan{})
	if len(w.Last) != 1 || w.Skipped["PDE (a Part D event: import eob)"] != 1 {
		t.Errorf("AB2D work %+v", w)
	}
}

func mustDate(t *testing.T, s string) civil.Date {
	t.Helper()
	d, err := civil.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
