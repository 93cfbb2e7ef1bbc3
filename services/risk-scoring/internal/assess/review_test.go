package assess

import (
	"testing"

	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

func TestAnEncounterIsKeptAsACMROnlyWhenItCompletedACMR(t *testing.T) {
	completed := encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED
	for _, c := range []struct {
		name    string
		kind    string
		codes   []string
		outcome encountersv1.EncounterOutcome
		want    bool
	}{
		{"a CMR named by its task", "CMR", []string{"430193006"}, completed, true},
		{"a medication review that names no kind", "", []string{MedicationReviewDone}, completed, true},
		{"a TMR, though its code is a medication review's", "TMR", []string{MedicationReviewDone}, completed, false},
		{"a reconciliation that names no kind", "", []string{"430193006"}, completed, false},
		{"a CMR offered, not done", "CMR", []string{MedicationReviewDone}, encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_OFFERED, false},
		{"a CMR declined", "CMR", []string{MedicationReviewDone}, encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &encountersv1.MtmEncounter{EncounterId: "E1", MemberId: "M1", TaskKind: c.kind, ServiceCodes: c.codes, Outcome: c.outcome,
				ServiceDate: &typesv1.Date{Year: 2024, Month: 3, Day: 1}, DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_VIDEO,
				Problems:        []*encountersv1.MedicationProblem{{ProblemId: "p1", Code: "697958005"}, {ProblemId: "p2", Resolved: true}},
				Recommendations: []*encountersv1.Recommendation{{PrescriberNpi: "1003000126", ProblemId: "p1", Text: "once daily"}}}
			r, ok := reviewOf(e)
			if ok != c.want {
				t.Fatalf("kept %v, want %v", ok, c.want)
			}
			if ok && (r.Date != "2024-03-01" || r.Mode != "VIDEO" || len(r.Problems) != 2 || len(r.Problems[0].Asked) != 1 || len(r.Problems[1].Asked) != 0 || !r.Problems[1].Resolved) {
				t.Fatalf("review %+v: want the date, the mode, both problems and the ask on the first", r)
			}
		})
	}
}
