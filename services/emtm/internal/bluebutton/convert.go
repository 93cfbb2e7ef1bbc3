package bluebutton

import (
	"fmt"
	"strconv"
	"strings"

	d4 "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	eobpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/explanation_of_benefit_go_proto"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/emtm/internal/pde"
)

// PartD converts a pharmacy EOB (eob-type PDE) into a Part D event with the
// columns of docs/interchange.md, first match winning for each.
func PartD(r Resource) (pde.Event, *Error) {
	e := r.EOB
	c := conv{n: r.N, id: e.GetId().GetValue()}
	ev := pde.Event{Line: r.N, DML: pde.Insert}
	for _, id := range e.GetIdentifier() {
		if id.GetSystem().GetValue() == PDEIDSystem {
			ev.ClaimID = strings.TrimSpace(id.GetValue().GetValue())
			break
		}
	}
	if ev.ClaimID == "" {
		ev.ClaimID = strings.TrimPrefix(c.id, "pde-")
	}
	if ev.ClaimID == "" {
		c.fail("ExplanationOfBenefit.identifier", "FHIR_REQUIRED", "no identifier of system %s and no resource id", PDEIDSystem)
	}
	ev.BeneficiaryID = patient(e.GetPatient())
	if ev.BeneficiaryID == "" {
		c.fail("ExplanationOfBenefit.patient", "FHIR_REQUIRED", "patient must reference Patient/<id>")
	}
	items := e.GetItem()
	var item *eobpb.ExplanationOfBenefit_Item
	if len(items) > 0 {
		item = items[0]
	} else {
		c.fail("ExplanationOfBenefit.item", "FHIR_REQUIRED", "a pharmacy EOB has one item, the fill")
	}
	if d := item.GetServiced().GetDate(); d != nil {
		ev.FillDate = civil.OfMicros(d.GetValueUs(), d.GetTimezone())
	} else if s := e.GetBillablePeriod().GetStart(); s != nil {
		ev.FillDate = civil.OfMicros(s.GetValueUs(), s.GetTimezone())
	} else {
		c.fail("ExplanationOfBenefit.item[0].servicedDate", "FHIR_REQUIRED", "no servicedDate and no billablePeriod.start")
	}
	for _, cd := range item.GetProductOrService().GetCoding() {
		if cd.GetSystem().GetValue() == NDCSystem {
			ev.NDC11 = strings.TrimSpace(cd.GetCode().GetValue())
			ev.Description = cd.GetDisplay().GetValue()
			break
		}
	}
	if ev.NDC11 == "" {
		c.fail("ExplanationOfBenefit.item[0].productOrService", "FHIR_REQUIRED", "no coding of system %s", NDCSystem)
	}
	days, path := daysSupply(e, item)
	if days != nil {
		v, err := decimal(days, 0)
		if err != nil || v < 0 || v > 9999 {
			c.fail(path, "FHIR_NUMBER", "days supply %q is not a whole number of days", days.GetValue())
		}
		ev.DaysSupply = int32(v)
	} else {
		c.fail("ExplanationOfBenefit.supportingInfo", "FHIR_REQUIRED", "no supportingInfo of category dayssupply and no %s extension on item[0].quantity", DaysSuplyNum)
	}
	if q := item.GetQuantity().GetValue(); q != nil {
		v, err := decimal(q, 3)
		if err != nil {
			c.fail("ExplanationOfBenefit.item[0].quantity.value", "FHIR_NUMBER", "%v", err)
		}
		ev.QuantityMilli = v
	}
	if amt, path := drugCost(e, item); amt != nil {
		v, err := decimal(amt, 2)
		if err != nil {
			c.fail(path, "FHIR_NUMBER", "%v", err)
		}
		ev.TotalCents = v
	}
	if amt := adjudication(item, PtntPayAmt); amt != nil {
		ev.PatientPay, _ = decimal(amt, 2)
	}
	ev.PrescriberID = prescriber(e)
	ev.PharmacyID = strings.TrimSpace(e.GetFacility().GetIdentifier().GetValue().GetValue())
	if ev.PharmacyID == "" {
		ev.PharmacyID = strings.TrimSpace(e.GetProvider().GetIdentifier().GetValue().GetValue())
	}
	for _, in := range e.GetInsurance() {
		for _, x := range in.GetCoverage().GetExtension() {
			switch x.GetUrl().GetValue() {
			case PlanContractExt:
				ev.Contract = strings.ToUpper(strings.TrimSpace(x.GetValue().GetIdentifier().GetValue().GetValue()))
			case PlanPBPExt:
				ev.PBP = strings.TrimSpace(x.GetValue().GetIdentifier().GetValue().GetValue())
			}
		}
	}
	for _, si := range e.GetSupportingInfo() {
		if hasCode(si.GetCategory(), "refillnum") {
			if q := si.GetValue().GetQuantity().GetValue(); q != nil {
				if v, err := decimal(q, 0); err == nil && v >= 0 && v <= 9999 {
					ev.FillNumber = int32(v)
				}
			}
		}
	}
	if c.err != nil {
		return pde.Event{}, c.err
	}
	return ev, nil
}

// daysSupply is supportingInfo[category dayssupply].valueQuantity.value, else
// the older shape's item quantity extension days_suply_num.
func daysSupply(e *eobpb.ExplanationOfBenefit, item *eobpb.ExplanationOfBenefit_Item) (*d4.Decimal, string) {
	for i, si := range e.GetSupportingInfo() {
		if hasCode(si.GetCategory(), "dayssupply") {
			if q := si.GetValue().GetQuantity().GetValue(); q != nil {
				return q, fmt.Sprintf("ExplanationOfBenefit.supportingInfo[%d].valueQuantity.value", i)
			}
		}
	}
	for i, x := range item.GetQuantity().GetExtension() {
		if x.GetUrl().GetValue() == DaysSuplyNum {
			if q := x.GetValue().GetQuantity().GetValue(); q != nil {
				return q, fmt.Sprintf("ExplanationOfBenefit.item[0].quantity.extension[%d].valueQuantity.value", i)
			}
		}
	}
	return nil, ""
}

// drugCost is item[0].adjudication[tot_rx_cst_amt].amount, else total[drugcost].
func drugCost(e *eobpb.ExplanationOfBenefit, item *eobpb.ExplanationOfBenefit_Item) (*d4.Decimal, string) {
	if a := adjudication(item, TotRxCstAmt); a != nil {
		return a, "ExplanationOfBenefit.item[0].adjudication.amount"
	}
	for i, t := range e.GetTotal() {
		if hasCode(t.GetCategory(), "drugcost") || hasCode(t.GetCategory(), TotRxCstAmt) {
			return t.GetAmount().GetValue(), fmt.Sprintf("ExplanationOfBenefit.total[%d].amount", i)
		}
	}
	return nil, ""
}

func adjudication(item *eobpb.ExplanationOfBenefit_Item, code string) *d4.Decimal {
	for _, a := range item.GetAdjudication() {
		if hasCode(a.GetCategory(), code) && a.GetAmount().GetValue() != nil {
			return a.GetAmount().GetValue()
		}
	}
	return nil
}

// prescriber is careTeam[role prescribing] (older shape: primary; else the only
// care-team entry) provider.identifier.value.
func prescriber(e *eobpb.ExplanationOfBenefit) string {
	team := e.GetCareTeam()
	for _, role := range []string{"prescribing", "primary"} {
		for _, ct := range team {
			if hasCode(ct.GetRole(), role) {
				return strings.TrimSpace(ct.GetProvider().GetIdentifier().GetValue().GetValue())
			}
		}
	}
	if len(team) == 1 {
		return strings.TrimSpace(team[0].GetProvider().GetIdentifier().GetValue().GetValue())
	}
	return ""
}

// Summary is a Parts A/B claim: the audit print's columns and what a Parts
// A/B summary needs besides.
type Summary struct {
	EOBID         string
	BeneficiaryID string
	MBI           string
	ClaimType     string // the eob-type code
	Start, End    civil.Date
	PaymentCents  int64
	HasPayment    bool // payment.amount was present (AB2D never sends it)
	Emergency     bool // an emergency-room visit (see IsEmergency)
}

// Emergency-room evidence on a claim: an item's revenue center code 0450-0459
// or 0981 (CMS, Medicare Claims Processing Manual ch. 25; ResDAC's ED-visit
// reading of the outpatient file), or an item's place of service 23,
// "Emergency Room - Hospital" (CMS Place of Service code set).
func isEmergency(e *eobpb.ExplanationOfBenefit) bool {
	for _, it := range e.GetItem() {
		for _, cd := range it.GetRevenue().GetCoding() {
			rc := cd.GetCode().GetValue()
			if (len(rc) == 4 && strings.HasPrefix(rc, "045")) || rc == "0981" {
				return true
			}
		}
		for _, cd := range it.GetLocation().GetCodeableConcept().GetCoding() {
			if strings.HasSuffix(cd.GetSystem().GetValue(), "place_of_service") || strings.HasSuffix(cd.GetSystem().GetValue(), "line_place_of_srvc_cd") {
				if cd.GetCode().GetValue() == "23" {
					return true
				}
			}
		}
	}
	return false
}

// PartsAB converts a Parts A/B EOB (any eob-type but PDE).
func PartsAB(r Resource) (Summary, *Error) {
	e := r.EOB
	c := conv{n: r.N, id: e.GetId().GetValue()}
	s := Summary{EOBID: c.id, BeneficiaryID: patient(e.GetPatient()), ClaimType: Type(e), Emergency: isEmergency(e)}
	if s.EOBID == "" {
		c.fail("ExplanationOfBenefit.id", "FHIR_REQUIRED", "the resource has no id")
	}
	if s.BeneficiaryID == "" {
		c.fail("ExplanationOfBenefit.patient", "FHIR_REQUIRED", "patient must reference Patient/<id>")
	}
	if s.ClaimType == "" {
		c.fail("ExplanationOfBenefit.type", "FHIR_REQUIRED", "no coding of system %s", EOBTypeSystem)
	}
	bp := e.GetBillablePeriod()
	if st := bp.GetStart(); st != nil {
		s.Start = civil.OfMicros(st.GetValueUs(), st.GetTimezone())
	} else {
		c.fail("ExplanationOfBenefit.billablePeriod.start", "FHIR_REQUIRED", "the claim's from date is required")
	}
	if en := bp.GetEnd(); en != nil {
		s.End = civil.OfMicros(en.GetValueUs(), en.GetTimezone())
	}
	if amt := e.GetPayment().GetAmount().GetValue(); amt != nil {
		v, err := decimal(amt, 2)
		if err != nil {
			c.fail("ExplanationOfBenefit.payment.amount.value", "FHIR_NUMBER", "%v", err)
		}
		s.PaymentCents, s.HasPayment = v, true
	}
	for _, x := range e.GetExtension() {
		if x.GetUrl().GetValue() == IdentifierExtURL {
			if id := x.GetValue().GetIdentifier(); id.GetSystem().GetValue() == MBISystem {
				s.MBI = id.GetValue().GetValue()
			}
		}
	}
	if c.err != nil {
		return Summary{}, c.err
	}
	return s, nil
}

// AB2DAuditHeader is the AB2D audit print's header (docs/interchange.md).
var AB2DAuditHeader = []string{"eob_id", "beneficiary_id", "claim_type", "start", "end", "total_cents"}

// AuditRow is the summary's audit print row; total_cents is empty when the EOB
// carries no payment.
func (s Summary) AuditRow() []string {
	total := ""
	if s.HasPayment {
		total = strconv.FormatInt(s.PaymentCents, 10)
	}
	end := ""
	if !s.End.IsZero() {
		end = s.End.String()
	}
	return []string{s.EOBID, s.BeneficiaryID, s.ClaimType, s.Start.String(), end, total}
}
