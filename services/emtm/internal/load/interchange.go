package load

import (
	"fmt"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/services/emtm/internal/bluebutton"
	"github.com/emtm/emtm/services/emtm/internal/pde"
)

// ClaimOf is the pharmacy claim of a Part D event, the same whichever file
// it came from (a RIF PDE line or a Blue Button EOB): identifiers verbatim
// (ingestion validates them: CMS's placeholder prescriber and pharmacy ids
// are no NPIs and are rejected as such), the drug by its NDC only (neither
// source names it the same way), TOT_RX_CST_AMT as the total.
func ClaimOf(e pde.Event) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: e.ClaimID, MemberId: e.BeneficiaryID, ContractId: e.Contract, PbpId: e.PBP,
		DateOfService: e.FillDate.Proto(), Ndc11: e.NDC11, QuantityMilli: e.QuantityMilli, DaysSupply: e.DaysSupply,
		FillNumber: e.FillNumber, PrescriberNpi: e.PrescriberID, PharmacyNpi: e.PharmacyID,
		PatientPayCents: e.PatientPay, TotalCents: e.TotalCents, Status: claimsv1.ClaimStatus_CLAIM_STATUS_PAID,
	}
}

// PDEWork is the work of PDE files: the beneficiaries' enrollment spans
// first, then each beneficiary's events in file order; a DELETE of an event
// the files never inserted is sent as the reversal of the one imported
// before, dated today.
func PDEWork(a pde.Applied, spans []pde.Span, today civil.Date) Work {
	w := Work{ByMember: map[string][]Submission{}, Read: map[string]int{}, Skipped: map[string]int{}}
	for _, s := range spans {
		e := &enrollmentv1.Enrollment{EnrollmentId: s.ID(), MemberId: s.Beneficiary, ContractId: s.Plan.Contract, PbpId: s.Plan.PBP,
			StartDate: s.Start.Proto(), EndDate: s.End.Proto()}
		if s.Deceased {
			e.EndReason = enrollmentv1.EndReason_END_REASON_DECEASED
		}
		w.First = append(w.First, Submission{"enrollment", e})
	}
	for _, e := range a.Events {
		w.ByMember[e.BeneficiaryID] = append(w.ByMember[e.BeneficiaryID], Submission{"claim", ClaimOf(e)})
	}
	for _, e := range a.Deleted {
		w.ByMember[e.BeneficiaryID] = append(w.ByMember[e.BeneficiaryID], Submission{"reversal", &claimsv1.ClaimReversal{
			ClaimId: e.ClaimID, MemberId: e.BeneficiaryID, ContractId: e.Contract, PbpId: e.PBP, PharmacyNpi: e.PharmacyID,
			ReversalDate: today.Proto(), Reason: "PDE DELETE"}})
	}
	for k, n := range map[string]int{"enrollment span": len(spans), "claim": len(a.Events), "deletion": len(a.Deleted)} {
		if n > 0 {
			w.Read[k] = n
		}
	}
	return w
}

// SignFlipped reports whether b repeats a under a claim id that differs only
// in its minus sign (the Blue Button sandbox serves each synthetic fill twice
// so): every other column equal.
func SignFlipped(a, b pde.Event) bool {
	if a.ClaimID == b.ClaimID || strings.TrimPrefix(a.ClaimID, "-") != strings.TrimPrefix(b.ClaimID, "-") {
		return false
	}
	b.ClaimID, b.Line = a.ClaimID, a.Line
	return a == b
}

// EOBWork is the work of Blue Button pharmacy EOBs, each beneficiary's in file
// order. A fill repeated under its sign-flipped id is sent once (the first),
// and the repeats are named in dupes.
func EOBWork(events []pde.Event) (w Work, dupes []string) {
	w = Work{ByMember: map[string][]Submission{}, Read: map[string]int{}, Skipped: map[string]int{}}
	byAbs := map[string]pde.Event{}
	for _, e := range events {
		w.Read["claim"]++
		key := strings.TrimPrefix(e.ClaimID, "-")
		if first, ok := byAbs[key]; ok && SignFlipped(first, e) {
			w.Skipped["claim:sign-flipped repeat"]++
			dupes = append(dupes, fmt.Sprintf("%s repeats %s", e.ClaimID, first.ClaimID))
			continue
		}
		if _, ok := byAbs[key]; !ok {
			byAbs[key] = e
		}
		w.ByMember[e.BeneficiaryID] = append(w.ByMember[e.BeneficiaryID], Submission{"claim", ClaimOf(e)})
	}
	return w, dupes
}

// SettingOf is the care setting of a Parts A/B claim type: INPATIENT and SNF
// stays (their discharges schedule reconciliations), HOSPICE periods (they
// exclude the member from the measures), emergency visits (by their revenue
// center or place of service), and OTHER for the rest (outpatient, carrier,
// home health, DME), whose amounts still count as spending.
func SettingOf(s bluebutton.Summary) medicalv1.CareSetting {
	switch s.ClaimType {
	case "INPATIENT":
		return medicalv1.CareSetting_CARE_SETTING_INPATIENT
	case "SNF":
		return medicalv1.CareSetting_CARE_SETTING_SNF
	case "HOSPICE":
		return medicalv1.CareSetting_CARE_SETTING_HOSPICE
	}
	if s.Emergency {
		return medicalv1.CareSetting_CARE_SETTING_EMERGENCY
	}
	return medicalv1.CareSetting_CARE_SETTING_OTHER
}

// SummaryOf is the Parts A/B summary of a claim, in plan (empty:
// unattributed). Its month is the claim's through date's (billablePeriod.end,
// else start): our reading of how a claim is assigned to a performance year,
// as CMS's claim files date claims by their through date. The MBI is left
// out: member_id keys the member, and BFD's synthetic MBIs (S in position 2)
// are no valid MBIs. A claim without a payment amount is cost_unknown.
func SummaryOf(s bluebutton.Summary, plan Plan) *medicalv1.PartsAbSummary {
	month := s.End
	if month.IsZero() {
		month = s.Start
	}
	out := &medicalv1.PartsAbSummary{SummaryId: s.EOBID, MemberId: s.BeneficiaryID, ContractId: plan.Contract, PbpId: plan.PBP,
		ServiceMonth: &typesv1.YearMonth{Year: int32(month.Year), Month: int32(month.Month)}, Setting: SettingOf(s),
		CostCents: s.PaymentCents, CostUnknown: !s.HasPayment, AdmitDate: s.Start.Proto()}
	switch out.Setting {
	case medicalv1.CareSetting_CARE_SETTING_INPATIENT, medicalv1.CareSetting_CARE_SETTING_SNF, medicalv1.CareSetting_CARE_SETTING_HOSPICE:
		if !s.End.IsZero() {
			out.DischargeDate = s.End.Proto()
		}
	}
	return out
}

// AB2DWork is the work of Parts A/B EOBs (pharmacy EOBs are skipped: they are
// Part D events, imported with `import eob`).
func AB2DWork(summaries []bluebutton.Summary, plan Plan) Work {
	w := Work{ByMember: map[string][]Submission{}, Read: map[string]int{}, Skipped: map[string]int{}}
	for _, s := range summaries {
		w.Read[strings.ToLower(s.ClaimType)]++
		if s.ClaimType == "PDE" {
			w.Skipped["PDE (a Part D event: import eob)"]++
			continue
		}
		w.Last = append(w.Last, Submission{"medical", SummaryOf(s, plan)})
	}
	return w
}
