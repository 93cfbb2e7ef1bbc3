// Package validate checks submissions field by field and returns them in
// their stored form (NDC in 11 digits, MBI without dashes, ingredients in
// lower case). Every problem is reported at once, each naming its field.
// Rules: domain.md section 5 (CMS MBI format; NPI Luhn; NDC 11-digit; SNOMED CT
// Verhoeff), NCPDP Telecommunication Standard D.0 field ranges.
package validate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/taskid"
)

// Violation is one field's problem.
type Violation struct {
	Field       string
	Reason      string
	Description string
}

// Rules carries what validation depends on besides the message.
type Rules struct {
	// Today is the current date in the plan's time zone; later dates are rejected.
	Today civil.Date
	// Enrollment lists the member's known enrollment spans. When it is not
	// empty, a claim's date of service (an encounter's service date) must fall
	// in a span of the same plan; when it is empty the check does not apply
	// (intake holds such a claim until the member's enrollment arrives).
	Enrollment []Span
	// Plans are the plans (contract-pbp, e.g. S9925-001) the sponsor runs: an
	// event naming another is rejected (UNKNOWN_PLAN). Empty: not checked.
	Plans []string
	// Limits bound amounts and quantities (zero fields: DefaultLimits').
	Limits Limits
}

// Limits are the sane ranges of amounts and quantities; a value outside is
// rejected before it reaches a sum. Readings (domain.md section 7):
//   - claim amounts: NCPDP Telecommunication Standard D.0 dollar fields
//     (ingredient cost 409-D9, dispensing fee 412-DC, patient pay 505-F5, gross
//     amount due 430-DU) are s9(6)v99: at most $999,999.99 each;
//   - quantity: NCPDP 442-E7 quantity dispensed is 9(7)v999: at most
//     9,999,999.999 units;
//   - a Parts A/B summary is one member's month in one setting; no source
//     bounds it, and $10,000,000.00 is far above any month CMS has paid for one
//     beneficiary, yet keeps a member-year sum millions of times below int64.
type Limits struct {
	MaxClaimCents    int64
	MaxQuantityMilli int64
	MaxMedicalCents  int64
}

// DefaultLimits are the limits above.
var DefaultLimits = Limits{MaxClaimCents: 99_999_999, MaxQuantityMilli: 9_999_999_999, MaxMedicalCents: 1_000_000_000}

func (r Rules) limits() Limits {
	l := r.Limits
	if l.MaxClaimCents <= 0 {
		l.MaxClaimCents = DefaultLimits.MaxClaimCents
	}
	if l.MaxQuantityMilli <= 0 {
		l.MaxQuantityMilli = DefaultLimits.MaxQuantityMilli
	}
	if l.MaxMedicalCents <= 0 {
		l.MaxMedicalCents = DefaultLimits.MaxMedicalCents
	}
	return l
}

// Span is one enrollment span of a member in a plan.
type Span struct {
	Contract, PBP string
	Start         civil.Date
	End           civil.Date // inclusive; zero while enrolled
}

// Covers reports whether the span includes d.
func (s Span) Covers(d civil.Date) bool {
	return !d.Before(s.Start) && (s.End.IsZero() || !d.After(s.End))
}

func (s Span) String() string {
	end := "open"
	if !s.End.IsZero() {
		end = s.End.String()
	}
	return fmt.Sprintf("%s-%s %s..%s", s.Contract, s.PBP, s.Start, end)
}

// enrolled checks d against the known spans of the plan (domain.md section 5:
// the date of service must be in enrollment when enrollment is known).
func (c *checker) enrolled(field string, d civil.Date, contract, pbp string, r Rules) {
	if len(r.Enrollment) == 0 || !d.Valid() {
		return
	}
	for _, sp := range r.Enrollment {
		if sp.Contract == contract && sp.PBP == pbp && sp.Covers(d) {
			return
		}
	}
	known := make([]string, 0, 3)
	for i, sp := range r.Enrollment {
		if i == 3 {
			known = append(known, fmt.Sprintf("and %d more", len(r.Enrollment)-3))
			break
		}
		known = append(known, sp.String())
	}
	c.add(field, "NOT_ENROLLED", "%s %s is outside the member's enrollment in %s-%s (known spans: %s)",
		field, d, contract, pbp, strings.Join(known, ", "))
}

// Part D began on 2006-01-01: no earlier date of service is a Part D claim.
var partDStart = civil.Date{Year: 2006, Month: time.January, Day: 1}

var (
	// idPattern: letters, digits and . _ : / -, starting with a letter or a
	// digit, or with a minus sign before one: CMS's synthetic data (BFD,
	// AB2D, Blue Button sandbox) uses negative ids so that they never collide
	// with real ones, and an import keeps them verbatim.
	idPattern       = regexp.MustCompile(`^-?[A-Za-z0-9][A-Za-z0-9._:/-]{0,126}$`)
	contractPattern = planid.ContractPattern
	pbpPattern      = planid.PBPPattern
	rxnormPattern   = regexp.MustCompile(`^[0-9]{1,10}$`)
	// ICD-10-CM: a letter (not U), a digit, a digit or letter, then up to four more after an optional dot.
	icd10Pattern = regexp.MustCompile(`^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$`)
)

type checker struct {
	v []Violation
}

func (c *checker) add(field, reason, format string, args ...any) {
	c.v = append(c.v, Violation{Field: field, Reason: reason, Description: fmt.Sprintf(format, args...)})
}

func (c *checker) id(field, value string) {
	switch {
	case value == "":
		c.add(field, "REQUIRED", "%s is required", field)
	case !idPattern.MatchString(value):
		c.add(field, "ID_FORMAT", "%s must be 1-128 characters of letters, digits and . _ : / - starting with a letter or digit (or a minus sign and one)", field)
	}
}

func (c *checker) plan(contract, pbp *string) {
	*contract = strings.ToUpper(strings.TrimSpace(*contract))
	*pbp = strings.TrimSpace(*pbp)
	if !contractPattern.MatchString(*contract) {
		c.add("contract_id", "CONTRACT_FORMAT", "contract_id must be a letter and four digits (e.g. S1234), got %q", *contract)
	}
	if !pbpPattern.MatchString(*pbp) {
		c.add("pbp_id", "PBP_FORMAT", "pbp_id must be three digits (e.g. 001), got %q", *pbp)
	}
}

func (c *checker) code(field string, err error) {
	if err == nil {
		return
	}
	reason := "INVALID"
	if e, ok := err.(*identifiers.Error); ok {
		reason = e.Reason
	}
	c.add(field, reason, "%s: %s", field, err.Error())
}

func (c *checker) npi(field string, value *string) {
	n, err := identifiers.NPI(*value)
	c.code(field, err)
	if err == nil {
		*value = n
	}
}

func (c *checker) mbi(value *string) {
	if strings.TrimSpace(*value) == "" {
		*value = ""
		return
	}
	m, err := identifiers.MBI(*value)
	c.code("mbi", err)
	if err == nil {
		*value = m
	}
}

// date checks a required (or optional) date that must not be in the future.
func (c *checker) date(field string, d *typesv1.Date, required bool, r Rules) civil.Date {
	if d == nil {
		if required {
			c.add(field, "REQUIRED", "%s is required", field)
		}
		return civil.Date{}
	}
	cd := civil.FromProto(d)
	switch {
	case !cd.Valid():
		c.add(field, "DATE_INVALID", "%s %04d-%02d-%02d is not a calendar date", field, d.Year, d.Month, d.Day)
	case cd.After(r.Today):
		c.add(field, "DATE_FUTURE", "%s %s is after today (%s)", field, cd, r.Today)
	}
	return cd
}

func (c *checker) money(field string, cents, max int64) {
	switch {
	case cents < 0:
		c.add(field, "MONEY_NEGATIVE", "%s must not be negative, got %d cents", field, cents)
	case cents > max:
		c.add(field, "MONEY_RANGE", "%s must be at most %d cents (%s), got %d", field, max, money.Dollars(max), cents)
	}
}

// known checks that the sponsor runs the plan (after plan normalised it).
func (c *checker) known(contract, pbp string, r Rules) {
	if len(r.Plans) == 0 || !contractPattern.MatchString(contract) || !pbpPattern.MatchString(pbp) {
		return
	}
	if !slices.Contains(r.Plans, planid.Key(contract, pbp)) {
		c.add("contract_id", "UNKNOWN_PLAN", "plan %s-%s is not one this sponsor runs (%s); send it to that plan's sponsor",
			contract, pbp, strings.Join(r.Plans, ", "))
	}
}

// ClaimEnrollment is Claim's enrollment check of a claim that Claim, under
// rules with no enrollment, found valid (c is what it returned): whether its
// date of service falls in a span of its plan among r.Enrollment. It lets a
// claim be checked before its member's spans are read, and against them
// after (ingestion reads them in the same round trip as it reserves the
// claim's id); a claim it finds a violation in is checked again by Claim.
func ClaimEnrollment(c *claimsv1.PharmacyClaim, r Rules) []Violation {
	var k checker
	k.enrolled("date_of_service", civil.FromProto(c.DateOfService), c.ContractId, c.PbpId, r)
	return k.v
}

// Claim validates a paid pharmacy claim and returns its stored form.
func Claim(in *claimsv1.PharmacyClaim, r Rules) (*claimsv1.PharmacyClaim, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "claim", Reason: "REQUIRED", Description: "claim is required"}}
	}
	c := proto.Clone(in).(*claimsv1.PharmacyClaim)
	c.Meta = nil
	var k checker
	k.id("claim_id", c.ClaimId)
	k.id("member_id", c.MemberId)
	k.mbi(&c.Mbi)
	k.plan(&c.ContractId, &c.PbpId)
	k.known(c.ContractId, c.PbpId, r)
	lim := r.limits()
	dos := k.date("date_of_service", c.DateOfService, true, r)
	if dos.Valid() && dos.Before(partDStart) {
		k.add("date_of_service", "DATE_BEFORE_PART_D", "date_of_service %s is before Part D began (2006-01-01)", dos)
	} else if !dos.After(r.Today) {
		k.enrolled("date_of_service", dos, c.ContractId, c.PbpId, r)
	}
	if c.Ndc11 == "" && c.RxnormCode == "" {
		k.add("ndc11", "DRUG_REQUIRED", "ndc11 or rxnorm_code is required to identify the drug")
	}
	if c.Ndc11 != "" {
		n, err := identifiers.NDC(c.Ndc11)
		k.code("ndc11", err)
		if err == nil {
			c.Ndc11 = n
		}
	}
	if c.RxnormCode != "" && !rxnormPattern.MatchString(c.RxnormCode) {
		k.add("rxnorm_code", "RXNORM_FORMAT", "rxnorm_code must be 1-10 digits (an RXCUI), got %q", c.RxnormCode)
	}
	if len(c.Ingredients) > MaxIngredients {
		k.add("ingredients", "TOO_MANY", "at most %d ingredients per drug, got %d", MaxIngredients, len(c.Ingredients))
	}
	for i, ing := range c.Ingredients {
		c.Ingredients[i] = strings.ToLower(strings.TrimSpace(ing))
		if c.Ingredients[i] == "" {
			k.add(fmt.Sprintf("ingredients[%d]", i), "REQUIRED", "ingredient %d is empty", i)
		}
	}
	if c.QuantityMilli <= 0 || c.QuantityMilli > lim.MaxQuantityMilli {
		k.add("quantity_milli", "QUANTITY_RANGE", "quantity_milli must be 1..%d (thousandths of a unit), got %d", lim.MaxQuantityMilli, c.QuantityMilli)
	}
	if c.DaysSupply < 1 || c.DaysSupply > 365 {
		k.add("days_supply", "DAYS_SUPPLY_RANGE", "days_supply must be 1..365, got %d", c.DaysSupply)
	}
	if c.FillNumber < 0 || c.FillNumber > 99 {
		k.add("fill_number", "FILL_NUMBER_RANGE", "fill_number must be 0..99 (NCPDP 403-D3), got %d", c.FillNumber)
	}
	k.npi("prescriber_npi", &c.PrescriberNpi)
	k.npi("pharmacy_npi", &c.PharmacyNpi)
	k.money("ingredient_cost_cents", c.IngredientCostCents, lim.MaxClaimCents)
	k.money("dispensing_fee_cents", c.DispensingFeeCents, lim.MaxClaimCents)
	k.money("patient_pay_cents", c.PatientPayCents, lim.MaxClaimCents)
	k.money("total_cents", c.TotalCents, lim.MaxClaimCents)
	switch c.Status {
	case claimsv1.ClaimStatus_CLAIM_STATUS_UNSPECIFIED:
		c.Status = claimsv1.ClaimStatus_CLAIM_STATUS_PAID
	case claimsv1.ClaimStatus_CLAIM_STATUS_REVERSED:
		k.add("status", "STATUS_REVERSED", "a reversed claim is sent as a ClaimReversal naming the claim_id")
	}
	k.date("birth_date", c.BirthDate, false, r)
	k.text(c.ProtoReflect(), "")
	return c, k.v
}

// Reversal validates a claim reversal.
func Reversal(in *claimsv1.ClaimReversal, r Rules) (*claimsv1.ClaimReversal, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "reversal", Reason: "REQUIRED", Description: "reversal is required"}}
	}
	c := proto.Clone(in).(*claimsv1.ClaimReversal)
	c.Meta = nil
	var k checker
	k.id("claim_id", c.ClaimId)
	k.id("member_id", c.MemberId)
	k.plan(&c.ContractId, &c.PbpId)
	k.known(c.ContractId, c.PbpId, r)
	k.npi("pharmacy_npi", &c.PharmacyNpi)
	if rd := k.date("reversal_date", c.ReversalDate, true, r); rd.Valid() && rd.Before(partDStart) {
		k.add("reversal_date", "DATE_BEFORE_PART_D", "reversal_date %s is before Part D began (2006-01-01)", rd)
	}
	k.text(c.ProtoReflect(), "")
	return c, k.v
}

// Encounter validates an MTM encounter.
func Encounter(in *encountersv1.MtmEncounter, r Rules) (*encountersv1.MtmEncounter, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "encounter", Reason: "REQUIRED", Description: "encounter is required"}}
	}
	e := proto.Clone(in).(*encountersv1.MtmEncounter)
	e.Meta = nil
	var k checker
	k.id("encounter_id", e.EncounterId)
	k.id("member_id", e.MemberId)
	k.mbi(&e.Mbi)
	k.plan(&e.ContractId, &e.PbpId)
	k.known(e.ContractId, e.PbpId, r)
	if sd := k.date("service_date", e.ServiceDate, true, r); !sd.After(r.Today) {
		k.enrolled("service_date", sd, e.ContractId, e.PbpId, r)
	}
	if len(e.ServiceCodes) == 0 {
		k.add("service_codes", "REQUIRED", "at least one SNOMED CT service code is required")
	} else if len(e.ServiceCodes) > MaxServiceCodes {
		k.add("service_codes", "TOO_MANY", "at most %d service codes per encounter, got %d", MaxServiceCodes, len(e.ServiceCodes))
	}
	for i, sc := range e.ServiceCodes {
		code, err := identifiers.SNOMED(sc)
		k.code(fmt.Sprintf("service_codes[%d]", i), err)
		if err == nil {
			e.ServiceCodes[i] = code
		}
	}
	k.npi("pharmacist_npi", &e.PharmacistNpi)
	k.npi("pharmacy_npi", &e.PharmacyNpi)
	if e.Minutes < 0 || e.Minutes > 600 {
		k.add("minutes", "MINUTES_RANGE", "minutes must be 0..600, got %d", e.Minutes)
	}
	if e.DeliveryMode == encountersv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED {
		k.add("delivery_mode", "REQUIRED", "delivery_mode is required")
	}
	if e.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_UNSPECIFIED {
		k.add("outcome", "REQUIRED", "outcome is required")
	}
	if e.ProblemsFound < 0 || e.ProblemsResolved < 0 || e.ProblemsResolved > e.ProblemsFound {
		k.add("problems_resolved", "PROBLEMS_RANGE", "problems found and resolved must be non-negative, resolved <= found (got %d of %d)", e.ProblemsResolved, e.ProblemsFound)
	}
	k.taskKind(e)
	if len(e.PrescriberResponses) > 100 {
		k.add("prescriber_responses", "TOO_MANY", "at most 100 prescriber responses per encounter, got %d", len(e.PrescriberResponses))
	}
	e.ProblemsFound, e.ProblemsResolved = k.problems(e, e.ProblemsFound, e.ProblemsResolved)
	for i, r := range e.PrescriberResponses {
		at := fmt.Sprintf("prescriber_responses[%d]", i)
		k.npi(at+".prescriber_npi", &r.PrescriberNpi)
		if strings.TrimSpace(r.ProblemKey) == "" || len(r.ProblemKey) > 100 {
			k.add(at+".problem_key", "REQUIRED", "the problem's key (e.g. BEERS:glyburide, as in the outreach letter) is required, at most 100 characters")
		}
		if len(r.Note) > 2000 {
			k.add(at+".note", "TOO_LONG", "at most 2000 characters, got %d", len(r.Note))
		}
	}
	k.text(e.ProtoReflect(), "")
	return e, k.v
}

// problems checks the medication-related problems a pharmacist recorded and
// the recommendations made about them: each problem has an id (unique in the
// encounter) and a SNOMED CT code; each recommendation names a prescriber by
// NPI and one of the encounter's problems. Problems sent as a list count
// themselves: found and resolved come from the list when it is not empty.
func (c *checker) problems(e *encountersv1.MtmEncounter, found, resolved int32) (int32, int32) {
	if len(e.Problems) > MaxProblems {
		c.add("problems", "TOO_MANY", "at most %d problems per encounter, got %d", MaxProblems, len(e.Problems))
		return found, resolved
	}
	if len(e.Recommendations) > MaxProblems {
		c.add("recommendations", "TOO_MANY", "at most %d recommendations per encounter, got %d", MaxProblems, len(e.Recommendations))
		return found, resolved
	}
	ids := map[string]bool{}
	var nFound, nResolved int32
	for i, p := range e.Problems {
		at := fmt.Sprintf("problems[%d]", i)
		p.ProblemId = strings.TrimSpace(p.ProblemId)
		switch {
		case p.ProblemId == "" || len(p.ProblemId) > 100:
			c.add(at+".problem_id", "REQUIRED", "the problem's id (1-100 characters) is required")
		case ids[p.ProblemId]:
			c.add(at+".problem_id", "DUPLICATE", "problem %s appears twice in the encounter", p.ProblemId)
		}
		ids[p.ProblemId] = true
		code, err := identifiers.SNOMED(p.Code)
		c.code(at+".code", err)
		if err == nil {
			p.Code = code
		}
		if p.OnsetDate != nil && !civil.FromProto(p.OnsetDate).Valid() {
			c.add(at+".onset_date", "DATE_INVALID", "%s.onset_date is not a calendar date", at)
		}
		nFound++
		if p.Resolved {
			nResolved++
		}
	}
	for i, r := range e.Recommendations {
		at := fmt.Sprintf("recommendations[%d]", i)
		c.npi(at+".prescriber_npi", &r.PrescriberNpi)
		if !ids[strings.TrimSpace(r.ProblemId)] {
			c.add(at+".problem_id", "UNKNOWN_PROBLEM", "recommendation %d names problem %q, which is not among the encounter's problems", i, r.ProblemId)
		}
		if r.Code != "" {
			code, err := identifiers.SNOMED(r.Code)
			c.code(at+".code", err)
			if err == nil {
				r.Code = code
			}
		}
		if strings.TrimSpace(r.Text) == "" {
			c.add(at+".text", "REQUIRED", "what the pharmacist recommends is required")
		}
	}
	if len(e.Problems) == 0 {
		return found, resolved
	}
	return nFound, nResolved
}

// taskKind checks the kind of the task an encounter fulfils, and fills it
// from task_id when the pharmacy did not send it: downstream (fees) reads the
// field, never the id.
func (c *checker) taskKind(e *encountersv1.MtmEncounter) {
	e.TaskKind = strings.ToUpper(strings.TrimSpace(e.TaskKind))
	named := taskid.Kind(e.TaskId)
	switch {
	case e.TaskKind == "":
		e.TaskKind = named
	case !taskid.IsKind(e.TaskKind):
		c.add("task_kind", "TASK_KIND", "task_kind %q is not a task kind; use one of %s", e.TaskKind, strings.Join(enums.Names[schedulingv1.TaskKind](), ", "))
	case named != "" && named != e.TaskKind:
		c.add("task_kind", "TASK_KIND_MISMATCH", "task_kind %s is not the kind of task %s (%s)", e.TaskKind, e.TaskId, named)
	}
}

// Enrollment validates an enrollment span.
func Enrollment(in *enrollmentv1.Enrollment, r Rules) (*enrollmentv1.Enrollment, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "enrollment", Reason: "REQUIRED", Description: "enrollment is required"}}
	}
	e := proto.Clone(in).(*enrollmentv1.Enrollment)
	e.Meta = nil
	var k checker
	k.id("enrollment_id", e.EnrollmentId)
	k.id("member_id", e.MemberId)
	k.mbi(&e.Mbi)
	k.plan(&e.ContractId, &e.PbpId)
	k.known(e.ContractId, e.PbpId, r)
	start := k.date("start_date", e.StartDate, true, r)
	if e.EndDate != nil {
		end := civil.FromProto(e.EndDate)
		if !end.Valid() {
			k.add("end_date", "DATE_INVALID", "end_date is not a calendar date")
		} else if start.Valid() && end.Before(start) {
			k.add("end_date", "DATE_ORDER", "end_date %s is before start_date %s", end, start)
		}
	}
	k.date("birth_date", e.BirthDate, false, r)
	if e.HospiceStart != nil {
		h := k.date("hospice_start", e.HospiceStart, false, r)
		end := civil.FromProto(e.EndDate)
		if h.Valid() && start.Valid() && (h.Before(start) || (!end.IsZero() && h.After(end))) {
			k.add("hospice_start", "DATE_ORDER", "hospice_start %s is outside the enrollment span (%s to %s)", h, start, orOpen(end))
		}
	}
	k.text(e.ProtoReflect(), "")
	return e, k.v
}

func orOpen(d civil.Date) string {
	if d.IsZero() {
		return "open"
	}
	return d.String()
}

// PartsAbSummary validates a Parts A/B claim summary.
func PartsAbSummary(in *medicalv1.PartsAbSummary, r Rules) (*medicalv1.PartsAbSummary, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "summary", Reason: "REQUIRED", Description: "summary is required"}}
	}
	s := proto.Clone(in).(*medicalv1.PartsAbSummary)
	s.Meta = nil
	var k checker
	k.id("summary_id", s.SummaryId)
	k.id("member_id", s.MemberId)
	k.mbi(&s.Mbi)
	if s.ContractId != "" || s.PbpId != "" {
		k.plan(&s.ContractId, &s.PbpId)
		k.known(s.ContractId, s.PbpId, r)
	}
	m := s.ServiceMonth
	switch {
	case m == nil:
		k.add("service_month", "REQUIRED", "service_month is required")
	case m.Month < 1 || m.Month > 12 || m.Year < 2006:
		k.add("service_month", "MONTH_INVALID", "service_month %04d-%02d is not a month since 2006", m.Year, m.Month)
	case (civil.Date{Year: int(m.Year), Month: time.Month(m.Month), Day: 1}).After(r.Today):
		k.add("service_month", "DATE_FUTURE", "service_month %04d-%02d is in the future", m.Year, m.Month)
	}
	if s.Setting == medicalv1.CareSetting_CARE_SETTING_UNSPECIFIED {
		k.add("setting", "REQUIRED", "setting is required (inpatient, emergency, other, hospice or snf)")
	}
	k.money("cost_cents", s.CostCents, r.limits().MaxMedicalCents)
	if s.CostUnknown && s.CostCents != 0 {
		k.add("cost_cents", "COST_CONFLICT", "cost_unknown says the source carried no amount, yet cost_cents is %d", s.CostCents)
	}
	k.date("admit_date", s.AdmitDate, false, r)
	k.date("discharge_date", s.DischargeDate, false, r)
	k.text(s.ProtoReflect(), "")
	return s, k.v
}

// Condition validates a diagnosis.
func Condition(in *medicalv1.Condition, r Rules) (*medicalv1.Condition, []Violation) {
	if in == nil {
		return nil, []Violation{{Field: "condition", Reason: "REQUIRED", Description: "condition is required"}}
	}
	c := proto.Clone(in).(*medicalv1.Condition)
	c.Meta = nil
	var k checker
	k.id("condition_id", c.ConditionId)
	k.id("member_id", c.MemberId)
	k.mbi(&c.Mbi)
	c.Code = strings.ToUpper(strings.TrimSpace(c.Code))
	switch c.CodeSystem {
	case medicalv1.CodeSystem_CODE_SYSTEM_SNOMED_CT:
		code, err := identifiers.SNOMED(c.Code)
		k.code("code", err)
		if err == nil {
			c.Code = code
		}
	case medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM:
		if !icd10Pattern.MatchString(c.Code) {
			k.add("code", "ICD10_FORMAT", "code %q is not an ICD-10-CM code (e.g. E11.9)", c.Code)
		}
	default:
		k.add("code_system", "REQUIRED", "code_system is required (SNOMED CT or ICD-10-CM)")
	}
	onset := k.date("onset_date", c.OnsetDate, true, r)
	if c.ResolvedDate != nil {
		res := k.date("resolved_date", c.ResolvedDate, false, r)
		if res.Valid() && onset.Valid() && res.Before(onset) {
			k.add("resolved_date", "DATE_ORDER", "resolved_date %s is before onset_date %s", res, onset)
		}
	}
	k.text(c.ProtoReflect(), "")
	return c, k.v
}
