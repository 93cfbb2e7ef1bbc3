package stack

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/careplan"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/testkit"
)

// flowCarePlan is a Pharmacist eCare Plan of M-0001 (libs/careplan/testdata):
// a medication review, an open problem recommended to the prescriber, a
// resolved one.
func flowCarePlan(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../../libs/careplan/testdata/careplan-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// publishCarePlan publishes a care plan as the pharmacy does, on
// emtm.raw.pharmacy.<npi>.careplan, in a trace of its own; it returns the trace id.
func (e *env) publishCarePlan(t *testing.T, doc, msgID string) string {
	t.Helper()
	ctx, root := e.tel.Tracer("e2e").Start(context.Background(), "pharmacy publishes a care plan")
	defer root.End()
	hdr := nats.Header{}
	hdr.Set(bus.HeaderContentType, bus.ContentFHIRJSON)
	if _, err := bus.NewPublisher(e.js, e.tel, "pharmacy").Publish(ctx, bus.Out{Subject: bus.RawPharmacySubject(pharmacy, bus.KindCarePlan),
		MsgID: msgID, Data: []byte(doc), Header: hdr}); err != nil {
		t.Fatal(err)
	}
	return root.SpanContext().TraceID().String()
}

func TestACarePlanFlowsToRiskOutreachAndPaymentInOneTrace(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	if _, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: testClaim()}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	trace := e.publishCarePlan(t, flowCarePlan(t), "careplan-v1")
	e.idle(t)

	// The encounter it records, with its problems and the recommendation.
	encs := testkit.Decode(t, e.js, bus.StreamEncounters, func() *encountersv1.MtmEncounter { return &encountersv1.MtmEncounter{} })
	if len(encs) != 1 || encs[0].EncounterId != "CP-M-0001-2024-02-10" || len(encs[0].Problems) != 2 || len(encs[0].Recommendations) != 1 ||
		encs[0].Meta.TraceId != trace {
		t.Fatalf("encounters %v", encs)
	}
	// Risk keeps the problems: the open one is a problem of the assessment, scored and explained
	// (BEERS 1 + the pharmacist's problem 2; as of the care plan's date the projected cost is under the threshold).
	asmts := testkit.Decode(t, e.js, bus.StreamAssessments, func() *riskv1.RiskAssessment { return &riskv1.RiskAssessment{} })
	last := asmts[len(asmts)-1]
	var phcp *riskv1.DrugTherapyProblem
	for _, p := range last.Problems {
		if p.Key == careplan.Key("mrp-1") {
			phcp = p
		}
	}
	factor := false
	for _, f := range last.Factors {
		factor = factor || f.Code == "PROBLEM_PHARMACIST"
	}
	if phcp == nil || phcp.Code != "PHARMACIST" || len(phcp.PrescriberNpis) != 1 || phcp.PrescriberNpis[0] != prescriber ||
		!strings.Contains(phcp.Recommendation, "glipizide") || !factor || last.Score != 3 || last.Meta.TraceId != trace {
		t.Fatalf("the last assessment (score %d, trace %s): problems %v factors %v", last.Score, last.Meta.TraceId, last.Problems, last.Factors)
	}
	for _, p := range last.Problems {
		if p.Key == careplan.Key("mrp-2") {
			t.Fatalf("a resolved problem is raised: %v", p)
		}
	}
	prof, err := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"]).GetProfile(context.Background(), &riskv1.GetProfileRequest{MemberId: "M-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(prof.String(), "PHARMACIST"); n == 0 {
		t.Fatalf("the profile does not show the pharmacist's problem: %v", prof)
	}
	// The member's care plan, written back as a PhCP Bundle, reads as what the pharmacy sent.
	cp, err := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"]).GetCarePlan(context.Background(), &riskv1.GetCarePlanRequest{MemberId: "M-0001"})
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := careplan.Read([]byte(flowCarePlan(t)))
	back, vs := careplan.Read(cp.Bundle)
	if len(vs) != 0 || cp.ContentType != bus.ContentFHIRJSON || back.MemberID != "M-0001" || back.Contract != "S9925" || len(back.Problems) != 2 ||
		len(back.Recommendations) != 1 || back.Recommendations[0].Code.Code != sent.Recommendations[0].Code.Code ||
		back.Recommendations[0].Text != sent.Recommendations[0].Text || back.Recommendations[0].PrescriberNPI != prescriber || back.Problems[0].Text != sent.Problems[0].Text ||
		back.Problems[1].Resolved != sent.Problems[1].Resolved || back.Problems[0].Onset != sent.Problems[0].Onset {
		t.Fatalf("the care plan written back: %+v %v\n%s", back, vs, cp.Bundle)
	}
	// Outreach: an item for the prescriber, in the care plan's trace, batched into a letter.
	out := outreachv1.NewPrescriberOutreachServiceClient(e.conns["prescriber-outreach"])
	items, err := out.ListOutreach(context.Background(), &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
	if err != nil {
		t.Fatal(err)
	}
	var item *outreachv1.OutreachItem
	for _, it := range items.Items {
		if it.ProblemKey == careplan.Key("mrp-1") {
			item = it
		}
	}
	if item == nil || item.ProblemCode != "PHARMACIST" || item.Meta.TraceId != trace {
		t.Fatalf("outreach %v", items.Items)
	}
	if _, err := out.Sweep(context.Background(), &outreachv1.SweepRequest{}); err != nil {
		t.Fatal(err)
	}
	comms, err := out.ListCommunications(context.Background(), &outreachv1.ListCommunicationsRequest{PrescriberNpi: prescriber})
	if err != nil {
		t.Fatal(err)
	}
	lettered := false
	for _, c := range comms.Communications {
		for _, it := range c.Items {
			lettered = lettered || it.ItemId == item.ItemId
		}
		lettered = lettered && strings.Contains(c.Text, "glipizide")
	}
	if !lettered {
		t.Fatalf("no letter carries the recommendation: %v", comms.Communications)
	}

	// The next version of the care plan records the prescriber's answer: accepted, paid.
	answer := `{"fullUrl": "urn:uuid:6f1c0d2e-0001-4000-8000-000000000015", "resource": {"resourceType": "Communication", "id": "ans-1", "status": "completed",
	  "subject": {"reference": "Patient/pt-1"}, "sender": {"reference": "Practitioner/md-1"}, "about": [{"reference": "Condition/mrp-1"}],
	  "reasonCode": [{"coding": [{"system": "` + careplan.ResponseSystem + `", "code": "accepted"}]}],
	  "payload": [{"contentString": "Switched to glipizide 5 mg each morning."}]}},`
	v2 := strings.Replace(flowCarePlan(t), `"entry": [`, `"entry": [`+answer, 1)
	v2 = strings.ReplaceAll(v2, "CP-M-0001-2024-02-10", "CP-M-0001-2024-03-01")
	v2 = strings.ReplaceAll(v2, "2024-02-10", "2024-03-01")
	trace2 := e.publishCarePlan(t, v2, "careplan-v2")
	e.idle(t)
	items, err = out.ListOutreach(context.Background(), &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items.Items {
		if it.ItemId == item.ItemId {
			item = it
		}
	}
	if item.Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED || item.RespondedPharmacyNpi != pharmacy || item.RespondedBy != "encounter CP-M-0001-2024-03-01" {
		t.Fatalf("the answered item %v", item)
	}
	entries, err := ledgerv1.NewPaymentReconciliationServiceClient(e.conns["payment-reconciliation"]).ListLedgerEntries(context.Background(),
		&ledgerv1.ListLedgerEntriesRequest{EntryIds: []string{"le/accepted/" + item.ItemId}})
	if err != nil || len(entries.Entries) != 1 || entries.Entries[0].Service != "PRESCRIBER_ACCEPTED" || entries.Entries[0].Meta.TraceId != trace2 {
		t.Fatalf("the acceptance fee: %v %v", entries, err)
	}
}

func TestACarePlanThatCannotBeUsedIsRejectedAtItsFHIRPaths(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	noPlan := strings.Replace(flowCarePlan(t), `"value": "S9925-001"`, `"value": ""`, 1)
	noPlan = strings.Replace(noPlan, `"code": "697958005"`, `"code": "697958006"`, 1) // a SNOMED CT check digit that fails
	e.publishCarePlan(t, noPlan, "careplan-bad")
	e.idle(t)
	rejs := testkit.Decode(t, e.js, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	if len(rejs) != 1 || rejs[0].Kind != bus.KindCarePlan {
		t.Fatalf("rejections %v", rejs)
	}
	var fields []string
	for _, v := range rejs[0].Violations {
		fields = append(fields, v.Field)
	}
	if got := strings.Join(fields, ","); got != "Coverage.class" {
		t.Fatalf("violations at %s: %v", got, rejs[0].Violations)
	}
	// With the plan restored, ingestion's own checks name the FHIR element too.
	badCode := strings.Replace(flowCarePlan(t), `"code": "697958005"`, `"code": "697958006"`, 1)
	e.publishCarePlan(t, badCode, "careplan-bad-code")
	e.idle(t)
	rejs = testkit.Decode(t, e.js, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	if len(rejs) != 2 || len(rejs[1].Violations) != 1 || rejs[1].Violations[0].Field != "Condition[0].code" || rejs[1].ContentType != bus.ContentFHIRJSON {
		t.Fatalf("rejections %v", rejs)
	}
	// Over gRPC: the same reading, the same answer.
	_, err := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"]).SubmitCarePlan(context.Background(), &ingestionv1.SubmitCarePlanRequest{Bundle: []byte(badCode)})
	if err == nil || !strings.Contains(err.Error(), "the first: Condition[0].code: SNOMED CT code 697958006") {
		t.Fatalf("gRPC: %v", err)
	}
}
