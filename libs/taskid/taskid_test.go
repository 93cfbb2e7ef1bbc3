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

func TestATaskIdNamesItsMember(t *testing.T) {
	tests := []struct{ id, want string }{
		{ID("M1", "CMR", "2024"), "M1"},
		{ID("synthea/abc/1", "TMR", "2024-Q2"), "synthea/abc/1"},
		{ID("M1", "FOLLOW_UP", "Eenc/1"), "M1"},
		{"task/M1/NOTAKIND/2024", ""},
		{"task/M1", ""},
		{"other/M1/CMR/2024", ""},
	}
	for _, tt := range tests {
		if got := Member(tt.id); got != tt.want {
			t.Errorf("Member(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
