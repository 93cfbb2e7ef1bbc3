package ledger

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
)

func samplePlan(t *testing.T) policy.Plan {
	t.Helper()
	ps, err := policy.Sample()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.For("S9925", "001")
	return p
}

func TestForEncounter(t *testing.T) {
	p := samplePlan(t)
	e := Encounter{EventID: "encounter/E1", EncounterID: "E1", ContractID: "S9925", PbpID: "001", PharmacyNPI: "1245319599",
		ServiceDate: civil.Date{Year: 2024, Month: 4, Day: 2}, ServiceCodes: []string{"430193006", "314530002", "430193006", "410620009"}, Completed: true}
	entries := ForEncounter(e, p, true, "payment.yaml")
	if len(entries) != 3 {
		t.Fatalf("entries %+v", entries)
	}
	var fees int64
	for _, x := range entries[:2] {
		fees += x.AmountCents
		if x.Kind != Fee || x.Credit != "pharmacy_fees_payable:1245319599" || x.Debit != AccountMTMExpense || x.SourceEvent != "encounter/E1" ||
			x.Month != (civil.Date{Year: 2024, Month: 4, Day: 1}) || !strings.HasPrefix(x.Rule, "fee:") {
			t.Errorf("entry %+v", x)
		}
	}
	if fees != 4000+4500 || entries[0].ID != "le/E1/430193006" || entries[1].Service != "MEDREVIEW" {
		t.Fatalf("fees %d, %+v", fees, entries)
	}
	// The unknown code goes to suspense at zero, with the reason.
	if s := entries[2]; s.Kind != Suspense || s.AmountCents != 0 || s.Debit != AccountSuspense || s.ID != "sus/E1/410620009" ||
		!strings.Contains(s.Memo, "no fee rule in payment.yaml for service 410620009 on 2024-04-02") {
		t.Fatalf("suspense %+v", s)
	}
	// For a CMR task: the CMR fee.
	e.TaskKind, e.ServiceCodes = "CMR", []string{"314530002"}
	if x := ForEncounter(e, p, true, "payment.yaml"); len(x) != 1 || x[0].Service != "CMR" || x[0].AmountCents != 7500 {
		t.Fatalf("CMR: %+v", x)
	}
	// Before the fee schedule: suspense.
	e.ServiceDate = civil.Date{Year: 2016, Month: 5, Day: 1}
	if x := ForEncounter(e, p, true, "payment.yaml"); len(x) != 1 || x[0].Kind != Suspense {
		t.Fatalf("2016: %+v", x)
	}
	// A plan without a payment policy: suspense, saying so.
	if x := ForEncounter(e, policy.Plan{}, false, "payment.yaml"); len(x) != 1 || !strings.Contains(x[0].Memo, "no payment policy in payment.yaml for plan S9925-001") {
		t.Fatalf("no policy: %+v", x)
	}
	e.Completed = false
	if entries := ForEncounter(e, p, true, "payment.yaml"); len(entries) != 0 {
		t.Fatal("an encounter that was not completed earned a fee")
	}
}

func TestMemberMonthsAndReversals(t *testing.T) {
	p := samplePlan(t)
	m := civil.Date{Year: 2019, Month: 3, Day: 1}
	rate, _ := p.PMPM(m)
	x := ForMemberMonth("S9925", "001", "M1", m, 1, rate, "enr/1")
	if x.ID != "pp/S9925-001/M1/2019-03/1" || x.AmountCents != 350 || x.Debit != AccountProspectiveReceivable || x.Rule != "pmpm:2017-01-01" {
		t.Fatalf("member month %+v", x)
	}
	r := Reverse(x, "enr/1@2", "enrollment ended 2019-02-28")
	if r.ID != x.ID+"/rev" || r.Reverses != x.ID || r.AmountCents != x.AmountCents || r.Credit != AccountProspectiveReceivable ||
		r.Debit != AccountAdjustmentsProspective || r.Month != m || r.Kind != ProspectiveAdjustment {
		t.Fatalf("reversal %+v", r)
	}
	perf := ForPerformance("S9925", "001", 2019, 2021, 1, 24000, "performance:200bp:200c", "")
	if rp := Reverse(perf, "x", ""); rp.Kind != PerformanceAdjustment || rp.Credit != AccountPerformanceReceivable || perf.Month.Year != 2021 {
		t.Fatalf("performance reversal %+v of %+v", rp, perf)
	}
}

func TestForAccepted(t *testing.T) {
	p := samplePlan(t)
	a := Accepted{EventID: "out/x@3", ItemID: "out/x", ContractID: "S9925", PbpID: "001", PharmacyNPI: "1245319599", RespondedOn: civil.Date{Year: 2020, Month: 2, Day: 3}}
	x, ok := ForAccepted(a, p)
	if !ok || x.AmountCents != 2500 || x.ID != "le/accepted/out/x" || x.Service != "PRESCRIBER_ACCEPTED" {
		t.Fatalf("%+v %v", x, ok)
	}
	a.PharmacyNPI = ""
	if _, ok := ForAccepted(a, p); ok {
		t.Fatal("an answer no pharmacy obtained earns no pharmacy fee")
	}
}
