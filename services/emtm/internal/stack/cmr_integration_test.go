package stack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

// A CMR completed by a pharmacy is written up in CMS's Standardized Format
// from the encounter and the member's claims, with the plan policy's words,
// and a task tracks sending it within 14 days.
func TestACompletedCMRIsWrittenUpInTheStandardizedFormatAndItsSendingIsTracked(t *testing.T) {
	t.Parallel()
	// The sample program, with a CMR for MODERATE members too (the test's member scores 3).
	program, err := os.ReadFile("../../../intervention-scheduling/internal/policy/program.yaml")
	if err != nil {
		t.Fatal(err)
	}
	moderate := strings.Replace(string(program), "    MODERATE:\n", "    MODERATE:\n      - {kind: CMR, due_days: 60, priority: 90}\n", 1)
	path := filepath.Join(t.TempDir(), "program.yaml")
	if err := os.WriteFile(path, []byte(moderate), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEnvWith(t, map[string][]string{"intervention-scheduling": {"-clock", "events", "-policy", path}})
	ctx := context.Background()
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	statin, combo := testClaim(), testClaim()
	statin.ClaimId, statin.Ingredients, statin.RxnormCode, statin.DrugDescription = "RX-1002", []string{"atorvastatin"}, "617310", "atorvastatin 20 MG Oral Tablet"
	statin.DaysSupply, statin.DateOfService = 90, &typesv1.Date{Year: 2024, Month: 1, Day: 20}
	combo.ClaimId, combo.Ingredients, combo.RxnormCode, combo.DrugDescription = "RX-1003", []string{"lisinopril", "hydrochlorothiazide"}, "197886", "lisinopril 20 MG / hydrochlorothiazide 12.5 MG Oral Tablet"
	combo.DateOfService = &typesv1.Date{Year: 2024, Month: 1, Day: 22}
	for _, c := range []*claimsv1.PharmacyClaim{testClaim(), statin, combo} {
		if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: c}); err != nil {
			t.Fatal(err)
		}
	}
	e.idle(t)
	cmr := testEncounter()
	cmr.EncounterId, cmr.TaskKind, cmr.ServiceCodes = "ENC-CMR-1", "CMR", []string{"314530002"}
	cmr.ServiceDate = &typesv1.Date{Year: 2024, Month: 2, Day: 1}
	cmr.Problems = []*encountersv1.MedicationProblem{{ProblemId: "p1", Code: "697958005", Description: "Forgets the evening dose"},
		{ProblemId: "p2", Code: "14760008", Description: "Constipation, better with more water and fiber", Resolved: true}}
	cmr.Recommendations = []*encountersv1.Recommendation{{PrescriberNpi: prescriber, ProblemId: "p1", Text: "Change glyburide to glipizide once daily"}}
	if _, err := ing.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: cmr}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)

	// The task: from the CMR's date, due 14 days after it.
	sched := schedulingv1.NewInterventionSchedulingServiceClient(e.conns["intervention-scheduling"])
	ts, err := sched.ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: "M-0001", Kind: schedulingv1.TaskKind_TASK_KIND_CMR_SUMMARY})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Tasks) != 1 || civil.FromProto(ts.Tasks[0].DueDate).String() != "2024-02-15" || !strings.Contains(ts.Tasks[0].Reason, "ENC-CMR-1") {
		t.Fatalf("summary tasks %v, want one due 2024-02-15", ts.Tasks)
	}

	risk := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"])
	got, err := risk.GetCmrSummary(ctx, &riskv1.GetCmrSummaryRequest{EncounterId: "ENC-CMR-1", PreparedOn: &typesv1.Date{Year: 2024, Month: 2, Day: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if got.MemberId != "M-0001" || civil.FromProto(got.SendBy).String() != "2024-02-15" || got.Topics != 2 || got.Medications != 3 || got.PdfPages < 3 {
		t.Fatalf("summary: member %s send by %v, %d topics, %d medications, %d pages", got.MemberId, got.SendBy, got.Topics, got.Medications, got.PdfPages)
	}
	for _, want := range []string{"Glyburide", "Sample Region 25 PDP", "(555) 010-0100", "date of birth 06/01/1950", "Change glyburide to glipizide once daily",
		"February 1, 2024 by phone", "Personal Medication List for Member ID M-0001"} {
		inPDF := strings.NewReplacer("(", `\(`, ")", `\)`).Replace(want) // a PDF string escapes its parentheses
		if !bytes.Contains(got.Html, []byte(want)) || !bytes.Contains(got.Pdf, []byte(inPDF)) {
			t.Errorf("the summary (HTML and PDF) lacks %q", want)
		}
	}

	// make cmr-pages: the PDF of docs/cmr/, rendered to PNG there.
	if dir := os.Getenv("EMTM_CMR_DIR"); dir != "" {
		for name, b := range map[string][]byte{"summary.pdf": got.Pdf, "summary.html": got.Html} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A TMR has no written summary; nor has an encounter of another sponsor's member.
	tmr := testEncounter() // ENC-1: a reconciliation, no kind named
	if _, err := ing.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: tmr}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	for _, req := range []*riskv1.GetCmrSummaryRequest{{EncounterId: "ENC-1"}, {EncounterId: "NO-SUCH"}} {
		if _, err := risk.GetCmrSummary(ctx, req); status.Code(err) != codes.NotFound {
			t.Errorf("summary of %s: %v, want NotFound", req.EncounterId, err)
		}
	}
	for _, req := range []*riskv1.GetCmrSummaryRequest{{}, {EncounterId: "ENC-CMR-1", PreparedOn: &typesv1.Date{Year: 2024, Month: 1, Day: 31}},
		{EncounterId: "ENC-CMR-1", PreparedOn: &typesv1.Date{Year: 2024, Month: 2, Day: 30}}} {
		if _, err := risk.GetCmrSummary(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("summary of %v: %v, want InvalidArgument", req, err)
		}
	}
}
