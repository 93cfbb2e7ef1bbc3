package validate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

var rules = Rules{Today: civil.Date{Year: 2024, Month: time.June, Day: 30}, Plans: []string{"S1234-001"}}

func goodClaim() *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: "RX-1", MemberId: "M1", Mbi: "1EG4-TE5-MK73", ContractId: "s1234", PbpId: "001",
		DateOfService: &typesv1.Date{Year: 2024, Month: 3, Day: 10},
		Ndc11:         "0002-3227-30", Ingredients: []string{" Atorvastatin "},
		QuantityMilli: 30000, DaysSupply: 30, PrescriberNpi: "1234567893", PharmacyNpi: "1245319599",
		IngredientCostCents: 1200, DispensingFeeCents: 150, TotalCents: 1350,
	}
}

func TestClaimStoredForm(t *testing.T) {
	c, v := Claim(goodClaim(), rules)
	if len(v) != 0 {
		t.Fatalf("valid claim rejected: %+v", v)
	}
	if c.Ndc11 != "00002322730" || c.Mbi != "1EG4TE5MK73" || c.ContractId != "S1234" ||
		c.Ingredients[0] != "atorvastatin" || c.Status != claimsv1.ClaimStatus_CLAIM_STATUS_PAID {
		t.Fatalf("not normalised: %+v", c)
	}
}

func TestCMSSyntheticNegativeIdsAreAcceptedVerbatim(t *testing.T) {
	in := goodClaim()
	in.ClaimId, in.MemberId = "-100000080", "-1000001"
	c, v := Claim(in, rules)
	if len(v) != 0 {
		t.Fatalf("BFD's negative ids rejected: %+v", v)
	}
	if c.ClaimId != "-100000080" || c.MemberId != "-1000001" {
		t.Fatalf("the sign was not kept: %s %s", c.ClaimId, c.MemberId)
	}
}

func TestClaimViolations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*claimsv1.PharmacyClaim)
		field  string
		reason string
	}{
		{"missing claim id", func(c *claimsv1.PharmacyClaim) { c.ClaimId = "" }, "claim_id", "REQUIRED"},
		{"claim id with spaces", func(c *claimsv1.PharmacyClaim) { c.ClaimId = "a b" }, "claim_id", "ID_FORMAT"},
		{"claim id of two minus signs", func(c *claimsv1.PharmacyClaim) { c.ClaimId = "--100" }, "claim_id", "ID_FORMAT"},
		{"member id of a minus sign alone", func(c *claimsv1.PharmacyClaim) { c.MemberId = "-" }, "member_id", "ID_FORMAT"},
		{"bad MBI", func(c *claimsv1.PharmacyClaim) { c.Mbi = "1SG4TE5MK73" }, "mbi", "MBI_FORMAT"},
		{"bad contract", func(c *claimsv1.PharmacyClaim) { c.ContractId = "1234" }, "contract_id", "CONTRACT_FORMAT"},
		{"bad pbp", func(c *claimsv1.PharmacyClaim) { c.PbpId = "1" }, "pbp_id", "PBP_FORMAT"},
		{"future date", func(c *claimsv1.PharmacyClaim) { c.DateOfService = &typesv1.Date{Year: 2024, Month: 7, Day: 1} }, "date_of_service", "DATE_FUTURE"},
		{"not a date", func(c *claimsv1.PharmacyClaim) { c.DateOfService = &typesv1.Date{Year: 2023, Month: 2, Day: 29} }, "date_of_service", "DATE_INVALID"},
		{"before Part D", func(c *claimsv1.PharmacyClaim) { c.DateOfService = &typesv1.Date{Year: 2005, Month: 12, Day: 31} }, "date_of_service", "DATE_BEFORE_PART_D"},
		{"no date", func(c *claimsv1.PharmacyClaim) { c.DateOfService = nil }, "date_of_service", "REQUIRED"},
		{"ambiguous NDC", func(c *claimsv1.PharmacyClaim) { c.Ndc11 = "0002322730" }, "ndc11", "NDC_AMBIGUOUS"},
		{"no drug", func(c *claimsv1.PharmacyClaim) { c.Ndc11 = "" }, "ndc11", "DRUG_REQUIRED"},
		{"bad rxnorm", func(c *claimsv1.PharmacyClaim) { c.RxnormCode = "R123" }, "rxnorm_code", "RXNORM_FORMAT"},
		{"days supply 0", func(c *claimsv1.PharmacyClaim) { c.DaysSupply = 0 }, "days_supply", "DAYS_SUPPLY_RANGE"},
		{"days supply 366", func(c *claimsv1.PharmacyClaim) { c.DaysSupply = 366 }, "days_supply", "DAYS_SUPPLY_RANGE"},
		{"quantity 0", func(c *claimsv1.PharmacyClaim) { c.QuantityMilli = 0 }, "quantity_milli", "QUANTITY_RANGE"},
		{"fill number", func(c *claimsv1.PharmacyClaim) { c.FillNumber = 100 }, "fill_number", "FILL_NUMBER_RANGE"},
		{"prescriber check digit", func(c *claimsv1.PharmacyClaim) { c.PrescriberNpi = "1234567890" }, "prescriber_npi", "NPI_CHECK_DIGIT"},
		{"pharmacy npi", func(c *claimsv1.PharmacyClaim) { c.PharmacyNpi = "12" }, "pharmacy_npi", "NPI_FORMAT"},
		{"negative cost", func(c *claimsv1.PharmacyClaim) { c.IngredientCostCents = -1 }, "ingredient_cost_cents", "MONEY_NEGATIVE"},
		{"negative total", func(c *claimsv1.PharmacyClaim) { c.TotalCents = -5 }, "total_cents", "MONEY_NEGATIVE"},
		{"reversed status", func(c *claimsv1.PharmacyClaim) { c.Status = claimsv1.ClaimStatus_CLAIM_STATUS_REVERSED }, "status", "STATUS_REVERSED"},
		{"empty ingredient", func(c *claimsv1.PharmacyClaim) { c.Ingredients = []string{" "} }, "ingredients[0]", "REQUIRED"},
		{"future birth date", func(c *claimsv1.PharmacyClaim) { c.BirthDate = &typesv1.Date{Year: 2030, Month: 1, Day: 1} }, "birth_date", "DATE_FUTURE"},
		{"a cost of 2^63-1 cents", func(c *claimsv1.PharmacyClaim) { c.IngredientCostCents = 1<<63 - 1 }, "ingredient_cost_cents", "MONEY_RANGE"},
		{"a total over NCPDP's $999,999.99", func(c *claimsv1.PharmacyClaim) { c.TotalCents = 100_000_000 }, "total_cents", "MONEY_RANGE"},
		{"a quantity over NCPDP's 9,999,999.999", func(c *claimsv1.PharmacyClaim) { c.QuantityMilli = 10_000_000_000 }, "quantity_milli", "QUANTITY_RANGE"},
		{"3,000 ingredients", func(c *claimsv1.PharmacyClaim) {
			c.Ingredients = make([]string, 3000)
			for i := range c.Ingredients {
				c.Ingredients[i] = "made-up"
			}
		}, "ingredients", "TOO_MANY"},
		{"a 60,000-character ingredient", func(c *claimsv1.PharmacyClaim) { c.Ingredients = []string{strings.Repeat("x", 60000)} }, "ingredients[0]", "TOO_LONG"},
		{"an ingredient with a terminal escape", func(c *claimsv1.PharmacyClaim) { c.Ingredients = []string{"atorvastatin\x1b[2J"} }, "ingredients[0]", "CONTROL_CHARACTER"},
		{"a description with a newline", func(c *claimsv1.PharmacyClaim) { c.DrugDescription = "Atorvastatin 20 MG\nPAID IN FULL" }, "drug_description", "CONTROL_CHARACTER"},
		{"a description with a right-to-left override", func(c *claimsv1.PharmacyClaim) { c.DrugDescription = "Atorvastatin \u202e02 GM" }, "drug_description", "CONTROL_CHARACTER"},
		{"a 300-character description", func(c *claimsv1.PharmacyClaim) { c.DrugDescription = strings.Repeat("a", 300) }, "drug_description", "TOO_LONG"},
		{"a plan the sponsor does not run", func(c *claimsv1.PharmacyClaim) { c.ContractId = "H9999" }, "contract_id", "UNKNOWN_PLAN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := goodClaim()
			tt.mutate(in)
			before := proto.Clone(in)
			_, v := Claim(in, rules)
			if len(v) != 1 || v[0].Field != tt.field || v[0].Reason != tt.reason || v[0].Description == "" {
				t.Fatalf("got %+v, want one violation of %s with %s", v, tt.field, tt.reason)
			}
			if !proto.Equal(before, in) {
				t.Fatal("validation changed its input")
			}
		})
	}
}

func TestClaimReportsEveryViolationAtOnce(t *testing.T) {
	_, v := Claim(&claimsv1.PharmacyClaim{}, rules)
	fields := map[string]bool{}
	for _, x := range v {
		fields[x.Field] = true
	}
	for _, f := range []string{"claim_id", "member_id", "contract_id", "pbp_id", "date_of_service", "ndc11", "quantity_milli", "days_supply", "prescriber_npi", "pharmacy_npi"} {
		if !fields[f] {
			t.Errorf("no violation for %s in %+v", f, v)
		}
	}
	if _, v := Claim(nil, rules); len(v) != 1 {
		t.Fatal("a nil claim was not rejected")
	}
}

func TestEncounter(t *testing.T) {
	good := &encountersv1.MtmEncounter{
		EncounterId: "E1", MemberId: "M1", ContractId: "S1234", PbpId: "001",
		ServiceDate:  &typesv1.Date{Year: 2024, Month: 4, Day: 2},
		ServiceCodes: []string{"430193006"}, PharmacistNpi: "1234567893", PharmacyNpi: "1245319599",
		Minutes: 30, DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE,
		Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED, ProblemsFound: 2, ProblemsResolved: 1,
		PrescriberResponses: []*encountersv1.PrescriberResponse{{PrescriberNpi: "1234567893", ProblemKey: "BEERS:glyburide", Accepted: true}},
	}
	if _, v := Encounter(good, rules); len(v) != 0 {
		t.Fatalf("valid encounter rejected: %+v", v)
	}
	bad := proto.Clone(good).(*encountersv1.MtmEncounter)
	bad.ServiceCodes = []string{"430193006", "430193007"}
	bad.ProblemsResolved = 3
	bad.Outcome = 0
	bad.PrescriberResponses = append(bad.PrescriberResponses, &encountersv1.PrescriberResponse{PrescriberNpi: "1234567890", ProblemKey: " "})
	_, v := Encounter(bad, rules)
	var got []string
	for _, x := range v {
		got = append(got, x.Field+":"+x.Reason)
	}
	want := "service_codes[1]:SNOMED_CHECK_DIGIT outcome:REQUIRED problems_resolved:PROBLEMS_RANGE prescriber_responses[1].prescriber_npi:NPI_CHECK_DIGIT prescriber_responses[1].problem_key:REQUIRED"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// The kind of the task an encounter fulfils travels as a field: filled from
// the task id when the pharmacy did not send it, checked when it did.
func TestAnEncounterCarriesTheKindOfItsTask(t *testing.T) {
	tests := []struct {
		name, taskID, kind string
		want, reason       string
	}{
		{"no task", "", "", "", ""},
		{"the kind from the id", "task/M1/CMR/2024", "", "CMR", ""},
		{"an id with a slash in the member", "task/org/M1/TMR/2024-Q2", "", "TMR", ""},
		{"the kind sent, no id", "", "tmr", "TMR", ""},
		{"both, agreeing", "task/M1/POST_DISCHARGE/D2024-04-01", "POST_DISCHARGE", "POST_DISCHARGE", ""},
		{"an id of no known form", "visit-42", "", "", ""},
		{"an unknown kind", "", "MEDREC", "", "task_kind:TASK_KIND"},
		{"both, disagreeing", "task/M1/CMR/2024", "TMR", "", "task_kind:TASK_KIND_MISMATCH"},
	}
	for _, tt := range tests {
		e := &encountersv1.MtmEncounter{
			EncounterId: "E1", MemberId: "M1", ContractId: "S1234", PbpId: "001",
			ServiceDate:  &typesv1.Date{Year: 2024, Month: 4, Day: 2},
			ServiceCodes: []string{"430193006"}, PharmacistNpi: "1234567893", PharmacyNpi: "1245319599",
			DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE,
			Outcome:      encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED, TaskId: tt.taskID, TaskKind: tt.kind,
		}
		out, v := Encounter(e, rules)
		var got []string
		for _, x := range v {
			got = append(got, x.Field+":"+x.Reason)
		}
		if strings.Join(got, " ") != tt.reason {
			t.Errorf("%s: violations %v, want %q", tt.name, got, tt.reason)
			continue
		}
		if tt.reason == "" && out.TaskKind != tt.want {
			t.Errorf("%s: task_kind %q, want %q", tt.name, out.TaskKind, tt.want)
		}
	}
}

func TestDateOfServiceMustBeInEnrollmentWhenKnown(t *testing.T) {
	span := Span{Contract: "S1234", PBP: "001", Start: civil.Date{Year: 2024, Month: 1, Day: 1}, End: civil.Date{Year: 2024, Month: 2, Day: 29}}
	open := Span{Contract: "S1234", PBP: "001", Start: civil.Date{Year: 2024, Month: 3, Day: 5}}
	other := Span{Contract: "S9999", PBP: "001", Start: civil.Date{Year: 2024, Month: 1, Day: 1}}
	tests := []struct {
		name  string
		spans []Span
		dos   *typesv1.Date
		ok    bool
	}{
		{"enrollment unknown", nil, &typesv1.Date{Year: 2024, Month: 3, Day: 1}, true},
		{"inside a span", []Span{span}, &typesv1.Date{Year: 2024, Month: 2, Day: 29}, true},
		{"in the gap", []Span{span, open}, &typesv1.Date{Year: 2024, Month: 3, Day: 1}, false},
		{"in the open span", []Span{span, open}, &typesv1.Date{Year: 2024, Month: 6, Day: 1}, true},
		{"enrolled in another plan only", []Span{other}, &typesv1.Date{Year: 2024, Month: 3, Day: 1}, false},
	}
	for _, tt := range tests {
		c := goodClaim()
		c.DateOfService = tt.dos
		_, v := Claim(c, Rules{Today: rules.Today, Enrollment: tt.spans})
		if tt.ok != (len(v) == 0) || (!tt.ok && (v[0].Field != "date_of_service" || v[0].Reason != "NOT_ENROLLED")) {
			t.Errorf("%s: %+v", tt.name, v)
		}
		// The check alone, on the claim found valid without enrollment,
		// finds what Claim finds with it.
		stored, none := Claim(c, Rules{Today: rules.Today})
		if len(none) != 0 {
			t.Fatalf("%s: without enrollment %+v", tt.name, none)
		}
		if alone := ClaimEnrollment(stored, Rules{Today: rules.Today, Enrollment: tt.spans}); fmt.Sprint(alone) != fmt.Sprint(v) {
			t.Errorf("%s: ClaimEnrollment %+v, Claim %+v", tt.name, alone, v)
		}
	}
}

func TestCondition(t *testing.T) {
	good := func() *medicalv1.Condition {
		return &medicalv1.Condition{ConditionId: "C1", MemberId: "M1", CodeSystem: medicalv1.CodeSystem_CODE_SYSTEM_SNOMED_CT,
			Code: "44054006", OnsetDate: &typesv1.Date{Year: 2010, Month: 1, Day: 1}}
	}
	tests := []struct {
		name   string
		mutate func(*medicalv1.Condition)
		want   string
	}{
		{"valid SNOMED", func(*medicalv1.Condition) {}, ""},
		{"valid ICD-10", func(c *medicalv1.Condition) {
			c.CodeSystem, c.Code = medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM, "e11.9"
		}, ""},
		{"Synthea's alcohol code", func(c *medicalv1.Condition) { c.Code = "10939881000119104" }, "code:SNOMED_CHECK_DIGIT"},
		{"bad ICD-10", func(c *medicalv1.Condition) {
			c.CodeSystem, c.Code = medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM, "U07.1"
		}, "code:ICD10_FORMAT"},
		{"no system", func(c *medicalv1.Condition) { c.CodeSystem = 0 }, "code_system:REQUIRED"},
		{"resolved first", func(c *medicalv1.Condition) { c.ResolvedDate = &typesv1.Date{Year: 2009, Month: 1, Day: 1} }, "resolved_date:DATE_ORDER"},
	}
	for _, tt := range tests {
		c := good()
		tt.mutate(c)
		out, v := Condition(c, rules)
		got := ""
		if len(v) > 0 {
			got = v[0].Field + ":" + v[0].Reason
		}
		if got != tt.want || len(v) > 1 {
			t.Errorf("%s: %+v", tt.name, v)
		}
		if tt.want == "" && tt.name == "valid ICD-10" && out.Code != "E11.9" {
			t.Errorf("ICD-10 not upper-cased: %q", out.Code)
		}
	}
}

func TestEnrollmentHospiceStartFallsInTheSpan(t *testing.T) {
	span := func(hospice *typesv1.Date, end *typesv1.Date) *enrollmentv1.Enrollment {
		return &enrollmentv1.Enrollment{EnrollmentId: "E1", MemberId: "M1", ContractId: "S1234", PbpId: "001",
			StartDate: &typesv1.Date{Year: 2023, Month: 1, Day: 1}, EndDate: end, HospiceStart: hospice}
	}
	if _, v := Enrollment(span(&typesv1.Date{Year: 2024, Month: 2, Day: 1}, nil), rules); len(v) != 0 {
		t.Fatalf("hospice within an open span: %+v", v)
	}
	for _, e := range []*enrollmentv1.Enrollment{
		span(&typesv1.Date{Year: 2022, Month: 12, Day: 31}, nil),
		span(&typesv1.Date{Year: 2024, Month: 3, Day: 1}, &typesv1.Date{Year: 2024, Month: 2, Day: 29}),
	} {
		if _, v := Enrollment(e, rules); len(v) != 1 || v[0].Field != "hospice_start" || v[0].Reason != "DATE_ORDER" {
			t.Errorf("hospice outside the span: %+v", v)
		}
	}
	if _, v := Enrollment(span(&typesv1.Date{Year: 2024, Month: 2, Day: 30}, nil), rules); len(v) != 1 || v[0].Field != "hospice_start" {
		t.Errorf("hospice_start that is no date: %+v", v)
	}
}

func TestAmountsDatesAndPlansOfTheOtherKindsAreBounded(t *testing.T) {
	summary := func(cents int64) *medicalv1.PartsAbSummary {
		return &medicalv1.PartsAbSummary{SummaryId: "AB-1", MemberId: "M1", ContractId: "S1234", PbpId: "001",
			ServiceMonth: &typesv1.YearMonth{Year: 2024, Month: 2}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, CostCents: cents}
	}
	unpriced := func(cents int64) *medicalv1.PartsAbSummary {
		s := summary(cents)
		s.CostUnknown, s.Setting = true, medicalv1.CareSetting_CARE_SETTING_SNF
		return s
	}
	reversal := func(y int32, contract string) *claimsv1.ClaimReversal {
		return &claimsv1.ClaimReversal{ClaimId: "RX-1", MemberId: "M1", ContractId: contract, PbpId: "001", PharmacyNpi: "1245319599",
			ReversalDate: &typesv1.Date{Year: y, Month: 1, Day: 5}}
	}
	cases := []struct {
		name          string
		v             []Violation
		field, reason string
	}{
		{"a Parts A/B month of $10,000,000.00 is within range", second(PartsAbSummary(summary(1_000_000_000), rules)), "", ""},
		{"a Parts A/B month of 2^63-1 cents is not", second(PartsAbSummary(summary(1<<63-1), rules)), "cost_cents", "MONEY_RANGE"},
		{"an unpriced claim (AB2D) with no amount is valid", second(PartsAbSummary(unpriced(0), rules)), "", ""},
		{"an unpriced claim with an amount contradicts itself", second(PartsAbSummary(unpriced(100), rules)), "cost_cents", "COST_CONFLICT"},
		{"a reversal dated before Part D", second(Reversal(reversal(2005, "S1234"), rules)), "reversal_date", "DATE_BEFORE_PART_D"},
		{"a reversal under a plan the sponsor does not run", second(Reversal(reversal(2024, "H9999"), rules)), "contract_id", "UNKNOWN_PLAN"},
		{"an enrollment in a plan the sponsor does not run", second(Enrollment(&enrollmentv1.Enrollment{EnrollmentId: "E1", MemberId: "M1",
			ContractId: "S4321", PbpId: "001", StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}, rules)), "contract_id", "UNKNOWN_PLAN"},
	}
	for _, c := range cases {
		if c.reason == "" {
			if len(c.v) != 0 {
				t.Errorf("%s: %+v", c.name, c.v)
			}
			continue
		}
		if len(c.v) != 1 || c.v[0].Field != c.field || c.v[0].Reason != c.reason {
			t.Errorf("%s: %+v, want one %s on %s", c.name, c.v, c.reason, c.field)
		}
	}
}

func second[T any](_ T, v []Violation) []Violation { return v }

func TestAnEncountersProblemsAndRecommendationsAreChecked(t *testing.T) {
	enc := func() *encountersv1.MtmEncounter {
		return &encountersv1.MtmEncounter{
			EncounterId: "CP-1", MemberId: "M1", ContractId: "S1234", PbpId: "001", ServiceDate: &typesv1.Date{Year: 2024, Month: 4, Day: 2},
			ServiceCodes: []string{"314530002"}, PharmacistNpi: "1234567893", PharmacyNpi: "1245319599",
			DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_IN_PERSON, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
			Problems:        []*encountersv1.MedicationProblem{{ProblemId: "mrp-1", Code: "697958005"}, {ProblemId: "mrp-2", Code: "14760008", Resolved: true}},
			Recommendations: []*encountersv1.Recommendation{{PrescriberNpi: "1234567893", ProblemId: "mrp-1", Text: "once daily"}},
		}
	}
	out, v := Encounter(enc(), rules)
	if len(v) != 0 || out.ProblemsFound != 2 || out.ProblemsResolved != 1 {
		t.Fatalf("%+v %v: the counts come from the list", out, v)
	}
	for _, tt := range []struct {
		name          string
		mutate        func(*encountersv1.MtmEncounter)
		field, reason string
	}{
		{"a problem without an id", func(e *encountersv1.MtmEncounter) { e.Problems[1].ProblemId = " " }, "problems[1].problem_id", "REQUIRED"},
		{"one id twice", func(e *encountersv1.MtmEncounter) { e.Problems[1].ProblemId = "mrp-1" }, "problems[1].problem_id", "DUPLICATE"},
		{"a code that is no SNOMED CT id", func(e *encountersv1.MtmEncounter) { e.Problems[0].Code = "697958006" }, "problems[0].code", "SNOMED_CHECK_DIGIT"},
		{"a recommendation about no problem of the encounter", func(e *encountersv1.MtmEncounter) { e.Recommendations[0].ProblemId = "mrp-9" }, "recommendations[0].problem_id", "UNKNOWN_PROBLEM"},
		{"a prescriber who is no NPI", func(e *encountersv1.MtmEncounter) { e.Recommendations[0].PrescriberNpi = "1234567890" }, "recommendations[0].prescriber_npi", "NPI_CHECK_DIGIT"},
		{"a recommendation that says nothing", func(e *encountersv1.MtmEncounter) { e.Recommendations[0].Text = "" }, "recommendations[0].text", "REQUIRED"},
		{"too many problems", func(e *encountersv1.MtmEncounter) {
			for i := range MaxProblems {
				e.Problems = append(e.Problems, &encountersv1.MedicationProblem{ProblemId: fmt.Sprint("p", i), Code: "697958005"})
			}
		}, "problems", "TOO_MANY"},
	} {
		e := enc()
		tt.mutate(e)
		_, v := Encounter(e, rules)
		if len(v) != 1 || v[0].Field != tt.field || v[0].Reason != tt.reason {
			t.Errorf("%s: %+v, want %s %s", tt.name, v, tt.field, tt.reason)
		}
	}
}
