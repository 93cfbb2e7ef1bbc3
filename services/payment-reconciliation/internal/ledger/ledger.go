// Package ledger makes the postings of payment events: balanced entries in
// integer cents, each naming the rule that produced it, its source event, the
// plan and the service month. Entry ids are deterministic from what caused
// them, so a replay makes the same entries; corrections are reversing entries.
package ledger

import (
	"fmt"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
)

// Accounts. Debits are positive balances, credits negative.
const (
	AccountMTMExpense = "mtm_services_expense"
	// AccountPharmacyPayable is suffixed with ":<pharmacy NPI>".
	AccountPharmacyPayable        = "pharmacy_fees_payable"
	AccountSuspense               = "suspense:unpriced_services"
	AccountProspectiveReceivable  = "prospective_payment_receivable"
	AccountProspectiveRevenue     = "prospective_payment_revenue"
	AccountPerformanceReceivable  = "performance_payment_receivable"
	AccountPerformanceRevenue     = "performance_payment_revenue"
	AccountAdjustmentsProspective = "adjustments:prospective_payment"
	AccountAdjustmentsPerformance = "adjustments:performance_payment"
)

// Kind is what produced an entry (as in emtm.ledger.v1.EntryKind).
type Kind int

// Kinds.
const (
	Fee Kind = iota + 1
	Suspense
	Prospective
	ProspectiveAdjustment
	Performance
	PerformanceAdjustment
)

// Entry is one posting: AmountCents moves from Credit to Debit.
type Entry struct {
	ID          string
	Kind        Kind
	Debit       string
	Credit      string
	AmountCents int64
	ContractID  string
	PbpID       string
	Month       civil.Date // first day of the service month
	ServiceDate civil.Date
	Rule        string
	SourceEvent string
	Reverses    string
	Service     string
	PharmacyNPI string
	MemberID    string
	Memo        string
}

// Plan returns "contract-pbp".
func (e Entry) Plan() string { return planid.Key(e.ContractID, e.PbpID) }

// Owner is whose partition the projection keeps an entry under (adapters
// tag its keys with it, so that booking an entry changes one Redis Cluster
// slot). It must not change between two bookings of the same entry: a member
// month's is its member (whose member-month record it changes); a performance
// payment's, and its reversal's, the plan-year (PerformanceSource, whose
// performance record they change); any other entry's, the entry itself (a
// fee's source event is no owner: an accepted outreach item's fee is booked
// from whichever version of the item comes first).
func Owner(k Kind, id, member, source string) string {
	switch {
	case (k == Prospective || k == ProspectiveAdjustment) && member != "":
		return member
	case (k == Performance || k == PerformanceAdjustment) && source != "":
		return source
	}
	return id
}

// Owner is the entry's owner (Owner).
func (e Entry) Owner() string { return Owner(e.Kind, e.ID, e.MemberID, e.SourceEvent) }

// PerformanceSource is the source event of a plan-year's performance
// entries and of their reversals: the owner of the plan-year's performance state.
func PerformanceSource(plan string, year int) string {
	return fmt.Sprintf("performance/%s/%d", plan, year)
}

func monthOf(d civil.Date) civil.Date { return civil.Date{Year: d.Year, Month: d.Month, Day: 1} }

// Encounter is what fees are computed from.
type Encounter struct {
	EventID      string
	EncounterID  string
	ContractID   string
	PbpID        string
	PharmacyNPI  string
	ServiceDate  civil.Date
	ServiceCodes []string
	// TaskKind is the kind of the task the encounter fulfils ("CMR"), if any.
	TaskKind  string
	Completed bool
}

// ForEncounter books the pharmacy's fee for each completed service: debit
// MTM services expense, credit the pharmacy's payable. A service without a
// fee rule (or a plan without a payment policy) is booked at zero to suspense,
// so that it is reported and can be priced later, never dropped. A code counts
// once per encounter however often it is listed.
func ForEncounter(e Encounter, p policy.Plan, hasPolicy bool, policyName string) []Entry {
	if !e.Completed {
		return nil
	}
	var out []Entry
	seen := map[string]bool{}
	kind := e.TaskKind
	for _, code := range e.ServiceCodes {
		if seen[code] {
			continue
		}
		seen[code] = true
		base := Entry{
			ContractID: e.ContractID, PbpID: e.PbpID, Month: monthOf(e.ServiceDate), ServiceDate: e.ServiceDate,
			SourceEvent: e.EventID, PharmacyNPI: e.PharmacyNPI, Credit: AccountPharmacyPayable + ":" + e.PharmacyNPI,
		}
		var r feeschedule.Rule
		ok := false
		if hasPolicy {
			r, ok = p.Fees.ForService(code, kind, e.ServiceDate)
		}
		if !ok {
			x := base
			x.ID, x.Kind, x.Debit, x.Service = "sus/"+e.EncounterID+"/"+code, Suspense, AccountSuspense, "SNOMED "+code
			x.Rule = "suspense:no-fee-rule"
			why := fmt.Sprintf("no fee rule in %s for service %s on %s", policyName, code, e.ServiceDate)
			if !hasPolicy {
				why = fmt.Sprintf("no payment policy in %s for plan %s", policyName, planid.Key(e.ContractID, e.PbpID))
			}
			x.Memo = why
			out = append(out, x)
			continue
		}
		x := base
		x.ID, x.Kind, x.Debit, x.AmountCents = "le/"+e.EncounterID+"/"+code, Fee, AccountMTMExpense, r.FeeCents
		x.Rule, x.Service = r.Name(), r.Service
		x.Memo = fmt.Sprintf("%s (SNOMED %s) on %s", r.Description, code, e.ServiceDate)
		out = append(out, x)
	}
	return out
}

// Accepted is an outreach item a prescriber accepted, with the pharmacy that obtained the answer.
type Accepted struct {
	EventID     string
	ItemID      string
	ContractID  string
	PbpID       string
	PharmacyNPI string
	RespondedOn civil.Date
}

// ForAccepted books the PRESCRIBER_ACCEPTED fee of an accepted outreach item
// (nothing when the plan has no such rule on the date, or no pharmacy obtained it).
func ForAccepted(a Accepted, p policy.Plan) (Entry, bool) {
	if a.PharmacyNPI == "" {
		return Entry{}, false
	}
	r, ok := p.Fees.ForOutcome(feeschedule.OutcomePrescriberAccepted, a.RespondedOn)
	if !ok {
		return Entry{}, false
	}
	return Entry{
		ID: "le/accepted/" + a.ItemID, Kind: Fee, Debit: AccountMTMExpense, Credit: AccountPharmacyPayable + ":" + a.PharmacyNPI,
		AmountCents: r.FeeCents, ContractID: a.ContractID, PbpID: a.PbpID, Month: monthOf(a.RespondedOn), ServiceDate: a.RespondedOn,
		Rule: r.Name(), SourceEvent: a.EventID, Service: r.Service, PharmacyNPI: a.PharmacyNPI,
		Memo: fmt.Sprintf("%s on %s (outreach item %s)", r.Description, a.RespondedOn, a.ItemID),
	}, true
}

// MemberMonthID is the id of the generation-th entry for a member month
// (a month reversed and then supported again gets a new generation).
func MemberMonthID(plan, member string, month civil.Date, generation int) string {
	return fmt.Sprintf("pp/%s/%s/%04d-%02d/%d", plan, member, month.Year, int(month.Month), generation)
}

// ForMemberMonth books the PMPM amount of a member month: debit the
// prospective payment receivable, credit its revenue.
func ForMemberMonth(contract, pbp, member string, month civil.Date, generation int, rate policy.Rate, source string) Entry {
	return Entry{
		ID: MemberMonthID(planid.Key(contract, pbp), member, month, generation), Kind: Prospective,
		Debit: AccountProspectiveReceivable, Credit: AccountProspectiveRevenue, AmountCents: rate.Cents,
		ContractID: contract, PbpID: pbp, Month: month, Rule: fmt.Sprintf("pmpm:%s", rate.From), SourceEvent: source,
		Service: "PMPM", MemberID: member,
		Memo: fmt.Sprintf("prospective payment, member month %04d-%02d", month.Year, int(month.Month)),
	}
}

// Reverse makes the reversing entry of a member month or performance entry
// that no longer holds: the amount goes back out of the receivable through
// the adjustments account, in the original's service month.
func Reverse(orig Entry, source, why string) Entry {
	x := Entry{
		ID: orig.ID + "/rev", Debit: AccountAdjustmentsProspective, Credit: AccountProspectiveReceivable, AmountCents: orig.AmountCents,
		Kind: ProspectiveAdjustment, ContractID: orig.ContractID, PbpID: orig.PbpID, Month: orig.Month, Rule: "reversal:" + orig.Rule,
		SourceEvent: source, Reverses: orig.ID, Service: orig.Service, MemberID: orig.MemberID, Memo: why,
	}
	if orig.Kind == Performance {
		x.Kind, x.Debit, x.Credit = PerformanceAdjustment, AccountAdjustmentsPerformance, AccountPerformanceReceivable
	}
	return x
}

// PerformanceID is the id of the generation-th performance entry of a plan and year.
func PerformanceID(plan string, year, generation int) string {
	return fmt.Sprintf("perf/%s/%d/%d", plan, year, generation)
}

// ForPerformance books a performance-based payment, in January of the year it is payable.
func ForPerformance(contract, pbp string, year, payableYear, generation int, cents int64, rule, memo string) Entry {
	return Entry{
		ID: PerformanceID(planid.Key(contract, pbp), year, generation), Kind: Performance,
		Debit: AccountPerformanceReceivable, Credit: AccountPerformanceRevenue, AmountCents: cents,
		ContractID: contract, PbpID: pbp, Month: civil.Date{Year: payableYear, Month: 1, Day: 1},
		Rule: rule, SourceEvent: PerformanceSource(planid.Key(contract, pbp), year), Service: "PERFORMANCE", Memo: memo,
	}
}
