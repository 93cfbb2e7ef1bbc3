// Package ledger makes the postings of a payment event: balanced entries in
// integer cents, each naming the rule that produced it and its source event.
package ledger

import (
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
)

// Accounts.
const (
	AccountMTMExpense = "mtm_services_expense"
	// AccountPharmacyPayable is suffixed with ":<pharmacy NPI>".
	AccountPharmacyPayable = "pharmacy_fees_payable"
)

// Entry is one posting: AmountCents moves from Credit to Debit.
type Entry struct {
	ID          string
	Debit       string
	Credit      string
	AmountCents int64
	ContractID  string
	PbpID       string
	Month       civil.Date // first day of the service month
	Rule        string
	SourceEvent string
	Memo        string
}

// Encounter is what fees are computed from.
type Encounter struct {
	EventID      string
	EncounterID  string
	ContractID   string
	PbpID        string
	PharmacyNPI  string
	ServiceDate  civil.Date
	ServiceCodes []string
	Completed    bool
}

// Unpriced is a service code without a fee rule on the service date.
type Unpriced struct{ Code string }

// ForEncounter books the pharmacy's fee for each completed service that has a
// fee rule: debit MTM services expense, credit the pharmacy's payable. A code
// appears once per encounter however often it is listed.
func ForEncounter(e Encounter, s *feeschedule.Schedule) ([]Entry, []Unpriced) {
	if !e.Completed {
		return nil, nil
	}
	var out []Entry
	var unpriced []Unpriced
	seen := map[string]bool{}
	month := civil.Date{Year: e.ServiceDate.Year, Month: e.ServiceDate.Month, Day: 1}
	for _, code := range e.ServiceCodes {
		if seen[code] {
			continue
		}
		seen[code] = true
		r, ok := s.Lookup(code, e.ServiceDate)
		if !ok {
			unpriced = append(unpriced, Unpriced{Code: code})
			continue
		}
		out = append(out, Entry{
			ID:          "le/" + e.EncounterID + "/" + code,
			Debit:       AccountMTMExpense,
			Credit:      AccountPharmacyPayable + ":" + e.PharmacyNPI,
			AmountCents: r.FeeCents,
			ContractID:  e.ContractID, PbpID: e.PbpID, Month: month,
			Rule:        r.Name(),
			SourceEvent: e.EventID,
			Memo:        r.Description + " on " + e.ServiceDate.String(),
		})
	}
	return out, unpriced
}
