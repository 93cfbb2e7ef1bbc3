package taskid

import "testing"

func TestATaskIdNamesItsKind(t *testing.T) {
	for id, want := range map[string]string{
		ID("M1", "CMR", "2024"):                       "CMR",
		ID("M-1", "POST_DISCHARGE", "D2024-01-02"):    "POST_DISCHARGE",
		ID("M1", "FOLLOW_UP", "Eenc/1"):               "FOLLOW_UP",
		ID("org/M1", "TMR", "2024-Q2"):                "TMR", // a member id with a slash
		ID("M1", "ADHERENCE_OUTREACH", "2024-STATIN"): "ADHERENCE_OUTREACH",
		"":                         "",
		"x/y":                      "",
		"task/M1/XYZ/2024":         "",
		"task/M1/cmr/2024":         "", // ids are written in upper case
		"task/M1/UNSPECIFIED/2024": "",
		"task/M1/CMR":              "", // no period
		"tasks/M1/CMR/2024":        "",
	} {
		if got := Kind(id); got != want {
			t.Errorf("Kind(%q) = %q, want %q", id, got, want)
		}
	}
}
