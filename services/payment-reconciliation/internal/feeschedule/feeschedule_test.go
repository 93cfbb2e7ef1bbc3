package feeschedule

import (
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func day(s string) civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestLookup(t *testing.T) {
	s := New([]Rule{
		{Service: "MEDREVIEW", Codes: []string{"314530002"}, FeeCents: 4500, From: day("2017-01-01")},
		{Service: "CMR", Codes: []string{"314530002"}, TaskKind: "CMR", FeeCents: 7500, From: day("2017-01-01")},
		{Service: "CMR", Codes: []string{"314530002"}, TaskKind: "CMR", FeeCents: 8000, From: day("2020-01-01")},
		{Service: "TMR", Codes: []string{"314530002"}, TaskKind: "TMR", FeeCents: 5000, From: day("2021-01-01")},
		{Service: "PRESCRIBER_ACCEPTED", Outcome: OutcomePrescriberAccepted, FeeCents: 2500, From: day("2017-01-01")},
	})
	for _, tt := range []struct {
		code, kind, on, want string
		cents                int64
	}{
		{"314530002", "", "2018-05-01", "fee:MEDREVIEW:2017-01-01", 4500},
		{"314530002", "CMR", "2018-05-01", "fee:CMR:2017-01-01", 7500},
		{"314530002", "CMR", "2020-01-01", "fee:CMR:2020-01-01", 8000}, // the later rule from its first day
		{"314530002", "CMR", "2019-12-31", "fee:CMR:2017-01-01", 7500},
		{"314530002", "TMR", "2020-06-01", "fee:MEDREVIEW:2017-01-01", 4500}, // TMR rule not yet in effect: the general one
		{"314530002", "TMR", "2021-06-01", "fee:TMR:2021-01-01", 5000},
		{"314530002", "FOLLOW_UP", "2021-06-01", "fee:MEDREVIEW:2017-01-01", 4500},
		{"314530002", "", "2016-12-31", "", 0}, // before any rule
		{"430193006", "", "2021-06-01", "", 0}, // no rule for the code
	} {
		r, ok := s.ForService(tt.code, tt.kind, day(tt.on))
		if ok != (tt.want != "") || r.Name() != tt.want && ok || r.FeeCents != tt.cents {
			t.Errorf("%s %s on %s: %s %d (%v), want %s %d", tt.code, tt.kind, tt.on, r.Name(), r.FeeCents, ok, tt.want, tt.cents)
		}
	}
	if r, ok := s.ForOutcome(OutcomePrescriberAccepted, day("2019-02-01")); !ok || r.FeeCents != 2500 {
		t.Errorf("outcome: %+v %v", r, ok)
	}
	if _, ok := s.ForOutcome(OutcomePrescriberAccepted, day("2016-02-01")); ok {
		t.Errorf("outcome before its rule")
	}
}
