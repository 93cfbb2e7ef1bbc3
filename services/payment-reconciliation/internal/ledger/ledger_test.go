package ledger

import (
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
)

func TestForEncounter(t *testing.T) {
	s := feeschedule.Sample()
	e := Encounter{EventID: "encounter/E1", EncounterID: "E1", ContractID: "S1234", PbpID: "001", PharmacyNPI: "1245319599",
		ServiceDate: civil.Date{Year: 2024, Month: 4, Day: 2}, ServiceCodes: []string{"430193006", "314530002", "430193006", "410620009"}, Completed: true}
	entries, unpriced := ForEncounter(e, s)
	if len(entries) != 2 || len(unpriced) != 1 || unpriced[0].Code != "410620009" {
		t.Fatalf("entries %+v unpriced %+v", entries, unpriced)
	}
	var total int64
	for _, x := range entries {
		total += x.AmountCents
		if x.Credit != "pharmacy_fees_payable:1245319599" || x.Debit != AccountMTMExpense || x.SourceEvent != "encounter/E1" ||
			x.Month != (civil.Date{Year: 2024, Month: 4, Day: 1}) || x.Rule == "" {
			t.Errorf("entry %+v", x)
		}
	}
	if total != 4000+7500 {
		t.Fatalf("total %d cents, want 11500", total)
	}
	if entries[0].ID != "le/E1/430193006" {
		t.Fatalf("entry id %q is not deterministic from the encounter and code", entries[0].ID)
	}
	e.Completed = false
	if entries, _ := ForEncounter(e, s); len(entries) != 0 {
		t.Fatal("an encounter that was not completed earned a fee")
	}
}
