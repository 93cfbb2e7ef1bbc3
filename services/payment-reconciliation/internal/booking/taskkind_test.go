package booking

import (
	"testing"

	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
)

// Fees read the encounter's task_kind; an encounter stored before the field
// existed (a ledger rebuild replays it) names the kind only in its task id.
func TestTheKindOfAnEncountersTaskIsItsFieldOrForOlderEventsItsTaskID(t *testing.T) {
	tests := []struct {
		name string
		e    *encountersv1.MtmEncounter
		want string
	}{
		{"the field", &encountersv1.MtmEncounter{TaskKind: "CMR"}, "CMR"},
		{"an older event: the id", &encountersv1.MtmEncounter{TaskId: "task/M1/TMR/2024-Q2"}, "TMR"},
		{"the field wins", &encountersv1.MtmEncounter{TaskKind: "CMR", TaskId: "task/M1/TMR/2024-Q2"}, "CMR"},
		{"no task", &encountersv1.MtmEncounter{}, ""},
	}
	for _, tt := range tests {
		if got := taskKind(tt.e); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
