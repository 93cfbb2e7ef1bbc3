package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
)

func sample(t *testing.T) Plan {
	t.Helper()
	ps, err := Sample()
	if err != nil {
		t.Fatalf("the sample program is invalid: %v", err)
	}
	return ps.For("S9925", "001")
}

func kinds(specs []Spec) string {
	var k []string
	for _, s := range specs {
		k = append(k, s.Kind+"@"+s.Period+"/"+s.Due.String())
	}
	return strings.Join(k, " ")
}

func TestForAssessment(t *testing.T) {
	p := sample(t)
	on := civil.Date{Year: 2024, Month: time.February, Day: 10}
	tests := []struct {
		tier        string
		nonAdherent []string
		want        string
	}{
		// CMR within 60 days of the assessment placing the beneficiary in the tier; TMR by the quarter's end.
		{"HIGH", nil, "CMR@2024/2024-04-10 TMR@2024-Q1/2024-03-31"},
		{"HIGH", []string{"STATIN"}, "CMR@2024/2024-04-10 TMR@2024-Q1/2024-03-31 ADHERENCE_OUTREACH@2024-02/2024-02-24"},
		{"MODERATE", nil, "TMR@2024-Q1/2024-03-31"},
		{"LOW", nil, ""},
		{"LOW", []string{"RASA"}, "ADHERENCE_OUTREACH@2024-02/2024-03-11"},
	}
	for _, tt := range tests {
		if got := kinds(p.ForAssessment(tt.tier, on, tt.nonAdherent)); got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.tier, tt.nonAdherent, got, tt.want)
		}
	}
	cmr := p.ForAssessment("HIGH", on, nil)[0]
	if cmr.Expires.String() != "2024-12-31" || cmr.Priority != 90 || cmr.Reason == "" {
		t.Errorf("CMR %+v: an annual CMR stays open to the year's end", cmr)
	}
	if q4 := p.ForAssessment("MODERATE", civil.Date{Year: 2024, Month: 12, Day: 31}, nil)[0]; q4.Period != "2024-Q4" || q4.Due.String() != "2024-12-31" || q4.Expires.String() != "2025-01-30" {
		t.Errorf("Q4 %+v", q4)
	}
}

func TestForDischargeAndFollowUp(t *testing.T) {
	p := sample(t)
	d := civil.Date{Year: 2024, Month: 5, Day: 10}
	if s, ok := p.ForDischarge("HIGH", d); !ok || s.Due.String() != "2024-05-17" || s.Period != "D2024-05-10" || s.Priority != 100 {
		t.Errorf("HIGH discharge: %+v %v", s, ok)
	}
	if _, ok := p.ForDischarge("LOW", d); ok {
		t.Error("LOW has no post-discharge reconciliation in the sample")
	}
	if s := p.ForFollowUp(d, "E1", 2); s.Due.String() != "2024-06-09" || s.Kind != FollowUp || s.ScheduledOn.String() != "2024-05-11" {
		t.Errorf("follow-up %+v", s)
	}
	if s := p.ForCMRSummary(d, "E1"); s.Due.String() != "2024-05-24" || s.Kind != CMRSummary || s.ScheduledOn != d || s.Period != "EE1" || s.Priority != 85 {
		t.Errorf("CMR summary %+v: want from the CMR to 14 days after it", s)
	}
	// A program written before the summary task gets CMS's 14 days.
	old, err := Parse("old.yaml", []byte(strings.Replace(SampleYAML(), "  cmr_summary: {due_days: 14, priority: 85}\n", "", 1)))
	if err != nil || old.For("S9925", "001").CMRSummary != (FollowUpRule{DueDays: 14, Priority: 85}) {
		t.Errorf("a program without cmr_summary: %v", err)
	}
	// A program that names no pharmacist minutes, or some, gets emtm's estimates for the rest.
	none, err := Parse("old.yaml", []byte(strings.Replace(SampleYAML(),
		"pharmacist_minutes: {CMR: 45, TMR: 20, POST_DISCHARGE: 30, ADHERENCE_OUTREACH: 10, FOLLOW_UP: 15, CMR_SUMMARY: 10}", "pharmacist_minutes: {CMR: 50}", 1)))
	if err != nil || none.For("S9925", "001").PharmacistMinutes["CMR"] != 50 || len(none.For("S9925", "001").PharmacistMinutes) != len(Kinds) {
		t.Errorf("a program's own CMR minutes: %v %v", err, none.For("S9925", "001").PharmacistMinutes)
	}
	if got := strings.Join(p.KindsCompletedBy("430193006"), ","); got != "TMR,POST_DISCHARGE,FOLLOW_UP" {
		t.Errorf("medication reconciliation completes %s", got)
	}
}

func TestProgramFileErrorsNameLineAndField(t *testing.T) {
	base := string(sampleYAML)
	tests := []struct{ name, from, to, want string }{
		{"CMR later than 60 days", "{kind: CMR, due_days: 60, priority: 90}", "{kind: CMR, due_days: 75, priority: 90}", ":12: default.tiers.HIGH.0: intervention 1 (CMR): due_days 75: a CMR is offered within 60 days"},
		{"TMR less than quarterly", "{kind: TMR, every: quarter, priority: 70}", "{kind: TMR, every: year, priority: 70}", "CMS requires TMRs at least quarterly"},
		{"slow post-discharge for HIGH", "{kind: POST_DISCHARGE, due_days: 7, priority: 100}", "{kind: POST_DISCHARGE, due_days: 10, priority: 100}", "within 7 days of discharge"},
		{"unknown tier", "    LOW:\n", "    MINIMAL:\n", "default.tiers.MINIMAL: unknown tier"},
		{"unknown kind", "{kind: ADHERENCE_OUTREACH, due_days: 30, priority: 20}", "{kind: WELLNESS, due_days: 30, priority: 20}", "unknown kind"},
		{"priority out of range", "priority: 20}", "priority: 120}", "priority 120 must be 0..100"},
		{"zero capacity", "CMR: 40,", "CMR: 0,", "default.weekly_capacity.CMR"},
		{"bad dispatch", "dispatch: grpc", "dispatch: carrier-pigeon", "default.dispatch"},
		{"bad completion code", `CMR: ["314530002"]`, `CMR: ["314530003"]`, "default.completed_by_codes.CMR: SNOMED CT code 314530003 fails its Verhoeff check digit"},
		{"unknown field", "grace_days: 30", "grace_days: 30\n  grace_weeks: 4", "field grace_weeks not found"},
		{"summary later than 14 days", "cmr_summary: {due_days: 14", "cmr_summary: {due_days: 21", "default.cmr_summary: due_days must be 1..14 (CMS: the written summary is sent within 14 days of the CMR)"},
		{"no pharmacist minutes", "pharmacist_minutes: {CMR: 45,", "pharmacist_minutes: {CMR: 0,", "default.pharmacist_minutes.CMR: a known kind and 1..480 minutes"},
		{"pharmacist minutes of no kind", "pharmacist_minutes: {CMR: 45,", "pharmacist_minutes: {WELLNESS: 30, CMR: 45,", "default.pharmacist_minutes.WELLNESS: a known kind"},
		{"summary as a tier's intervention", "{kind: ADHERENCE_OUTREACH, due_days: 30, priority: 20}", "{kind: CMR_SUMMARY, due_days: 14, priority: 20}", "a CMR's written summary is scheduled by cmr_summary, after the CMR"},
	}
	for _, tt := range tests {
		if !strings.Contains(base, tt.from) {
			t.Fatalf("%s: the sample has no %q", tt.name, tt.from)
		}
		_, err := Parse("program.yaml", []byte(strings.Replace(base, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParse: any bytes give a program or an error naming the file, never a
// panic; an accepted program schedules every tier without going back in time.
func FuzzParse(f *testing.F) {
	f.Add([]byte(SampleYAML()))
	f.Add([]byte(strings.Replace(SampleYAML(), "every: quarter", "every: month", 1)))
	f.Add([]byte("version: 1\ndefault: {tiers: {HIGH: [{kind: CMR, due_days: 60, priority: 90}]}}\n"))
	f.Add([]byte("version: 1\nplans: {S9925-001: {lease_minutes: -1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		p := ps.For("S9925", "001")
		on := civil.Date{Year: 2024, Month: 2, Day: 29}
		for _, tier := range []string{"HIGH", "MODERATE", "LOW"} {
			for _, s := range p.ForAssessment(tier, on, []string{"STATIN"}) {
				if s.Due.Before(on) || s.Expires.Before(s.Due) {
					t.Fatalf("%s %s: due %s, expires %s, assessed %s", tier, s.Kind, s.Due, s.Expires, on)
				}
			}
		}
	})
}
